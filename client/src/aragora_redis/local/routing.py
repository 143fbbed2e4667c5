"""I/O-free: the endpoint topology's control-plane decisions and HAProxy runtime-API text.

The endpoint topology puts HAProxy in front of a primary and two replicas, with no
health check: the control plane (:mod:`aragora_redis.local.endpoint`) decides
which node is the primary and moves *new* connections there through HAProxy's
runtime API. This module holds what it decides and what it sends:

- :func:`most_up_to_date`: the replica to promote, by replication offset;
- :func:`route_commands`: the runtime-API line that routes new connections to one
  server (``set server <backend>/<server> state ready|maint``; a server put in
  maintenance keeps its established sessions), and with ``reset`` also cuts every
  session (``shutdown sessions server``), as Memorystore and Azure do;
- :func:`parse_routed`: which servers take new connections, from ``show servers state``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import LocalStackError
from ..haproxy import BACKEND

#: ``srv_admin_state`` bits that keep a running server from taking new connections:
#: forced/inherited/resolution/hostname maintenance and forced/inherited drain. (0x04
#: only says the server was configured ``disabled``; once made ready it takes traffic.)
_NOT_ROUTED = 0x01 | 0x02 | 0x08 | 0x10 | 0x20 | 0x40
#: ``srv_op_state`` of a server that is up.
_RUNNING = "2"


def most_up_to_date(offsets: Mapping[str, int | None]) -> str:
    """The node with the highest replication offset (None: it did not answer).

    Ties go to the first in the mapping's order, so the choice is stable.
    """
    known = [(name, off) for name, off in offsets.items() if off is not None]
    if not known:
        raise LocalStackError("no replica answered: nothing to promote")
    best = max(off for _, off in known)
    return next(name for name, off in known if off == best)


def route_commands(
    to: str, servers: Sequence[str], *, reset: bool = False, backend: str = BACKEND
) -> str:
    """One runtime-API line: new connections go to ``to`` only; ``reset`` cuts every session.

    ``to`` is made ready before the others go into maintenance, so there is no
    instant without a server; established sessions stay unless ``reset``.
    """
    if to not in servers:
        raise LocalStackError(f"{to!r} is not a server of the endpoint ({', '.join(servers)})")
    commands = [f"set server {backend}/{to} state ready"]
    commands += [f"set server {backend}/{s} state maint" for s in servers if s != to]
    if reset:
        commands += [f"shutdown sessions server {backend}/{s}" for s in servers]
    return "; ".join(commands)


def parse_routed(state: str, backend: str = BACKEND) -> list[str]:
    """The servers of ``backend`` that take new connections, from ``show servers state``."""
    columns: list[str] = []
    routed = []
    for line in state.splitlines():
        if line.startswith("# "):
            columns = line[2:].split()
            continue
        fields = line.split()
        if not columns or len(fields) < len(columns) or fields[0].startswith("#"):
            continue
        row = dict(zip(columns, fields, strict=False))
        if row.get("be_name") != backend:
            continue
        up = row.get("srv_op_state") == _RUNNING
        if up and int(row.get("srv_admin_state", "0")) & _NOT_ROUTED == 0:
            routed.append(row["srv_name"])
    return routed
