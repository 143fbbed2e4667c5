"""A managed-style primary endpoint on loopback, for the standalone failover tests.

A managed service's primary endpoint is a DNS name that follows the promoted
replica, while sockets opened before the switch stay attached to the demoted node.
:class:`Forwarder` stands in for that name: a TCP forwarder on one loopback port
whose target can be switched; a switch changes where *new* connections go and
never touches established ones (each keeps its backend until one side closes it).
It knows which backend each session reaches, so a test can count the connections
a client left on the demoted node.

Unlike a DNS name, every connection's peer address is the forwarder's: the client,
which drops connections by resolved peer address, drops all of them on a switch,
not only those to the demoted node (harmless: they reconnect to the new primary).

:class:`ManagedEndpoint` puts it in front of a primary and two replicas (the local
stack's sentinel topology with its sentinels stopped) and switches the primary the
way a provider does: ``REPLICAOF`` (promote a replica, demote the old primary) or
the planned ``FAILOVER`` command (writes paused until the replica caught up).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from aragora_redis import RedisSettings, keys
from aragora_redis.local import LocalStack

Addr = tuple[str, int]


class Forwarder:
    """A TCP forwarder on 127.0.0.1 whose target can change while sessions keep theirs.

    ``rewrite`` (old, new), of one length, replaces ``old`` in what the backends send,
    also across reads (tests use it to stand in for a proxy that reports otherwise).
    """

    def __init__(self, target: Addr, rewrite: tuple[bytes, bytes] | None = None) -> None:
        self.target = target
        self._rewrite = rewrite
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sessions: dict[int, tuple[socket.socket, socket.socket, Addr]] = {}
        self._next = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="forwarder", daemon=True)
        self._thread.start()

    def switch(self, target: Addr) -> None:
        """New connections go to ``target`` from now on; open ones stay where they are."""
        self.target = target

    def open_to(self, backend: Addr) -> int:
        """How many forwarded sessions are open to ``backend``."""
        with self._lock:
            return sum(1 for _, _, b in self._sessions.values() if b == backend)

    def cut(self) -> int:
        """Reset every open session (a network fault); returns how many."""
        with self._lock:
            sessions = list(self._sessions.values())
        for client, upstream, _ in sessions:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        return len(sessions)

    def close(self) -> None:
        """Stop accepting and close every session."""
        self._stop.set()
        self._thread.join()
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            backend = self.target
            try:
                upstream = socket.create_connection(backend, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._next += 1
                key = self._next
                self._sessions[key] = (client, upstream, backend)
            for src, dst, rewrite in ((client, upstream, None), (upstream, client, self._rewrite)):
                args = (key, src, dst, rewrite)
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(
        self, key: int, src: socket.socket, dst: socket.socket, rewrite: tuple[bytes, bytes] | None
    ) -> None:
        held = b""
        try:
            while data := src.recv(65536):
                if rewrite is not None:
                    data, held = _replaced(held + data, *rewrite)
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            gone = self._sessions.pop(key, None)
        if gone is not None:  # the first direction to end closes both
            for sock in gone[:2]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def _replaced(data: bytes, old: bytes, new: bytes) -> tuple[bytes, bytes]:
    """``data`` with ``old`` replaced, less a tail that may be the start of an ``old``
    cut by the read (held for the next one; RESP ends every reply with CRLF, which
    ``old`` does not hold, so a whole reply is never held)."""
    data = data.replace(old, new)
    for n in range(min(len(old) - 1, len(data)), 0, -1):
        if data.endswith(old[:n]):
            return data[:-n], data[-n:]
    return data, b""


def check_written(endpoint: ManagedEndpoint, node: str, debate: str, channel: str) -> None:
    """What the endpoint tests wrote after the switch is on ``node``, the new primary."""
    primary = endpoint.node(node)
    try:
        assert primary.get(keys.debate(debate)) == '{"round":3}'
        assert primary.xlen(keys.stream(channel)) == 2
        assert primary.exists(keys.session("auth", debate)) == 0
    finally:
        primary.close()


#: A PING in the protocol, written straight to a socket.
PING = b"*1\r\n$4\r\nPING\r\n"


def drop_session(endpoint: ManagedEndpoint, client_id: int) -> None:
    """The primary kills connection ``client_id`` and the endpoint closes its side of it.

    A write on the client's socket afterwards is answered with a reset, after which
    the socket has no peer address (ENOTCONN), as a connection cut by a restarting
    or failing endpoint looks until its own thread notices.
    """
    backend = endpoint.address(endpoint.primary)
    before = endpoint.forwarder.open_to(backend)
    primary = endpoint.node(endpoint.primary)
    try:
        primary.client_kill_filter(_id=str(client_id))
    finally:
        primary.close()
    wait_for(lambda: endpoint.forwarder.open_to(backend) < before, "the endpoint closing it")


def has_peer(sock: socket.socket) -> bool:
    """Whether ``sock`` still has a peer address (False once reset or closed)."""
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> float:
    """Poll ``check`` until it holds, and return when (monotonic clock); fail naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic()


@dataclass
class ManagedEndpoint:
    """A primary, two replicas and a :class:`Forwarder` that follows the primary."""

    stack: LocalStack
    forwarder: Forwarder
    primary: str = "redis-0"
    switches: list[tuple[str, str]] = field(default_factory=list)

    @property
    def settings(self) -> RedisSettings:
        """Standalone settings whose host and port are the endpoint."""
        return self.stack.node_settings(self.primary).replace(port=self.forwarder.port)

    @property
    def refusal(self) -> str:
        """What a replica answers a write on our connections: ``REDIRECT`` on Valkey 8
        (they send ``CLIENT CAPA redirect``), ``READONLY`` on Redis 7."""
        return "REDIRECT" if self.stack.options.engine == "valkey" else "READONLY"

    def address(self, name: str) -> Addr:
        """Where node ``name`` listens."""
        a = self.stack.address(name)
        return a.host, a.port

    def node(self, name: str) -> redis.Redis:
        """A plain client of node ``name`` itself (not through the endpoint)."""
        return self.stack.client(name, timeout=5.0)

    def replicas(self) -> list[str]:
        """The data nodes that are not the primary."""
        return [n.name for n in self.stack.data_nodes if n.name != self.primary]

    def switch(self, *, planned: bool = False) -> tuple[str, str]:
        """Promote a replica and demote the primary, then move the endpoint.

        ``planned``: the ``FAILOVER`` command on the primary (writes paused until
        the replica caught up, nothing lost); else ``REPLICAOF NO ONE`` on the
        replica, then ``REPLICAOF`` on the old primary. Returns (old, new).
        """
        old, new = self.primary, self.replicas()[0]
        host, port = self.address(new)
        if planned:
            self._run(old, "FAILOVER", "TO", host, port, "TIMEOUT", 10000)
            wait_for(lambda: self.role(new) == "master", f"{new} promoted by FAILOVER")
        else:
            self._run(new, "REPLICAOF", "NO", "ONE")
            self._run(old, "REPLICAOF", host, port)
        wait_for(lambda: self.role(old) == "slave", f"{old} demoted")
        self.forwarder.switch((host, port))
        self.primary = new
        for other in self.replicas():
            self._run(other, "REPLICAOF", host, port)
        self.switches.append((old, new))
        return old, new

    def wait_synced(self) -> None:
        """Until every replica of the primary is online (so the next switch can run)."""
        replicas = len(self.replicas())

        def synced() -> bool:
            info = self._info(self.primary)
            online = [k for k, v in info.items() if k.startswith("slave") and "online" in str(v)]
            return len(online) == replicas and all(
                self._info(r).get("master_link_status") == "up" for r in self.replicas()
            )

        wait_for(synced, "replicas in sync")

    def role(self, name: str) -> str:
        """``master`` or ``slave``, as node ``name`` says."""
        return str(self._info(name).get("role", "unknown"))

    def _info(self, name: str) -> dict[str, object]:
        client = self.node(name)
        try:
            info: dict[str, object] = client.info("replication")
            return info
        except redis.RedisError:
            return {}
        finally:
            client.close()

    def _run(self, name: str, *command: object) -> None:
        client = self.node(name)
        try:
            client.execute_command(*command)
        finally:
            client.close()
