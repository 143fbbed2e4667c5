"""Debate state: ``DebateStateStore`` and ``AsyncDebateStateStore``, side by side.

Keys ``aragora:debate:<id>`` (JSON, TTL 86400 by default) and the index
``aragora:debates:active``, a sorted set scored by each state's expiry time, so
entries leave it when their state expires (pruned on every write and listing) or is
deleted. ``update`` is an optimistic read-modify-write: GET, the caller's function,
then a compare-and-set script, retried on conflict until a deadline.

Writes are sent again after a lost reply (a reset, a timeout) except the
compare-and-set: run twice, its second run would lose to its own first one and the
caller's function would be applied twice; a lost reply raises RedisUnavailable
instead (the update may or may not have happened). ``save`` and ``delete`` are
idempotent and are sent again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from . import _codec, _lua, keys
from ._boundary import redis_errors
from ._moved import at_most_once
from .connection import AsyncClient, SyncClient
from .errors import UpdateConflict

C = TypeVar("C", SyncClient, AsyncClient)
#: How long ``update`` keeps retrying lost compare-and-set races.
DEFAULT_UPDATE_DEADLINE_S = 10.0


def _backoff(attempt: int) -> float:
    # Jitter spreads the losers of a race so they do not collide again in lockstep.
    return random.uniform(0, min(0.05, 0.001 * 2 ** min(attempt, 6)))


class _Race:
    """The bookkeeping of one ``update``, I/O-free: its key, attempts and deadline."""

    def __init__(self, debate_id: str, deadline_s: float) -> None:
        self.key = keys.debate(debate_id)
        self._deadline_s = deadline_s
        self._end = time.monotonic() + deadline_s
        self._attempts = 0

    def lost(self) -> float:
        """After a lost compare-and-set: the pause before the next try, or UpdateConflict."""
        self._attempts += 1
        if time.monotonic() >= self._end:
            raise UpdateConflict(
                f"{self.key}: {self._attempts} compare-and-set attempts lost"
                f" within {self._deadline_s} s"
            )
        return _backoff(self._attempts)


class _States(Generic[C]):
    """What both twins hold: the client, the TTL, the limit and the compare-and-set script."""

    def __init__(
        self,
        client: C,
        *,
        ttl: int = _codec.DEBATE_STATE_TTL,
        max_bytes: int = _codec.DEFAULT_MAX_BYTES,
    ) -> None:
        self._client: C = client
        self._ttl = _codec.check_ttl(ttl)
        self._max_bytes = max_bytes
        self._cas: Any = client.register_script(_lua.source("compare_and_set"))

    # The I/O-free halves of save, delete and active: each queues its commands on a
    # pipeline (queuing sends nothing) and the twin only executes it.

    def _encode(self, debate_id: str, state: Any) -> bytes:
        return _codec.encode(state, max_bytes=self._max_bytes, what=f"state of {debate_id}")

    def _save_pipe(self, debate_id: str, state: Any) -> tuple[str, Any]:
        key = keys.debate(debate_id)
        raw = self._encode(debate_id, state)
        now = time.time()
        pipe = self._client.pipeline(transaction=False)
        pipe.set(key, raw, ex=self._ttl)
        pipe.zadd(keys.ACTIVE_DEBATES, {debate_id: now + self._ttl})
        pipe.zremrangebyscore(keys.ACTIVE_DEBATES, "-inf", now)
        return key, pipe

    def _delete_pipe(self, debate_id: str) -> tuple[str, Any]:
        key = keys.debate(debate_id)
        pipe = self._client.pipeline(transaction=False)
        pipe.delete(key)
        pipe.zrem(keys.ACTIVE_DEBATES, debate_id)
        return key, pipe

    def _active_pipe(self) -> Any:
        now = time.time()
        pipe = self._client.pipeline(transaction=False)
        pipe.zremrangebyscore(keys.ACTIVE_DEBATES, "-inf", now)
        pipe.zrangebyscore(keys.ACTIVE_DEBATES, now, "+inf")
        return pipe


def _active_ids(members: list[Any]) -> list[str]:
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)


class DebateStateStore(_States[SyncClient]):
    """Debate state on Redis (sync). Build it with :func:`aragora_redis.connect`."""

    def save(self, debate_id: str, state: Any) -> None:
        """Store the whole state and mark the debate active for the TTL."""
        key, pipe = self._save_pipe(debate_id, state)
        with redis_errors(f"saving {key}"):
            pipe.execute()

    def load(self, debate_id: str) -> Any:
        """The state, or ``None`` when there is none (never saved, expired or deleted)."""
        key = keys.debate(debate_id)
        with redis_errors(f"loading {key}"):
            return _codec.decode(self._client.get(key))

    def update(
        self,
        debate_id: str,
        fn: Callable[[Any], Any],
        *,
        deadline_s: float = DEFAULT_UPDATE_DEADLINE_S,
    ) -> Any:
        """Atomically replace the state with ``fn(state)`` (``state`` is ``None`` if absent).

        ``fn`` may run more than once when other writers race; it must not have side
        effects. Returns the stored new state; raises :class:`UpdateConflict` at the deadline.
        """
        race = _Race(debate_id, deadline_s)
        key = race.key
        while True:
            with redis_errors(f"reading {key} for update"):
                raw = self._client.get(key)
            new = fn(_codec.decode(raw))
            new_raw = self._encode(debate_id, new)
            with redis_errors(f"updating {key}"), at_most_once():  # see the module docstring
                written = self._cas(keys=[key], args=[raw or b"", new_raw, self._ttl])
                if written:
                    self._client.zadd(keys.ACTIVE_DEBATES, {debate_id: time.time() + self._ttl})
                    return new
            time.sleep(race.lost())

    def delete(self, debate_id: str) -> bool:
        """Remove the state and its index entry; ``True`` if the state existed."""
        key, pipe = self._delete_pipe(debate_id)
        with redis_errors(f"deleting {key}"):
            return bool(pipe.execute()[0])

    def active(self) -> list[str]:
        """Ids of debates whose state has not expired or been deleted."""
        pipe = self._active_pipe()
        with redis_errors("listing active debates"):
            members = pipe.execute()[1]
        return _active_ids(members)


class AsyncDebateStateStore(_States[AsyncClient]):
    """The asyncio twin of :class:`DebateStateStore`."""

    async def save(self, debate_id: str, state: Any) -> None:
        """Store the whole state and mark the debate active for the TTL."""
        key, pipe = self._save_pipe(debate_id, state)
        with redis_errors(f"saving {key}"):
            await pipe.execute()

    async def load(self, debate_id: str) -> Any:
        """The state, or ``None`` when there is none (never saved, expired or deleted)."""
        key = keys.debate(debate_id)
        with redis_errors(f"loading {key}"):
            return _codec.decode(await self._client.get(key))

    async def update(
        self,
        debate_id: str,
        fn: Callable[[Any], Any | Awaitable[Any]],
        *,
        deadline_s: float = DEFAULT_UPDATE_DEADLINE_S,
    ) -> Any:
        """Atomically replace the state with ``fn(state)``; ``fn`` may be sync or async."""
        race = _Race(debate_id, deadline_s)
        key = race.key
        while True:
            with redis_errors(f"reading {key} for update"):
                raw = await self._client.get(key)
            new = fn(_codec.decode(raw))
            if isinstance(new, Awaitable):
                new = await new
            new_raw = self._encode(debate_id, new)
            with redis_errors(f"updating {key}"), at_most_once():  # see the module docstring
                written = await self._cas(keys=[key], args=[raw or b"", new_raw, self._ttl])
                if written:
                    await self._client.zadd(
                        keys.ACTIVE_DEBATES, {debate_id: time.time() + self._ttl}
                    )
                    return new
            await asyncio.sleep(race.lost())

    async def delete(self, debate_id: str) -> bool:
        """Remove the state and its index entry; ``True`` if the state existed."""
        key, pipe = self._delete_pipe(debate_id)
        with redis_errors(f"deleting {key}"):
            return bool((await pipe.execute())[0])

    async def active(self) -> list[str]:
        """Ids of debates whose state has not expired or been deleted."""
        pipe = self._active_pipe()
        with redis_errors("listing active debates"):
            members = (await pipe.execute())[1]
        return _active_ids(members)
