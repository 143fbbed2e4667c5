"""The endpoint topology's control plane: fails the primary over as a managed service does.

Clients of an endpoint stack get one URL, HAProxy's port (``ARAGORA_REDIS_MODE=standalone``),
like a provider's primary endpoint. What stands for the provider is this module,
which clients never see: it talks to the data nodes directly and to HAProxy's
runtime API on a Unix socket in the stack directory (mode 600). A switch routes
*new* connections to the promoted node and leaves established ones where they are
(``set server ... state maint`` keeps sessions), as a DNS name that changes does;
with the stack's ``reset_on_failover`` every session is cut as well (Memorystore,
Azure). The failover types:

- :meth:`EndpointControl.planned`: the ``FAILOVER TO`` command on the primary
  (writes paused until the replica caught up: ElastiCache test-failover,
  Memorystore ``limited-data-loss``), then the endpoint moves;
- :meth:`EndpointControl.kill`: ``kill -9`` of the primary; after ``detect_s`` the
  most up-to-date replica (by replication offset) is promoted and the endpoint moves;
- :meth:`EndpointControl.freeze`: the primary is stopped (SIGSTOP), the same
  promotion follows, and at the end of the pause it resumes (SIGCONT) and is
  demoted with ``REPLICAOF``.

Decisions (which replica, which runtime-API commands) live in :mod:`.routing`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import redis

from ..errors import LocalStackError
from ..haproxy import BACKEND
from . import spec
from .routing import most_up_to_date, parse_routed, route_commands
from .stack import LocalStack

Say = Callable[[str], None]
#: What the control plane records when it moves the endpoint.
SWITCH_EVENT = "endpoint-moved"
#: How long a crashed or frozen primary goes unnoticed (as Sentinel's down-after locally).
DETECT_S = 1.0
_POLL_S = 0.005


def runtime(stack: LocalStack, line: str, *, timeout: float = 2.0) -> str:
    """Send one line to HAProxy's runtime API and return its answer."""
    path = spec.admin_socket(stack.options)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
    except OSError as exc:
        raise LocalStackError(f"HAProxy's runtime API at {path}: {exc}") from None
    return b"".join(chunks).decode(errors="replace")


def routed(stack: LocalStack) -> str:
    """The data node the endpoint sends new connections to."""
    names = parse_routed(runtime(stack, f"show servers state {BACKEND}"))
    if len(names) != 1:
        raise LocalStackError(f"the endpoint routes to {names or 'no node'}, expected one")
    return names[0]


class EndpointControl:
    """Failovers of one endpoint stack; ``events`` holds (monotonic time, SWITCH_EVENT).

    On a stack with its own addresses the control plane talks to the data nodes from
    its own (:func:`~aragora_redis.local.netplan.node_host` ``control``), so that a
    network fault can cut it off from a primary as from the replicas. ``lock``
    serialises its failovers with the failure detector's
    (:mod:`aragora_redis.local.watchdog`).
    """

    def __init__(
        self, stack: LocalStack, say: Say | None = None, *, detect_s: float = DETECT_S
    ) -> None:
        if stack.options.topology != "endpoint":
            raise LocalStackError("the endpoint control plane needs --topology endpoint")
        self.stack = stack
        self.say: Say = say or (lambda _: None)
        self.detect_s = detect_s
        self.events: list[tuple[float, str]] = []
        self.source = spec.host_of(stack.options, "control", 0) if stack.options.subnet else None
        self.lock = threading.RLock()

    def primary(self) -> str:
        """The node the endpoint routes to."""
        return routed(self.stack)

    def route(self, name: str) -> None:
        """Move the endpoint: new connections go to ``name`` (all cut when reset_on_failover)."""
        servers = [n.name for n in self.stack.data_nodes]
        reset = self.stack.options.reset_on_failover
        answer = runtime(self.stack, route_commands(name, servers, reset=reset)).strip()
        if answer:
            raise LocalStackError(f"HAProxy refused to move the endpoint: {answer}")
        self.events.append((time.monotonic(), SWITCH_EVENT))
        cut = ", every connection cut" if reset else ""
        self.say(f"endpoint now routes new connections to {name}{cut}")

    def planned(self) -> tuple[str, str]:
        """``FAILOVER TO`` the most up-to-date replica, then move the endpoint."""
        old = self.primary()
        others = self._others(old)
        new = most_up_to_date(self.offsets(others))
        addr = self.stack.address(new)
        self._run(old, "FAILOVER", "TO", addr.host, addr.port, "TIMEOUT", 5000)
        self._wait_role(new, "master")
        self.route(new)
        self.repoint(new, [n for n in others if n != new])
        return old, new

    def kill(self) -> tuple[str, str]:
        """``kill -9`` of the primary, then promote and move after ``detect_s``."""
        old = self.primary()
        self.stack.kill(old)
        self.say(f"killed {old} (SIGKILL)")
        time.sleep(self.detect_s)
        return old, self.promote(old)

    def freeze(self, pause_s: float) -> tuple[str, str]:
        """Freeze the primary for ``pause_s``; promote after ``detect_s``; resume and demote it."""
        old = self.primary()
        started = time.monotonic()
        self.stack.freeze(old)
        self.say(f"froze {old} (SIGSTOP)")
        time.sleep(self.detect_s)
        new = self.promote(old)
        time.sleep(max(0.0, pause_s - (time.monotonic() - started)))
        self.stack.thaw(old)
        self.repoint(new, [old])
        self.say(f"resumed {old} (SIGCONT) as a replica of {new}")
        return old, new

    def heal(self) -> None:
        """Point every other running data node at the primary (call after nodes came back).

        When HAProxy itself was restarted it routes to ``redis-0`` again: the node that
        is master with the most replicas becomes the endpoint's primary.
        """
        primary = self.primary()
        masters = [n for n in self._others(None) if self.role(n) == "master"]
        if primary not in masters and masters:
            primary = max(masters, key=self._replica_count)
            self.route(primary)
        self.repoint(primary, self._others(primary))

    def repoint(self, primary: str, names: list[str]) -> None:
        """``REPLICAOF`` the primary on each of ``names`` (already following it: no-op)."""
        addr = self.stack.address(primary)
        for name in names:
            self._run(name, "REPLICAOF", addr.host, addr.port)

    def promote(self, old: str, new: str | None = None) -> str:
        """Promote ``new`` (default: the most up-to-date replica) and move the endpoint."""
        others = self._others(old)
        new = new or most_up_to_date(self.offsets(others))
        self._run(new, "REPLICAOF", "NO", "ONE")
        self.say(f"promoted {new}, the most up-to-date replica")
        self.repoint(new, [n for n in others if n != new])
        self.route(new)
        return new

    def _others(self, primary: str | None) -> list[str]:
        return [n.name for n in self.stack.data_nodes if n.name != primary]

    def _info(self, name: str) -> dict[str, object] | None:
        client = self.stack.client(name, timeout=0.5, source=self.source)
        try:
            info: dict[str, object] = client.info("replication")
        except redis.RedisError:
            return None
        finally:
            client.close()
        return info

    def offsets(self, names: list[str]) -> dict[str, int | None]:
        """Each node's replication offset; None for a node that did not answer."""
        out: dict[str, int | None] = {}
        for name in names:
            info = self._info(name)
            key = (
                "slave_repl_offset"
                if info and info.get("role") == "slave"
                else "master_repl_offset"
            )
            out[name] = None if info is None else int(str(info.get(key, 0)))
        return out

    def role(self, name: str) -> str:
        """``master``, ``slave``, or ``unreachable``."""
        info = self._info(name)
        return "unreachable" if info is None else str(info.get("role"))

    def _replica_count(self, name: str) -> int:
        info = self._info(name) or {}
        return int(str(info.get("connected_slaves", 0)))

    def _wait_role(self, name: str, role: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.role(name) != role:
            if time.monotonic() > deadline:
                raise LocalStackError(f"{name} did not become {role} within {timeout:g} s")
            time.sleep(_POLL_S)

    def _run(self, name: str, *command: object) -> None:
        client = self.stack.client(name, timeout=5.0, source=self.source)
        try:
            client.execute_command(*command)
        finally:
            client.close()
