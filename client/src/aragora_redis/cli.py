"""The ``aragora-redis`` command line.

Each subcommand group lives in its own module under :mod:`aragora_redis.commands`
and adds itself with ``register(subparsers)``; to add a group, write the module
and list it in :data:`GROUPS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from .commands import check, drill, envexport, local, ops
from .errors import AragoraRedisError

GROUPS = (local, drill, ops, envexport, check)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every group's subcommands."""
    parser = argparse.ArgumentParser(
        prog="aragora-redis", description="Highly available Redis for Aragora."
    )
    groups = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in GROUPS:
        group.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (errors print one line, status 1)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    console = Console(soft_wrap=True)
    try:
        return int(run(args, console))
    except AragoraRedisError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
