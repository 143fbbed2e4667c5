"""Session store: ``SessionStore`` and ``AsyncSessionStore``, side by side.

Keys ``aragora:session:<kind>:<id>``, JSON values, a TTL per kind (Aragora's
defaults, overridden by ARAGORA_SESSION_<KIND>_TTL). ``get`` slides the expiry in
the same round trip (GETEX). ``put(..., durable=True)`` also waits for a replica
(WAIT) and raises :class:`NotReplicated` when none acknowledged in time.

WAIT counts the replicas that reached the last write of its own connection, so SET
and WAIT always share one connection: a pipeline (standalone, Sentinel), or on a
cluster one connection to the slot's primary (a MOVED or ASK reply sends them again
at once; a lost primary, again within the retry budget: :mod:`._redirect`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Generic, NamedTuple, TypeVar

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import PipelineCommand
from redis.exceptions import RedisError

from . import _codec, _metrics, keys
from ._boundary import redis_errors
from ._redirect import Budget as _Budget
from ._redirect import Retry
from ._refresh import deadline
from .cluster_conn import refresh_slots, refresh_slots_async, timeout_of
from .connection import AsyncClient, SyncClient
from .errors import NotReplicated

C = TypeVar("C", SyncClient, AsyncClient)
#: How long a durable write waits for a replica before it reports NotReplicated.
DEFAULT_REPLICA_TIMEOUT_MS = 1000


class _Put(NamedTuple):
    key: str
    raw: bytes
    ttl: int


def _prepare_put(
    kind: str, session_id: str, data: Any, ttl: float | None, ttls: Mapping[str, int], limit: int
) -> _Put:
    key = keys.session(kind, session_id)
    seconds = _codec.check_ttl(ttl) if ttl is not None else _codec.session_ttl(kind, dict(ttls))
    return _Put(
        key, _codec.encode(data, max_bytes=limit, what=f"session {kind}/{session_id}"), seconds
    )


def _check_replicated(key: str, acked: int, timeout_ms: int) -> None:
    if acked < 1:
        _metrics.not_replicated("sessions")
        raise NotReplicated(
            f"{key} is on the master but no replica acknowledged it within {timeout_ms} ms"
        )


def _node_for(
    client: redis.RedisCluster | aredis.RedisCluster, key: str, retry: Retry | None
) -> Any:
    """Where a cluster SET+WAIT goes: the ASK or MOVED target after one (if the slot map
    knows it), else the key's primary."""
    if retry is not None and retry.ask is not None:
        return client.get_node(host=retry.ask[0], port=retry.ask[1])
    if retry is not None and retry.moved_to is not None:
        node = client.get_node(host=retry.moved_to[0], port=retry.moved_to[1])
        if node is not None:
            return node
    return client.get_node_from_key(key)


class _Sessions(Generic[C]):
    """What both twins hold: the client and the limits."""

    def __init__(
        self,
        client: C,
        *,
        ttls: Mapping[str, int] | None = None,
        max_bytes: int = _codec.DEFAULT_MAX_BYTES,
        replica_timeout_ms: int = DEFAULT_REPLICA_TIMEOUT_MS,
    ) -> None:
        self._client: C = client
        self._ttls = dict(ttls or {})
        self._max_bytes = max_bytes
        self._replica_timeout_ms = replica_timeout_ms

    def _durable_pipe(self, put: _Put) -> Any:
        """A durable put's SET and WAIT queued on one pipeline (queuing sends nothing)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.set(put.key, put.raw, ex=put.ttl)
        pipe.wait(1, self._replica_timeout_ms)
        return pipe


class SessionStore(_Sessions[SyncClient]):
    """Sessions on Redis (sync). Build it with :func:`aragora_redis.connect`."""

    def put(
        self,
        kind: str,
        session_id: str,
        data: Any,
        *,
        ttl: float | None = None,
        durable: bool = False,
    ) -> None:
        """Store ``data`` (JSON) for ``ttl`` seconds (default: the kind's TTL)."""
        put = _prepare_put(kind, session_id, data, ttl, self._ttls, self._max_bytes)
        with redis_errors(f"writing session {put.key}"):
            if not durable:
                self._client.set(put.key, put.raw, ex=put.ttl)
                return
            if isinstance(self._client, redis.RedisCluster):
                acked = self._put_on_primary(self._client, put)
            else:
                pipe = self._durable_pipe(put)
                acked = pipe.execute()[1]
        _check_replicated(put.key, int(acked), self._replica_timeout_ms)

    def _put_on_primary(self, client: redis.RedisCluster, put: _Put) -> Any:
        """SET and WAIT on one connection to the primary of the key's slot; the WAIT reply."""
        retry: Retry | None = None
        budget = _Budget(timeout_of(client))
        with deadline(budget.deadline):
            while True:
                node = _node_for(client, put.key, retry)
                budget.attempt()
                try:
                    if node is None:
                        raise redis.exceptions.ConnectionError(f"no cluster node serves {put.key}")
                    pipe = client.get_redis_connection(node).pipeline(transaction=False)
                    if retry is not None and retry.ask is not None:
                        pipe.execute_command("ASKING")
                    pipe.set(put.key, put.raw, ex=put.ttl)
                    pipe.wait(1, self._replica_timeout_ms)
                    return pipe.execute()[-1]
                except RedisError as exc:
                    retry, pause = budget.after(exc)
                    if pause:
                        time.sleep(pause)
                    if retry.refresh:
                        refresh_slots(client)

    def get(self, kind: str, session_id: str) -> Any:
        """The session's data, or ``None``; a hit restarts the kind's TTL."""
        key = keys.session(kind, session_id)
        with redis_errors(f"reading session {key}"):
            raw = self._client.getex(key, ex=_codec.session_ttl(kind, self._ttls))
        return _codec.decode(raw)

    def delete(self, kind: str, session_id: str) -> bool:
        """Remove the session; ``True`` if it existed."""
        key = keys.session(kind, session_id)
        with redis_errors(f"deleting session {key}"):
            return bool(self._client.delete(key))


class AsyncSessionStore(_Sessions[AsyncClient]):
    """The asyncio twin of :class:`SessionStore`."""

    async def put(
        self,
        kind: str,
        session_id: str,
        data: Any,
        *,
        ttl: float | None = None,
        durable: bool = False,
    ) -> None:
        """Store ``data`` (JSON) for ``ttl`` seconds (default: the kind's TTL)."""
        put = _prepare_put(kind, session_id, data, ttl, self._ttls, self._max_bytes)
        with redis_errors(f"writing session {put.key}"):
            if not durable:
                await self._client.set(put.key, put.raw, ex=put.ttl)
                return
            if isinstance(self._client, aredis.RedisCluster):
                acked = await self._put_on_primary(self._client, put)
            else:
                pipe = self._durable_pipe(put)
                acked = (await pipe.execute())[1]
        _check_replicated(put.key, int(acked), self._replica_timeout_ms)

    async def _put_on_primary(self, client: aredis.RedisCluster, put: _Put) -> Any:
        """SET and WAIT on one connection to the primary of the key's slot; the WAIT reply."""
        retry: Retry | None = None
        budget = _Budget(timeout_of(client))
        with deadline(budget.deadline):
            while True:
                node = _node_for(client, put.key, retry)
                commands = [
                    PipelineCommand(0, "SET", put.key, put.raw, "EX", put.ttl),
                    PipelineCommand(1, "WAIT", 1, self._replica_timeout_ms),
                ]
                if retry is not None and retry.ask is not None:
                    commands.insert(0, PipelineCommand(0, "ASKING"))
                budget.attempt()
                try:
                    if node is None:
                        raise redis.exceptions.ConnectionError(f"no cluster node serves {put.key}")
                    # The node's pipeline sends every command down one of its connections.
                    await node.execute_pipeline(commands)
                    failed = [c.result for c in commands if isinstance(c.result, Exception)]
                    if failed:
                        raise failed[0]
                    return commands[-1].result
                except RedisError as exc:
                    retry, pause = budget.after(exc)
                    if pause:
                        await asyncio.sleep(pause)
                    if retry.refresh:
                        await refresh_slots_async(client)

    async def get(self, kind: str, session_id: str) -> Any:
        """The session's data, or ``None``; a hit restarts the kind's TTL."""
        key = keys.session(kind, session_id)
        with redis_errors(f"reading session {key}"):
            raw = await self._client.getex(key, ex=_codec.session_ttl(kind, self._ttls))
        return _codec.decode(raw)

    async def delete(self, kind: str, session_id: str) -> bool:
        """Remove the session; ``True`` if it existed."""
        key = keys.session(kind, session_id)
        with redis_errors(f"deleting session {key}"):
            return bool(await self._client.delete(key))
