"""Connections that follow a managed endpoint: ``EndpointConnection`` and its asyncio twin.

A managed primary endpoint (ElastiCache, Memorystore, Azure) is a DNS name that
follows the promoted replica, while sockets opened before the switch may stay on
the demoted node, which answers READONLY from then on. redis-py reconnects on
READONLY only for Sentinel-managed connections. These connections, installed on a
standalone client's pool by :func:`follow_endpoint`:

- on a "not the primary" reply (:func:`aragora_redis._moved.primary_moved`)
  disconnect, drop every pooled connection to the same resolved peer address (idle
  ones now, busy ones when they are released) and raise PrimaryMoved, a
  ConnectionError: the client's bounded retry reconnects through the endpoint's
  name (a new connection, a fresh DNS resolution) and sends the command again;
- raise OutcomeUnknown (not retried) when the reply of an at-most-once write is lost;
- before an at-most-once write on an open asyncio connection, drop it if the server
  has closed it (the sync pool checks the socket itself; asyncio may not have seen
  the close yet, and the write would then fail with its outcome unknown);
- send ``CLIENT CAPA redirect`` on connect, so that a Valkey 8+ replica answers
  ``-REDIRECT`` (to reads too) instead of serving a connection left on it;
  servers that do not know it answer an error, which is ignored.

Dropping "every connection to the same peer" compares each pooled connection's
peer address, including connections other threads are using. redis-py's sync
``getpeername`` asks the socket, which raises OSError once the peer has reset it
(ENOTCONN) or its own thread has just closed it (EBADF): an OSError is not a
redis-py error, so it escaped the retry and the stores' error boundary (a writer
thread died of it, its traceback showing the ``ReadOnlyError`` being handled). The
sync connection therefore records its peer when it connects and answers from that,
as redis-py's asyncio connection does from the transport's cached peer name.
"""

from __future__ import annotations

import select
import time
import weakref
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.connection import Connection as AsyncConnection
from redis.asyncio.connection import SSLConnection as AsyncSSLConnection
from redis.connection import Connection, SSLConnection
from redis.exceptions import RedisError, ResponseError

from . import _metrics
from ._moved import (
    CAPA_REDIRECT,
    Moved,
    OutcomeUnknown,
    PrimaryMoved,
    in_at_most_once,
    primary_moved,
    reply_lost,
)

_POOL = "endpoint_pool"


def _outcome(where: str, exc: RedisError) -> OutcomeUnknown:
    return OutcomeUnknown(f"{where}: the reply of a write was lost ({exc}); it may have run")


def _moved(where: str, peer: Any, moved: Moved) -> PrimaryMoved:
    """Record a "not the primary" reply from ``peer`` (and the failover it means)."""
    host, _, port = where.rpartition(":")
    _metrics.primary_moved(moved.code, "endpoint", host, port)
    if moved.elsewhere and peer:
        _metrics.endpoint_left(where, str(peer), moved.code, time.monotonic())
    return PrimaryMoved(where, moved)


def peer_address(sock: Any) -> str | None:
    """The address a just-connected socket reaches, or None if it is already reset."""
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return None


def _readable(sock: Any) -> bool:
    readable, _, _ = select.select([sock.fileno()], [], [], 0)
    return bool(readable)


def closed_by_server(conn: Any) -> bool:
    """Whether an idle connection has a close (or stray bytes) pending.

    For asyncio the stream and the socket itself are checked, so a close the event
    loop has not processed yet counts too.
    """
    sock = getattr(conn, "_sock", None)
    if sock is not None:
        return _readable(sock)
    reader, writer = getattr(conn, "_reader", None), getattr(conn, "_writer", None)
    if reader is None or writer is None:
        return False
    if reader.at_eof() or len(getattr(reader, "_buffer", b"")):
        return True
    sock = writer.get_extra_info("socket")
    return sock is not None and _readable(sock)


class IdleCheck:
    """Mixin of the connections: an at-most-once write skips a connection the server closed.

    The handshake (redis-py pipelines part of it) is not checked.
    """

    _handshake = False

    def on_connect_check_health(self, check_health: bool = True) -> None:
        """Log in as redis-py does, then :meth:`_after_login`."""
        self._handshake = True
        try:
            super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
            self._after_login()
        finally:
            self._handshake = False

    def _after_login(self) -> None:
        """More of the handshake (none here)."""

    def _closed_for_at_most_once(self) -> bool:
        return in_at_most_once() and not self._handshake and closed_by_server(self)


class EndpointConnection(IdleCheck, Connection):
    """A connection to whatever node a standalone endpoint's name leads to (sync)."""

    def __init__(self, **kwargs: Any) -> None:
        self._pool_ref: weakref.ref[redis.ConnectionPool] | None = kwargs.pop(_POOL, None)
        self._peer: str | None = None
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]

    def _connect(self) -> Any:
        """Connect, and record the peer's address while the socket surely has one."""
        sock = super()._connect()  # type: ignore[no-untyped-call]
        self._peer = peer_address(sock)
        return sock

    def getpeername(self) -> str | None:
        """The peer's address recorded at connect; None when not connected. Never a
        system call, so never an OSError (see the module's docstring)."""
        return self._peer if self._sock is not None else None

    def _after_login(self) -> None:
        """Ask for -REDIRECT replies (Valkey 8+)."""
        try:
            self.send_command(*CAPA_REDIRECT, check_health=False)  # type: ignore[no-untyped-call]
            super().read_response()
        except ResponseError:
            pass  # Redis, Valkey < 8, or an ACL without CLIENT

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send; an at-most-once write never goes out on a connection the server closed."""
        if self._closed_for_at_most_once():
            self.disconnect()  # type: ignore[no-untyped-call]
        super().send_packed_command(command, check_health=check_health)  # type: ignore[no-untyped-call]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; "not the primary" drops this node's connections and raises."""
        try:
            return super().read_response(*args, **kwargs)
        except RedisError as exc:
            where = f"{self.host}:{self.port}"
            moved = primary_moved(exc)
            if moved is not None:
                peer = self.getpeername()
                self.disconnect()  # type: ignore[no-untyped-call]
                pool = self._pool_ref() if self._pool_ref is not None else None
                if moved.elsewhere and pool is not None and peer is not None:
                    pool.update_active_connections_for_reconnect(peer)
                    pool.disconnect_free_connections(peer)
                raise _moved(where, peer, moved) from exc
            if reply_lost(exc):
                raise _outcome(where, exc) from exc
            raise


class EndpointSSLConnection(EndpointConnection, SSLConnection):
    """:class:`EndpointConnection` over TLS."""


class AsyncIdleCheck:
    """The asyncio twin of :class:`IdleCheck`."""

    _handshake = False

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        """Log in as redis-py does, then :meth:`after_login`."""
        self._handshake = True
        try:
            await super().on_connect_check_health(check_health=check_health)  # type: ignore[misc]
            await self._after_login()
        finally:
            self._handshake = False

    async def _after_login(self) -> None:
        """More of the handshake (none here)."""

    def _closed_for_at_most_once(self) -> bool:
        return in_at_most_once() and not self._handshake and closed_by_server(self)


class AsyncEndpointConnection(AsyncIdleCheck, AsyncConnection):
    """The asyncio twin of :class:`EndpointConnection`."""

    def __init__(self, **kwargs: Any) -> None:
        self._pool_ref: weakref.ref[aredis.ConnectionPool] | None = kwargs.pop(_POOL, None)
        super().__init__(**kwargs)

    async def _after_login(self) -> None:
        """Ask for -REDIRECT replies (Valkey 8+)."""
        try:
            await self.send_command(*CAPA_REDIRECT, check_health=False)
            await super().read_response()
        except ResponseError:
            pass  # Redis, Valkey < 8, or an ACL without CLIENT

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send; an at-most-once write never goes out on a connection the server closed."""
        if self._closed_for_at_most_once():
            await self.disconnect()
        await super().send_packed_command(command, check_health=check_health)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; "not the primary" drops this node's connections and raises."""
        try:
            return await super().read_response(*args, **kwargs)
        except RedisError as exc:
            where = f"{self.host}:{self.port}"
            moved = primary_moved(exc)
            if moved is not None:
                peer = self.getpeername()
                await self.disconnect()
                pool = self._pool_ref() if self._pool_ref is not None else None
                if moved.elsewhere and pool is not None and peer is not None:
                    await pool.run_proactive_reconnect(peer)
                raise _moved(where, peer, moved) from exc
            if reply_lost(exc):
                raise _outcome(where, exc) from exc
            raise


class AsyncEndpointSSLConnection(AsyncEndpointConnection, AsyncSSLConnection):
    """:class:`AsyncEndpointConnection` over TLS."""


_SYNC: dict[type[Any], type[Any]] = {
    Connection: EndpointConnection,
    SSLConnection: EndpointSSLConnection,
}
_ASYNC: dict[type[Any], type[Any]] = {
    AsyncConnection: AsyncEndpointConnection,
    AsyncSSLConnection: AsyncEndpointSSLConnection,
}


def follow_endpoint(client: redis.Redis) -> redis.Redis:
    """Make the connections ``client``'s pool opens from now on follow the endpoint."""
    pool = client.connection_pool
    pool.connection_class = _SYNC.get(pool.connection_class, pool.connection_class)
    pool.connection_kwargs[_POOL] = weakref.ref(pool)
    return client


def follow_endpoint_async(client: aredis.Redis) -> aredis.Redis:
    """The asyncio twin of :func:`follow_endpoint`."""
    pool = client.connection_pool
    pool.connection_class = _ASYNC.get(pool.connection_class, pool.connection_class)
    pool.connection_kwargs[_POOL] = weakref.ref(pool)
    return client
