"""``aragora-redis drill``: prove the client survives failovers, side by side with naive redis-py.

Against the local stack (``.local``, its ``.env``) it injects the faults itself;
with ``--trigger none`` it only observes any deployment described by
ARAGORA_REDIS_* while an operator triggers the provider's failover.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..drill import faults as f
from ..drill.netfaults import PARTITION_S
from ..drill.netobserve import NET_METRICS
from ..drill.record import METRICS, DrillRecord
from ..drill.run import Drill, DrillOptions
from ..errors import ConfigError
from ..local import LocalStack, netfault
from ..local.detector import DETECT_S
from .ops import env_option, settings_from


def register(groups: Any) -> None:
    """Add ``drill``."""
    p = groups.add_parser("drill", help="fail the Redis over while a workload runs; report losses")
    p.add_argument(
        "--faults",
        default="all",
        help=f"'all' or a comma list of: {', '.join(f.NAMES)} "
        f"(endpoint and cluster stacks: {', '.join(x.name for x in f.ENDPOINT_FAULTS)}); "
        f"named one by one on a stack up with --own-addresses, as root: "
        f"{', '.join(x.name for x in f.NETWORK_FAULTS)}",
    )
    p.add_argument(
        "--trigger",
        choices=("local", "none"),
        default="local",
        help="local: inject into the local stack; none: only observe (trigger it yourself)",
    )
    p.add_argument("--baseline", action="store_true", help="run a naive redis-py client beside")
    p.add_argument(
        "--url-only",
        action="store_true",
        help="also run a URL-only redis-py client (on by default when the local stack has HAProxy)",
    )
    p.add_argument("--dir", default=".local", help="local stack directory (default .local)")
    env_option(p)
    p.add_argument("--settle", type=float, default=6.0, help="seconds observed after each fault")
    p.add_argument(
        "--partition-s",
        type=float,
        default=PARTITION_S,
        help=f"seconds the partition faults hold (default {PARTITION_S:g})",
    )
    p.add_argument(
        "--detect-s",
        type=float,
        default=DETECT_S,
        help="endpoint stacks, network faults: seconds the primary may be silent before the "
        f"control plane promotes a replica (default {DETECT_S:g})",
    )
    p.add_argument(
        "--observe", type=float, default=30.0, help="seconds observed with --trigger none"
    )
    p.add_argument("--json", dest="json_path", help="write the record as JSON (- for stdout)")
    p.add_argument("--report", help="draw the timeline to FILE.html or FILE.png")
    p.set_defaults(run=run_drill)


#: Figures shown after METRICS when a fault has them.
EXTRA_METRICS = ("subscriber_recovery_s", "slowest_decision_ms", "limiter_errors", *NET_METRICS)


def _table(snapshot: dict[str, object]) -> Table:
    table = Table(title=f"drill: {snapshot['phase']}  (t={snapshot['t']} s)")
    for column in ("client", "acked writes", "caller errors"):
        table.add_column(column)
    for name in ("ours", "naive", "url_only"):
        if f"{name}_acks" in snapshot:
            table.add_row(name, str(snapshot[f"{name}_acks"]), str(snapshot[f"{name}_errors"]))
    table.caption = f"last Sentinel event: {snapshot['last_event'] or '-'}"
    return table


def results_table(record: DrillRecord) -> Table:
    """Per fault and metric: ours (and naive) side by side."""
    table = Table(title=f"failover drill against {record.target}")
    table.add_column("fault")
    table.add_column("metric")
    table.add_column("ours", justify="right")
    naive = any(r.naive is not None for r in record.faults)
    url_only = any(r.url_only is not None for r in record.faults)
    if naive:
        table.add_column("naive", justify="right")
    if url_only:
        table.add_column("url-only", justify="right")
    for result in record.faults:
        names = [m for m in (*METRICS, *EXTRA_METRICS) if m in result.ours]
        for i, metric in enumerate(names):
            row = [result.name if i == 0 else "", metric, _fmt(result.ours.get(metric))]
            if naive:
                row.append(_fmt((result.naive or {}).get(metric)))
            if url_only:
                row.append(_fmt((result.url_only or {}).get(metric)))
            table.add_row(*row, end_section=i == len(names) - 1)
    return table


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def run_drill(args: argparse.Namespace, console: Console) -> int:
    """Run the drill with live progress; print (and write) the results."""
    settings = settings_from(args)
    stack = None
    url_only = bool(args.url_only)
    choices: tuple[f.Fault, ...] = f.FAULTS
    extra: tuple[f.Fault, ...] = ()
    if args.trigger == "local":
        stack = LocalStack.load(Path(args.dir))
        if stack is None or not stack.running():
            raise ConfigError("--dir", f"no running local stack in {args.dir}: run make local")
        topology = stack.options.topology
        wanted = {"sentinel": "sentinel", "endpoint": "standalone", "cluster": "cluster"}
        if settings.mode != wanted.get(topology):
            raise ConfigError(
                "ARAGORA_REDIS_MODE",
                "the local drill needs the sentinel, endpoint or cluster topology",
            )
        url_only = url_only or (bool(stack.proxies) and topology == "sentinel")
        choices = f.faults_for(topology)
        extra = f.NETWORK_FAULTS if topology in ("sentinel", "cluster", "endpoint") else ()
    faults = tuple(f.parse_faults(args.faults, choices, extra))
    if any(fault in f.NETWORK_FAULTS for fault in faults):
        if why := netfault.unavailable():
            raise ConfigError("--faults", why)
        # The drill runs in a worker thread: SIGTERM must heal from the main one.
        netfault.heal_on_signals()
    options = DrillOptions(
        faults=faults,
        trigger=args.trigger,
        baseline=args.baseline,
        settle_s=args.settle,
        partition_s=args.partition_s,
        detect_s=args.detect_s,
        observe_s=args.observe,
        url_only=url_only,
    )
    drill = Drill(settings, options, stack, say=lambda line: console.log(line, highlight=False))
    done = threading.Event()
    outcome: dict[str, DrillRecord] = {}
    errors: list[BaseException] = []

    def work() -> None:
        try:
            outcome["record"] = drill.run()
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    with Live(_table(drill.snapshot()), console=console, refresh_per_second=4) as live:
        while not done.wait(0.25):
            live.update(_table(drill.snapshot()))
    if errors:
        raise errors[0]
    record = outcome["record"]
    console.print(results_table(record))
    if args.json_path == "-":
        sys.stdout.write(json.dumps(record.to_json(), indent=2) + "\n")
    elif args.json_path:
        Path(args.json_path).write_text(json.dumps(record.to_json(), indent=2) + "\n")
    if args.report:
        from ..drill.report import write_report

        write_report(record, Path(args.report))
        console.print(f"timeline written to {args.report}")
    return 0
