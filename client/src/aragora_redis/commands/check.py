"""``aragora-redis check``: the monitoring checks of a deployment, as a table or JSON.

Reads ARAGORA_REDIS_* like ``health`` (``--env-file``, default ``.env``, else the
process environment). Exit status: 0 when every check passes (warnings allowed),
1 when one fails, 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..checks import Thresholds, evaluate, exit_code, report_json
from ..errors import ConfigError
from ..health import deployment_facts
from .ops import env_option, settings_from

USAGE_ERROR = 2
_COLOURS = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def register(groups: Any) -> None:
    """Add ``check``."""
    p = groups.add_parser(
        "check",
        help="role, replicas, links, memory, latency and Sentinels; exit 1 when a check fails",
    )
    env_option(p)
    d = Thresholds()
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.add_argument(
        "--timeout", type=float, default=2.0, help="seconds per connect and reply (default 2)"
    )
    p.add_argument(
        "--min-replicas", type=int, default=d.min_replicas, help="connected replicas (default 1)"
    )
    p.add_argument(
        "--latency-warn-ms", type=float, default=d.latency_warn_ms, help="default %(default)s"
    )
    p.add_argument(
        "--latency-fail-ms", type=float, default=d.latency_fail_ms, help="default %(default)s"
    )
    p.add_argument(
        "--memory-warn-pct", type=float, default=d.memory_warn_pct, help="default %(default)s"
    )
    p.add_argument(
        "--memory-fail-pct", type=float, default=d.memory_fail_pct, help="default %(default)s"
    )
    p.set_defaults(run=run_check)


def thresholds_from(args: argparse.Namespace) -> Thresholds:
    """The thresholds given on the command line; refuses ones that cannot be met."""
    t = Thresholds(
        min_replicas=args.min_replicas,
        memory_warn_pct=args.memory_warn_pct,
        memory_fail_pct=args.memory_fail_pct,
        latency_warn_ms=args.latency_warn_ms,
        latency_fail_ms=args.latency_fail_ms,
    )
    if t.min_replicas < 0:
        raise ConfigError("--min-replicas", f"got {t.min_replicas}, expected 0 or more")
    if not 0 < t.memory_warn_pct <= t.memory_fail_pct:
        raise ConfigError(
            "--memory-warn-pct",
            f"got {t.memory_warn_pct:g}, expected above 0 and at most --memory-fail-pct "
            f"({t.memory_fail_pct:g})",
        )
    if not 0 < t.latency_warn_ms <= t.latency_fail_ms:
        raise ConfigError(
            "--latency-warn-ms",
            f"got {t.latency_warn_ms:g}, expected above 0 and at most --latency-fail-ms "
            f"({t.latency_fail_ms:g})",
        )
    if not args.timeout > 0:
        raise ConfigError("--timeout", f"got {args.timeout:g}, expected seconds above 0")
    return t


def run_check(args: argparse.Namespace, console: Console) -> int:
    """Gather the facts, evaluate them, print; 0 ok, 1 a check failed, 2 bad settings."""
    try:
        settings = settings_from(args)
        limits = thresholds_from(args)
    except ConfigError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        return USAGE_ERROR
    facts = deployment_facts(settings, timeout=args.timeout)
    results = evaluate(facts, limits)
    if args.json:
        sys.stdout.write(json.dumps(report_json(facts, results), indent=2) + "\n")
        return exit_code(results)
    table = Table(title=f"check of {facts.target}")
    for column in ("check", "target", "status", "value", "expected"):
        table.add_column(column, no_wrap=column in ("check", "target", "status"))
    for r in results:
        status = f"[{_COLOURS[r.status]}]{r.status}[/]"
        table.add_row(r.check, escape(r.target), status, escape(r.value), escape(r.expected))
    console.print(table)
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    verdict = "[bold red]FAIL[/]" if failed else "[green]OK[/]"
    console.print(f"{verdict}: {failed} failed, {warned} warnings, {len(results)} checks")
    return exit_code(results)
