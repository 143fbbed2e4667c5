"""Operator commands: ``aragora-redis failover`` and ``aragora-redis health``.

Both read the deployment from ARAGORA_REDIS_* (``--env-file``, default ``.env``,
else the process environment) and never print a secret.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..failover import PlannedFailover
from ..health import health
from ..settings import RedisSettings
from .envfile import read_env_file


def register(groups: Any) -> None:
    """Add ``failover`` and ``health``."""
    p = groups.add_parser("failover", help="planned Sentinel failover that loses no write")
    env_option(p)
    p.add_argument("--pause-ms", type=int, default=5000, help="longest write pause (default 5000)")
    p.set_defaults(run=run_failover)
    h = groups.add_parser("health", help="role, replicas, memory and latency of the master(s)")
    env_option(h)
    h.set_defaults(run=run_health)


def env_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--env-file`` (read by :func:`settings_from`)."""
    parser.add_argument(
        "--env-file",
        default=".env",
        help="ARAGORA_REDIS_* file (default .env; the process environment when missing)",
    )


def settings_from(args: argparse.Namespace) -> RedisSettings:
    """The settings named by ``--env-file`` (or the environment when the file is absent)."""
    path = Path(args.env_file)
    return RedisSettings.from_env(read_env_file(path) if path.is_file() else dict(os.environ))


def run_failover(args: argparse.Namespace, console: Console) -> int:
    """Run the planned failover and print its timings."""
    settings = settings_from(args)
    procedure = PlannedFailover(settings, say=lambda m: console.log(m), pause_ms=args.pause_ms)
    try:
        report = procedure.run()
    finally:
        procedure.close()
    old, new = report.old_master, report.new_master
    console.print(
        f"master {old[0]}:{old[1]} -> {f'{new[0]}:{new[1]}' if new else '?'} "
        f"promoted after {report.promoted_s:.3f} s "
        f"(writes paused {report.paused_s:.3f} s in, replicas caught up at "
        f"{report.caught_up_s:.3f} s); re-pointed {len(report.repointed)} node(s)"
    )
    return 0


def run_health(args: argparse.Namespace, console: Console) -> int:
    """Print the health table; exit 1 unless every node is a master."""
    settings = settings_from(args)
    report = health(settings)
    table = Table(title=f"health of {settings.describe()}")
    table.add_column("node", no_wrap=True)
    for column in ("engine", "role", "replicas", "link", "used memory", "% of max", "latency"):
        table.add_column(column)
    for n in report.nodes:
        pct = f"{n.used_memory_pct:.1f}" if n.used_memory_pct is not None else "-"
        table.add_row(
            n.address,
            f"{n.engine} {n.version}",
            n.role,
            str(n.connected_replicas),
            n.master_link_status or "-",
            f"{n.used_memory / 1e6:.1f} MB",
            pct,
            f"{n.latency_ms:.2f} ms",
        )
    console.print(table)
    return 0 if report.ok else 1
