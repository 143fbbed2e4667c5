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
from typing import Any

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
    """What the twins do with one pub/sub message; returns an event to yield, or None."""

    def __init__(self, targets: tuple[str, ...], liveness: Liveness) -> None:
        self.channels, self.patterns = split_targets(targets)
        self.live = liveness
        self.token = f"aragora-liveness-{uuid.uuid4().hex}"
        self.label = ",".join(targets)

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

    def gap(self, now: float) -> _codec.Event | None:
        found = self.live.recovered(now)
        if found is None:
            return None
        since, until, reason = found
        wall = time.time() - time.monotonic()  # the event carries wall-clock times, like others
        return _codec.gap_event(self.label, since + wall, until + wall, reason)


class Subscription(Polled):
    """Events from channels and patterns (sync). Iterate it, or call :meth:`get`."""

    def __init__(self, client: SyncClient, targets: tuple[str, ...], liveness: Liveness) -> None:
        self._client = client
        self._read = _Reading(targets, liveness)
        self._pubsub: PubSub | None = None
        self._closed = False

    @classmethod
    def open(cls, client: SyncClient, targets: tuple[str, ...], liveness: Liveness) -> Subscription:
        """Subscribe now; redis-py errors propagate (the bus maps them)."""
        sub = cls(client, targets, liveness)
        sub._connect()
        return sub

    def _connect(self) -> None:
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]  # RedisCluster.pubsub
        try:
            if self._read.channels:
                pubsub.subscribe(*self._read.channels)
            if self._read.patterns:
                pubsub.psubscribe(*self._read.patterns)
        except BaseException:
            pubsub.close()
            raise
        self._pubsub = pubsub
        self._read.live.started(time.monotonic(), len(self._read.channels + self._read.patterns))

    def _drop(self, reason: str) -> None:
        self._read.live.lost(time.monotonic(), reason)
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None

    def get(self, timeout: float | None = None) -> _codec.Event | None:
        """The next event (or gap marker); ``None`` if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout if timeout is not None else math.inf
        live = self._read.live
        while not self._closed:
            now = time.monotonic()
            if self._pubsub is None:
                try:
                    self._connect()
                except RedisError:
                    if now >= deadline:
                        return None
                    time.sleep(min(RECONNECT_PAUSE_S, max(0.0, deadline - now)))
                    continue
                if (gap := self._read.gap(time.monotonic())) is not None:
                    return gap
                continue
            try:
                if live.deaf(now):
                    self._drop(f"no PONG within {live.dead_after} s")
                    continue
                # Drain what already arrived before a PING: after a switch the PING
                # reconnects to the new master and unread messages would be dropped.
                message = self._pubsub.get_message(timeout=0.0)
                if message is None and live.ping_due(now):
                    self._pubsub.ping(self._read.token)
                    live.pinged(now)
                if message is None:
                    message = self._pubsub.get_message(timeout=live.wait(now, deadline))
            except (AuthenticationError, NoPermissionError) as exc:
                raise RedisUnavailable(f"subscription to {self._read.label}: {exc}") from exc
            except RedisError as exc:
                self._drop(f"{type(exc).__name__}: {exc}")
                continue
            now = time.monotonic()
            if message is not None and (event := self._read.interpret(message, now)) is not None:
                return event
            if now >= deadline:
                return None
        return None

    @property
    def gaps(self) -> list[tuple[float, float, str]]:
        """Every gap so far as (since, until, reason), monotonic-clock seconds."""
        return list(self._read.live.gaps)

    def close(self) -> None:
        """Unsubscribe and release the connection."""
        self._closed = True
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None


class AsyncSubscription(AsyncPolled):
    """The asyncio twin of :class:`Subscription`; build it with ``await bus.subscribe(...)``."""

    def __init__(self, client: AsyncClient, targets: tuple[str, ...], liveness: Liveness) -> None:
        self._client = client
        self._read = _Reading(targets, liveness)
        self._pubsub: AsyncPubSub | None = None
        self._closed = False

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
            if self._read.channels:
                await pubsub.subscribe(*self._read.channels)
            if self._read.patterns:
                await pubsub.psubscribe(*self._read.patterns)
        except BaseException:
            await pubsub.aclose()
            raise
        self._pubsub = pubsub
        self._read.live.started(time.monotonic(), len(self._read.channels + self._read.patterns))

    async def _drop(self, reason: str) -> None:
        self._read.live.lost(time.monotonic(), reason)
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    async def get(self, timeout: float | None = None) -> _codec.Event | None:
        """The next event (or gap marker); ``None`` if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout if timeout is not None else math.inf
        live = self._read.live
        while not self._closed:
            now = time.monotonic()
            if self._pubsub is None:
                try:
                    await self._connect()
                except RedisError:
                    if now >= deadline:
                        return None
                    await asyncio.sleep(min(RECONNECT_PAUSE_S, max(0.0, deadline - now)))
                    continue
                if (gap := self._read.gap(time.monotonic())) is not None:
                    return gap
                continue
            try:
                if live.deaf(now):
                    await self._drop(f"no PONG within {live.dead_after} s")
                    continue
                # Drain what already arrived before a PING: after a switch the PING
                # reconnects to the new master and unread messages would be dropped.
                message = await self._pubsub.get_message(timeout=0.0)
                if message is None and live.ping_due(now):
                    await self._pubsub.ping(self._read.token)
                    live.pinged(now)
                if message is None:
                    message = await self._pubsub.get_message(timeout=live.wait(now, deadline))
            except (AuthenticationError, NoPermissionError) as exc:
                raise RedisUnavailable(f"subscription to {self._read.label}: {exc}") from exc
            except RedisError as exc:
                await self._drop(f"{type(exc).__name__}: {exc}")
                continue
            now = time.monotonic()
            if message is not None and (event := self._read.interpret(message, now)) is not None:
                return event
            if now >= deadline:
                return None
        return None

    @property
    def gaps(self) -> list[tuple[float, float, str]]:
        """Every gap so far as (since, until, reason), monotonic-clock seconds."""
        return list(self._read.live.gaps)

    async def aclose(self) -> None:
        """Unsubscribe and release the connection."""
        self._closed = True
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
