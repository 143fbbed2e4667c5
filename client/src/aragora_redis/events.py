"""WebSocket event bus: ``EventBus`` and ``AsyncEventBus``, side by side.

``publish(channel, type, payload)`` sends Aragora's envelope ``{type, payload,
instance_id, timestamp}`` with PUBLISH (at-most-once). With ``durable=True`` the
event is also appended to the channel's stream in the same round trip, and
``subscribe(..., durable=True)`` reads those streams and replays after reconnects.
Channels follow Aragora: :func:`aragora_redis.keys.debate_channel`,
:func:`aragora_redis.keys.broadcast_channel`.

A publish whose reply is lost (a reset, a timeout) is not sent again: PUBLISH and
XADD are not idempotent, and a second run would deliver the event twice. It raises
RedisUnavailable (the event may or may not be out); a publish refused as "not the
primary" did not run and is sent again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar, overload

import redis
import redis.asyncio as aredis

from . import _codec, _lua, keys
from ._boundary import redis_errors
from ._liveness import DEFAULT_DEAD_AFTER_S, DEFAULT_PING_EVERY_S, Liveness
from ._moved import at_most_once
from .connection import AsyncClient, SyncClient
from .errors import InvalidValue
from .streams import AsyncStreamSubscription, StreamSubscription
from .subscriptions import AsyncSubscription, Subscription, split_targets

C = TypeVar("C", SyncClient, AsyncClient)
#: Approximate cap of each channel's stream (XADD MAXLEN ~).
DEFAULT_STREAM_MAXLEN = 10_000


class _Outbox:
    """The I/O-free half of publishing: envelope, size check, stream arguments."""

    def __init__(self, instance_id: str | None, max_bytes: int, maxlen: int) -> None:
        self.instance_id = instance_id or f"aragora-{uuid.uuid4().hex[:12]}"
        self.max_bytes = max_bytes
        self.maxlen = maxlen

    def wire(self, type_: str, payload: Any) -> bytes:
        event = _codec.Event(type_, payload, self.instance_id, time.time())
        return _codec.encode_event(event, max_bytes=self.max_bytes)


def _check_targets(targets: tuple[str, ...], durable: bool) -> None:
    if not targets:
        raise InvalidValue("subscribe: name at least one channel or pattern")
    if durable and split_targets(targets)[1]:
        raise InvalidValue(
            f"subscribe: durable subscriptions take channels, not patterns: {targets}"
        )


class _Bus(Generic[C]):
    """What both twins hold: the publishing and subscribing clients and the outbox."""

    def __init__(
        self,
        client: C,
        subscriber: C | None = None,
        *,
        instance_id: str | None = None,
        max_bytes: int = _codec.DEFAULT_MAX_BYTES,
        stream_maxlen: int = DEFAULT_STREAM_MAXLEN,
        ping_every_s: float = DEFAULT_PING_EVERY_S,
        dead_after_s: float = DEFAULT_DEAD_AFTER_S,
    ) -> None:
        self._client: C = client
        self._subscriber: C = subscriber or client
        self._out = _Outbox(instance_id, max_bytes, stream_maxlen)
        self._liveness = (ping_every_s, dead_after_s)
        # A cluster's durable publish (its pipelines refuse PUBLISH).
        self._durable: Any = client.register_script(_lua.source("publish_durable"))

    @property
    def instance_id(self) -> str:
        """The id this process stamps on the events it publishes."""
        return self._out.instance_id


class EventBus(_Bus[SyncClient]):
    """Publish and subscribe to events (sync). Build it with :func:`aragora_redis.connect`.

    ``subscriber`` is the client subscriptions use: the stores give it short
    timeouts so that a dead master is noticed quickly.
    """

    def publish(self, channel: str, type: str, payload: Any, *, durable: bool = False) -> int:
        """Send an event; returns how many live subscribers heard it."""
        raw = self._out.wire(type, payload)
        with redis_errors(f"publishing {type!r} on {channel}"), at_most_once():
            if not durable:
                return int(self._client.publish(channel, raw))
            if isinstance(self._client, redis.RedisCluster):
                args = (channel, raw, self._out.maxlen)
                return int(self._durable(keys=[keys.stream(channel)], args=args))
            pipe = self._client.pipeline(transaction=False)
            pipe.xadd(keys.stream(channel), {"e": raw}, maxlen=self._out.maxlen, approximate=True)
            pipe.publish(channel, raw)
            return int(pipe.execute()[1])

    @overload
    def subscribe(
        self, *targets: str, durable: Literal[False] = False, last_ids: None = None
    ) -> Subscription: ...

    @overload
    def subscribe(
        self, *targets: str, durable: Literal[True], last_ids: Mapping[str, str] | None = None
    ) -> StreamSubscription: ...

    def subscribe(
        self, *targets: str, durable: bool = False, last_ids: Mapping[str, str] | None = None
    ) -> Subscription | StreamSubscription:
        """Events from channels and glob patterns; ``durable`` reads the streams instead."""
        _check_targets(targets, durable)
        with redis_errors(f"subscribing to {', '.join(targets)}"):
            if durable:
                return StreamSubscription.open(self._subscriber, targets, last_ids or {})
            return Subscription.open(self._subscriber, targets, Liveness(*self._liveness))


class AsyncEventBus(_Bus[AsyncClient]):
    """The asyncio twin of :class:`EventBus`."""

    async def publish(self, channel: str, type: str, payload: Any, *, durable: bool = False) -> int:
        """Send an event; returns how many live subscribers heard it."""
        raw = self._out.wire(type, payload)
        with redis_errors(f"publishing {type!r} on {channel}"), at_most_once():
            if not durable:
                return int(await self._client.publish(channel, raw))
            if isinstance(self._client, aredis.RedisCluster):
                args = (channel, raw, self._out.maxlen)
                return int(await self._durable(keys=[keys.stream(channel)], args=args))
            pipe = self._client.pipeline(transaction=False)
            pipe.xadd(keys.stream(channel), {"e": raw}, maxlen=self._out.maxlen, approximate=True)
            pipe.publish(channel, raw)
            return int((await pipe.execute())[1])

    @overload
    async def subscribe(
        self, *targets: str, durable: Literal[False] = False, last_ids: None = None
    ) -> AsyncSubscription: ...

    @overload
    async def subscribe(
        self, *targets: str, durable: Literal[True], last_ids: Mapping[str, str] | None = None
    ) -> AsyncStreamSubscription: ...

    async def subscribe(
        self, *targets: str, durable: bool = False, last_ids: Mapping[str, str] | None = None
    ) -> AsyncSubscription | AsyncStreamSubscription:
        """Events from channels and glob patterns; ``durable`` reads the streams instead."""
        _check_targets(targets, durable)
        with redis_errors(f"subscribing to {', '.join(targets)}"):
            if durable:
                return await AsyncStreamSubscription.open(self._subscriber, targets, last_ids or {})
            return await AsyncSubscription.open(
                self._subscriber, targets, Liveness(*self._liveness)
            )
