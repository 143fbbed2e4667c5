"""Live pub/sub subscriptions that survive a failover: ``Subscription`` and ``AsyncSubscription``.

Pub/sub is at-most-once. What these add to redis-py's PubSub: their own PING every
half second (a frozen or demoted master is detected within about a second, see
:mod:`aragora_redis._liveness`), a reconnect that asks Sentinel for the master
again and re-subscribes, and a gap event (``event.is_gap``) telling the caller
that events between two times may have been missed.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis.asyncio as aredis
from redis.asyncio.client import PubSub as AsyncPubSub
from redis.client import PubSub
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from . import _codec
from ._liveness import Liveness
from ._parse import text
from ._poll import AsyncPolled, Polled
from .connection import AsyncClient, SyncClient
from .errors import RedisUnavailable

_CONFIRMATIONS = ("subscribe", "psubscribe")
_MESSAGES = ("message", "pmessage")
#: Pause between reconnect attempts while no master answers.
RECONNECT_PAUSE_S = 0.1


def split_targets(targets: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Channels and glob patterns (``*``, ``?``, ``[``) among ``targets``."""
    patterns = [t for t in targets if any(c in t for c in "*?[")]
    return [t for t in targets if t not in patterns], patterns


class _Reading:
    """What the twins decide around their Redis calls: events to yield, pauses, gaps."""

    def __init__(self, targets: tuple[str, ...], liveness: Liveness) -> None:
        self.channels, self.patterns = split_targets(targets)
        self.live = liveness
        self.token = f"aragora-liveness-{uuid.uuid4().hex}"
        self.label = ",".join(targets)

    def subscribing(self, pubsub: Any) -> list[tuple[Callable[..., Any], list[str]]]:
        """The calls that subscribe ``pubsub``: SUBSCRIBE the channels, PSUBSCRIBE the patterns."""
        calls = [(pubsub.subscribe, self.channels), (pubsub.psubscribe, self.patterns)]
        return [(call, targets) for call, targets in calls if targets]

    def started(self, now: float) -> None:
        """Subscribed to every target: the liveness clock starts."""
        self.live.started(now, len(self.channels + self.patterns))

    def interpret(self, message: dict[str, Any], now: float) -> _codec.Event | None:
        kind = message["type"]
        if kind == "pong":
            self.live.ponged(now)
        elif kind in _CONFIRMATIONS and self.live.confirmed(now):
            return self.gap(now)
        elif kind in _MESSAGES:
            self.live.heard(now)
            return _codec.decode_event(message["data"], text(message["channel"]))
        return None

    def outcome(self, message: dict[str, Any] | None, deadline: float) -> Outcome:
        """After a read: (True, event) to return it, (True, None) at the deadline, else go on."""
        now = time.monotonic()
        if message is not None and (event := self.interpret(message, now)) is not None:
            return True, event
        return now >= deadline, None

    def connected(self, now: float) -> Outcome:
        """After a (re)connect: (True, gap event) when it ends a gap, else go on."""
        gap = self.gap(now)
        return gap is not None, gap

    def gap(self, now: float) -> _codec.Event | None:
        found = self.live.recovered(now)
        if found is None:
            return None
        since, until, reason = found
        wall = time.time() - time.monotonic()  # the event carries wall-clock times, like others
        return _codec.gap_event(self.label, since + wall, until + wall, reason)

    @staticmethod
    def pause(now: float, deadline: float) -> float | None:
        """How long to wait before reconnecting again; ``None``: the deadline has passed."""
        return None if now >= deadline else min(RECONNECT_PAUSE_S, max(0.0, deadline - now))

    def deafness(self, now: float) -> str | None:
        """Why the connection must be dropped unheard (no PONG in time), or ``None``."""
        return f"no PONG within {self.live.dead_after} s" if self.live.deaf(now) else None

    def failure(self, exc: RedisError) -> str:
        """Why the connection is dropped after ``exc``; auth errors, which no reconnect
        mends, are raised as :class:`RedisUnavailable` instead."""
        if isinstance(exc, (AuthenticationError, NoPermissionError)):
            raise RedisUnavailable(f"subscription to {self.label}: {exc}") from exc
        return f"{type(exc).__name__}: {exc}"


#: (done, event): whether ``get`` returns now, and what.
Outcome = tuple[bool, _codec.Event | None]


C = TypeVar("C")
P = TypeVar("P")


class _Subscribed(Generic[C, P]):
    """What both twins hold: the client, the reading state, the pubsub while connected."""

    def __init__(self, client: C, targets: tuple[str, ...], liveness: Liveness) -> None:
        self._client = client
        self._read = _Reading(targets, liveness)
        self._pubsub: P | None = None
        self._closed = False

    @property
    def gaps(self) -> list[tuple[float, float, str]]:
        """Every gap so far as (since, until, reason), monotonic-clock seconds."""
        return list(self._read.live.gaps)


class Subscription(_Subscribed[SyncClient, PubSub], Polled):
    """Events from channels and patterns (sync). Iterate it, or call :meth:`get`."""

    @classmethod
    def open(cls, client: SyncClient, targets: tuple[str, ...], liveness: Liveness) -> Subscription:
        """Subscribe now; redis-py errors propagate (the bus maps them)."""
        sub = cls(client, targets, liveness)
        sub._connect()
        return sub

    def _connect(self) -> None:
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]  # RedisCluster.pubsub
        try:
            for subscribe, targets in self._read.subscribing(pubsub):
                subscribe(*targets)
        except BaseException:
            pubsub.close()
            raise
        self._pubsub = pubsub
        self._read.started(time.monotonic())

    def _drop(self, reason: str) -> None:
        self._read.live.lost(time.monotonic(), reason)
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None

    def get(self, timeout: float | None = None) -> _codec.Event | None:
        """The next event (or gap marker); ``None`` if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout if timeout is not None else math.inf
        while not self._closed:
            if self._pubsub is None:
                done, event = self._reconnect(deadline)
            else:
                done, event = self._receive(self._pubsub, deadline)
            if done:
                return event
        return None

    def _reconnect(self, deadline: float) -> Outcome:
        now = time.monotonic()
        try:
            self._connect()
        except RedisError:
            if (pause := self._read.pause(now, deadline)) is None:
                return True, None
            time.sleep(pause)
            return False, None
        return self._read.connected(time.monotonic())

    def _receive(self, pubsub: PubSub, deadline: float) -> Outcome:
        now, live = time.monotonic(), self._read.live
        try:
            if (deaf := self._read.deafness(now)) is not None:
                self._drop(deaf)
                return False, None
            # Drain what already arrived before a PING: after a switch the PING
            # reconnects to the new master and unread messages would be dropped.
            message = pubsub.get_message(timeout=0.0)
            if message is None and live.ping_due(now):
                pubsub.ping(self._read.token)
                live.pinged(now)
            if message is None:
                message = pubsub.get_message(timeout=live.wait(now, deadline))
        except RedisError as exc:
            self._drop(self._read.failure(exc))
            return False, None
        return self._read.outcome(message, deadline)

    def close(self) -> None:
        """Unsubscribe and release the connection."""
        self._closed = True
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None


class AsyncSubscription(_Subscribed[AsyncClient, AsyncPubSub], AsyncPolled):
    """The asyncio twin of :class:`Subscription`; build it with ``await bus.subscribe(...)``."""

    @classmethod
    async def open(
        cls, client: AsyncClient, targets: tuple[str, ...], liveness: Liveness
    ) -> AsyncSubscription:
        """Subscribe now; redis-py errors propagate (the bus maps them)."""
        sub = cls(client, targets, liveness)
        await sub._connect()
        return sub

    async def _connect(self) -> None:
        if isinstance(self._client, aredis.RedisCluster):
            await self._client.initialize()  # its pubsub needs the slot map
        pubsub = self._client.pubsub()
        try:
            for subscribe, targets in self._read.subscribing(pubsub):
                await subscribe(*targets)
        except BaseException:
            await pubsub.aclose()
            raise
        self._pubsub = pubsub
        self._read.started(time.monotonic())

    async def _drop(self, reason: str) -> None:
        self._read.live.lost(time.monotonic(), reason)
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    async def get(self, timeout: float | None = None) -> _codec.Event | None:
        """The next event (or gap marker); ``None`` if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout if timeout is not None else math.inf
        while not self._closed:
            if self._pubsub is None:
                done, event = await self._reconnect(deadline)
            else:
                done, event = await self._receive(self._pubsub, deadline)
            if done:
                return event
        return None

    async def _reconnect(self, deadline: float) -> Outcome:
        now = time.monotonic()
        try:
            await self._connect()
        except RedisError:
            if (pause := self._read.pause(now, deadline)) is None:
                return True, None
            await asyncio.sleep(pause)
            return False, None
        return self._read.connected(time.monotonic())

    async def _receive(self, pubsub: AsyncPubSub, deadline: float) -> Outcome:
        now, live = time.monotonic(), self._read.live
        try:
            if (deaf := self._read.deafness(now)) is not None:
                await self._drop(deaf)
                return False, None
            # Drain what already arrived before a PING: after a switch the PING
            # reconnects to the new master and unread messages would be dropped.
            message = await pubsub.get_message(timeout=0.0)
            if message is None and live.ping_due(now):
                await pubsub.ping(self._read.token)
                live.pinged(now)
            if message is None:
                message = await pubsub.get_message(timeout=live.wait(now, deadline))
        except RedisError as exc:
            await self._drop(self._read.failure(exc))
            return False, None
        return self._read.outcome(message, deadline)

    async def aclose(self) -> None:
        """Unsubscribe and release the connection."""
        self._closed = True
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
