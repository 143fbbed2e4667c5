"""Durable event subscriptions on Redis Streams: ``StreamSubscription`` and its asyncio twin.

Each channel has a stream (``aragora:stream:{<channel>}``, capped with MAXLEN ~).
A subscription remembers the last id it delivered per stream and, after any
error, reads again from there, so every event that reached the server (and
survived replication) is delivered exactly once to this subscriber. Pass
``last_ids`` from a previous subscription to resume across restarts.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from redis.exceptions import RedisError

from . import _codec, keys
from ._parse import text
from ._poll import AsyncPolled, Polled
from .connection import AsyncClient, SyncClient

#: How long one XREAD blocks; well under the subscription client's socket timeout.
BLOCK_MS = 500
BATCH = 256
#: Pause after a failed read while no master answers.
RETRY_PAUSE_S = 0.05
FIELD = b"e"


class _Cursor:
    """The I/O-free part: where each stream stands and what a reply delivers."""

    def __init__(self, channels: tuple[str, ...], last_ids: Mapping[str, str]) -> None:
        self.channel_of = {keys.stream(c): c for c in channels}
        self.last = {keys.stream(c): last_ids.get(c, "") for c in channels}
        self.delivered = dict(self.last)
        self.buffer: deque[tuple[str, _codec.Event]] = deque()

    def unresolved(self) -> list[str]:
        return [s for s, i in self.last.items() if not i]

    def resolve(self, stream: str, newest: Any) -> None:
        self.last[stream] = self.delivered[stream] = text(newest[0][0]) if newest else "0-0"

    def positions(self) -> dict[Any, Any]:
        return dict(self.last)

    def take(self, reply: Any) -> None:
        for stream, entries in reply or []:
            name = text(stream)
            for entry_id, fields in entries:
                ident = text(entry_id)
                self.last[name] = ident
                raw = fields.get(FIELD) or fields.get(FIELD.decode(), b"{}")
                event = _codec.decode_event(raw, self.channel_of[name], ident)
                self.buffer.append((name, event))

    def pop(self) -> _codec.Event:
        stream, event = self.buffer.popleft()
        self.delivered[stream] = event.stream_id or self.delivered[stream]
        return event

    @property
    def last_ids(self) -> dict[str, str]:
        return {self.channel_of[s]: i for s, i in self.delivered.items()}

    def next_block(self, deadline: float) -> int | None:
        """How long the next XREAD may block, in ms; ``None``: return :meth:`next_event` now."""
        if self.buffer:
            return None
        now = time.monotonic()
        if now >= deadline:
            return None
        return max(1, int(min(BLOCK_MS / 1000, deadline - now) * 1000))

    def next_event(self) -> _codec.Event | None:
        """The next buffered event, or ``None`` (the deadline has passed)."""
        return self.pop() if self.buffer else None


C = TypeVar("C")


class _Subscribed(Generic[C]):
    """What both twins hold: the client and the cursor; the ids to resume from."""

    def __init__(self, client: C, channels: tuple[str, ...], last_ids: Mapping[str, str]) -> None:
        self._client = client
        self._cursor = _Cursor(channels, last_ids)
        self._closed = False

    @property
    def last_ids(self) -> dict[str, str]:
        """The id of the last event delivered, per channel: pass it to resume later."""
        return self._cursor.last_ids


class StreamSubscription(_Subscribed[SyncClient], Polled):
    """Durable events (sync): iterate it, or call :meth:`get`."""

    @classmethod
    def open(
        cls, client: SyncClient, channels: tuple[str, ...], last_ids: Mapping[str, str]
    ) -> StreamSubscription:
        """Start reading after the newest event (or after ``last_ids``)."""
        sub = cls(client, channels, last_ids)
        sub._resolve()
        return sub

    def _resolve(self) -> None:
        # "Only new events" is pinned to a concrete id now, so a reconnect never skips any.
        for stream in self._cursor.unresolved():
            self._cursor.resolve(stream, self._client.xrevrange(stream, count=1))

    def get(self, timeout: float | None = None) -> _codec.Event | None:
        """The next event; ``None`` if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout if timeout is not None else math.inf
        while not self._closed:
            if (block := self._cursor.next_block(deadline)) is None:
                return self._cursor.next_event()
            try:
                self._resolve()
                reply = self._client.xread(self._cursor.positions(), count=BATCH, block=block)
                self._cursor.take(reply)
            except RedisError:
                time.sleep(RETRY_PAUSE_S)
        return None

    def close(self) -> None:
        """Stop reading."""
        self._closed = True


class AsyncStreamSubscription(_Subscribed[AsyncClient], AsyncPolled):
    """The asyncio twin of :class:`StreamSubscription`."""

    @classmethod
    async def open(
        cls, client: AsyncClient, channels: tuple[str, ...], last_ids: Mapping[str, str]
    ) -> AsyncStreamSubscription:
        """Start reading after the newest event (or after ``last_ids``)."""
        sub = cls(client, channels, last_ids)
        await sub._resolve()
        return sub

    async def _resolve(self) -> None:
        for stream in self._cursor.unresolved():
            self._cursor.resolve(stream, await self._client.xrevrange(stream, count=1))

    async def get(self, timeout: float | None = None) -> _codec.Event | None:
        """The next event; ``None`` if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout if timeout is not None else math.inf
        while not self._closed:
            if (block := self._cursor.next_block(deadline)) is None:
                return self._cursor.next_event()
            try:
                await self._resolve()
                reply = await self._client.xread(self._cursor.positions(), count=BATCH, block=block)
                self._cursor.take(reply)
            except RedisError:
                await asyncio.sleep(RETRY_PAUSE_S)
        return None

    async def aclose(self) -> None:
        """Stop reading."""
        self._closed = True
