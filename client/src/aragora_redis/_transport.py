"""How the rate limiters reach Redis: any number of checks in one round trip.

``plan(checks)`` groups the checks into script calls (:func:`_script.calls`: one
limit per call, and one slot per call where the server may shard keys:
:func:`_script.by_slot`); ``run(checks, groups, load, on_reply)`` sends those calls
(EVALSHA, or EVAL with ``load``) and hands each reply, an error reply as its
exception object, to ``on_reply`` as it arrives; ``split(replies)`` regroups the
calls a server refused as CROSSSLOT, and keeps to one slot per call from then on.

Whether a one-master server shards keys: a cluster, or ``ARAGORA_REDIS_SHARDED``
(a proxy such as Azure Managed Redis's EnterpriseCluster policy, which looks like
one server), or the server's own ``INFO cluster``, asked once, on the limiter's
first connection (not per check). Until it answered, calls keep to one slot.

For one master (standalone, sentinel) the limiter keeps its own connections, made
by the client's pool (so TLS, credentials, the short timeout, no retries and
Sentinel's master discovery are all the client's), and talks RESP on them
directly: one write, then one read per call. redis-py's command path costs
several times the script's own time, and a check must cost about a PING. Any
error drops every idle connection too: a restarted or failed-over server has
dropped them all, and a half-open probe must not spend itself on a dead socket.
A cluster goes through redis-py's cluster pipeline, which knows the slots.

The limiter does not retry (a check must decide within its short timeout), with one
exception: calls a node refused as not the primary (READONLY... see
:mod:`aragora_redis._moved`) did not run, and go once more on a new connection,
which reaches the new primary through Sentinel or the endpoint's name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

import redis
import redis.asyncio as aredis
from redis.asyncio.connection import AbstractConnection as AsyncConnection
from redis.connection import AbstractConnection
from redis.exceptions import RedisError, ResponseError

from . import _script as script
from ._bucket import Prepared
from ._moved import primary_moved
from ._script import Group, Replies
from .connection import AsyncClient, SyncClient

OnReply = Callable[[Group, Any], None]
#: An idle connection older than this is checked for a close by the server before use.
CHECK_IDLE_AFTER_S = 1.0
#: How often calls refused as "not the primary" are sent again on a new connection.
MOVED_RESENDS = 1
Conn = TypeVar("Conn", AbstractConnection, AsyncConnection)
ClusterClient = TypeVar("ClusterClient", redis.RedisCluster, aredis.RedisCluster)


class _OneMaster(Generic[Conn]):
    """The twins' idle connections to one master, and their one-master plan."""

    def __init__(self, client: redis.Redis | aredis.Redis, max_idle: int, sharded: bool) -> None:
        self._pool = client.connection_pool
        self._max_idle = max_idle
        self._idle: list[tuple[Conn, float]] = []  # with the time it was put back
        self._sharded = sharded
        self._server: bool | None = None  # what INFO cluster said
        self._refused = False
        #: Whether to ask the server (once) if it shards keys.
        self._ask = not sharded
        self._slots = self._by_slot()

    def plan(self, ps: Sequence[Prepared]) -> list[Group]:
        """Calls of one limit, and of one slot where the server may shard keys."""
        return script.calls(ps, slots=self._slots)

    def split(self, got: Replies) -> list[Group]:
        """The calls ``got`` refused as CROSSSLOT, one slot each; keep to one slot from now."""
        self._refused = True
        self._slots = self._by_slot()
        return got.resend()

    def _by_slot(self) -> bool:
        return script.by_slot(
            cluster=False, sharded=self._sharded, server=self._server, refused=self._refused
        )

    def _heard(self, info: Any) -> None:
        """The server's answer to ``INFO cluster``."""
        self._ask = False
        self._server = script.reports_cluster(info)
        self._slots = self._by_slot()

    def _checkout(self) -> tuple[Conn, bool]:
        """An idle connection (or a new one), and whether it sat long enough to check it.

        A server may close idle clients (``timeout``, a cloud's idle limit); asking the
        socket costs a system call, so only connections idle for a while pay it.
        """
        try:
            conn, since = self._idle.pop()
        except IndexError:
            return cast(Conn, self._pool.connection_class(**self._pool.connection_kwargs)), False
        return conn, conn.is_connected and time.monotonic() - since > CHECK_IDLE_AFTER_S

    def _keep(self, conn: Conn) -> bool:
        """Put ``conn`` back among the idle ones; False when there are enough already."""
        if len(self._idle) < self._max_idle:
            self._idle.append((conn, time.monotonic()))
            return True
        return False


class _Slots(Generic[ClusterClient]):
    """The twins' cluster client and their one-slot-per-call plan."""

    def __init__(self, client: ClusterClient) -> None:
        self._client: ClusterClient = client

    def plan(self, ps: Sequence[Prepared]) -> list[Group]:
        """Calls of one slot and one limit (a script's keys must share a slot)."""
        return script.calls(ps)

    def split(self, got: Replies) -> list[Group]:
        """The calls ``got`` refused as CROSSSLOT, one slot each (never sent here)."""
        return got.resend()


class Direct(_OneMaster[AbstractConnection]):
    """Checks on the limiter's own connections to one master (sync, thread-safe)."""

    def run(
        self, ps: Sequence[Prepared], groups: Sequence[Group], load: bool, on_reply: OnReply
    ) -> None:
        """Send the calls in one write, then read and hand on their replies.

        Calls a node refused as not the primary (they did not run) go again, on a
        new connection, up to ``MOVED_RESENDS`` times.
        """
        for resends_left in range(MOVED_RESENDS, -1, -1):
            groups = self._once(ps, groups, load, on_reply, resends_left > 0)
            if not groups:
                return

    def _once(
        self,
        ps: Sequence[Prepared],
        groups: Sequence[Group],
        load: bool,
        on_reply: OnReply,
        may_resend: bool,
    ) -> Sequence[Group]:
        payload = script.pack_calls(ps, groups, load)
        conn, check = self._checkout()
        if check:
            _drop_if_closed(conn)
        answered = 0
        try:
            if self._ask:
                conn.send_command("INFO", "cluster", check_health=False)
                self._heard(_reply(conn))
            conn.send_packed_command(payload, check_health=False)
            for g in groups:
                on_reply(g, _reply(conn))
                answered += 1
        except BaseException as exc:
            # Replies may be left unread on this socket: it cannot be used again.
            conn.disconnect()
            self.close()
            if may_resend and primary_moved(exc) is not None:
                return groups[answered:]
            raise
        if not self._keep(conn):
            conn.disconnect()
        return ()

    def close(self) -> None:
        """Disconnect the idle connections (they reconnect when used again)."""
        idle, self._idle = self._idle, []
        while idle:
            idle.pop()[0].disconnect()


def _drop_if_closed(conn: AbstractConnection) -> None:
    try:
        closed = conn.can_read()  # pending bytes on an idle connection: closed, or garbage
    except RedisError:
        closed = True
    if closed:
        conn.disconnect()  # the send reconnects


def _reply(conn: AbstractConnection) -> Any:
    try:
        return conn.read_response()
    except ResponseError as exc:
        return exc


class Clustered(_Slots[redis.RedisCluster]):
    """Checks through a redis-py cluster pipeline (sync)."""

    def run(
        self, ps: Sequence[Prepared], groups: Sequence[Group], load: bool, on_reply: OnReply
    ) -> None:
        """Send the calls as one pipeline (one round trip per node), hand on the replies."""
        with self._client.pipeline(transaction=False) as pipe:
            for g in groups:
                pipe.execute_command(*script.command(ps, g, load))
            replies = pipe.execute(raise_on_error=False)
        for g, reply in zip(groups, replies, strict=True):
            on_reply(g, reply)

    def close(self) -> None:
        """Nothing to close here: the cluster client's own connections are closed with it."""


class AsyncDirect(_OneMaster[AsyncConnection]):
    """The asyncio twin of :class:`Direct`."""

    async def run(
        self, ps: Sequence[Prepared], groups: Sequence[Group], load: bool, on_reply: OnReply
    ) -> None:
        """Send the calls in one write, then read and hand on their replies.

        Calls a node refused as not the primary (they did not run) go again, on a
        new connection, up to ``MOVED_RESENDS`` times.
        """
        for resends_left in range(MOVED_RESENDS, -1, -1):
            groups = await self._once(ps, groups, load, on_reply, resends_left > 0)
            if not groups:
                return

    async def _once(
        self,
        ps: Sequence[Prepared],
        groups: Sequence[Group],
        load: bool,
        on_reply: OnReply,
        may_resend: bool,
    ) -> Sequence[Group]:
        payload = script.pack_calls(ps, groups, load)
        conn, check = self._checkout()
        if check:
            await _adrop_if_closed(conn)
        answered = 0
        try:
            if self._ask:
                await conn.send_command("INFO", "cluster", check_health=False)
                self._heard(await _areply(conn))
            await conn.send_packed_command(payload, check_health=False)
            for g in groups:
                on_reply(g, await _areply(conn))
                answered += 1
        except BaseException as exc:
            # Also on cancellation: replies may be left unread on this socket.
            await conn.disconnect(nowait=True)
            await self.close(nowait=True)
            if may_resend and primary_moved(exc) is not None:
                return groups[answered:]
            raise
        if not self._keep(conn):
            await conn.disconnect()
        return ()

    async def close(self, nowait: bool = False) -> None:
        """Disconnect the idle connections (they reconnect when used again)."""
        idle, self._idle = self._idle, []
        while idle:
            await idle.pop()[0].disconnect(nowait=nowait)


async def _adrop_if_closed(conn: AsyncConnection) -> None:
    try:
        closed = await conn.can_read()
    except RedisError:
        closed = True
    if closed:
        await conn.disconnect()


async def _areply(conn: AsyncConnection) -> Any:
    try:
        return await conn.read_response()
    except ResponseError as exc:
        return exc


class AsyncClustered(_Slots[aredis.RedisCluster]):
    """The asyncio twin of :class:`Clustered`."""

    def __init__(self, client: aredis.RedisCluster) -> None:
        super().__init__(client)
        self._ready = False
        self._lock = asyncio.Lock()

    async def run(
        self, ps: Sequence[Prepared], groups: Sequence[Group], load: bool, on_reply: OnReply
    ) -> None:
        """Send the calls as one pipeline (one round trip per node), hand on the replies."""
        if not self._ready:
            # redis-py 8.1's asyncio cluster client breaks when concurrent first
            # commands each start discovering the slots: discover them once.
            async with self._lock:
                if not self._ready:
                    await self._client.initialize()
                    self._ready = True
        async with self._client.pipeline(transaction=False) as pipe:
            for g in groups:
                pipe.execute_command(*script.command(ps, g, load))
            replies = await pipe.execute(raise_on_error=False)
        for g, reply in zip(groups, replies, strict=True):
            on_reply(g, reply)

    async def close(self, nowait: bool = False) -> None:
        """Nothing to close here: the cluster client's own connections are closed with it."""


def transport(client: SyncClient, max_idle: int, sharded: bool = False) -> Direct | Clustered:
    """The transport for ``client``; ``sharded``: the settings say the endpoint shards keys."""
    if isinstance(client, redis.RedisCluster):
        return Clustered(client)
    return Direct(client, max_idle, sharded)


def async_transport(
    client: AsyncClient, max_idle: int, sharded: bool = False
) -> AsyncDirect | AsyncClustered:
    """The transport for ``client``; ``sharded``: the settings say the endpoint shards keys."""
    if isinstance(client, aredis.RedisCluster):
        return AsyncClustered(client)
    return AsyncDirect(client, max_idle, sharded)
