"""Listen to the Sentinels: ``SentinelWatcher`` (a thread per sentinel) and its asyncio twin.

Every event about our master (+sdown, +odown, +selected-slave, +promoted-slave,
+switch-master, ...) is applied to the :class:`~aragora_redis._follow.FailoverState`
objects the clients share: the new master becomes the connections' hint the moment
a sentinel announces it, and commands wait while a replica is being promoted. The
events are also kept (``events``) for the failover drill's timeline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.exceptions import RedisError
from redis.retry import Retry

from . import _options as o
from ._follow import CHANNELS, FailoverState, SentinelEvent
from .settings import RedisSettings

#: Pause before reconnecting to a sentinel that went away.
RECONNECT_PAUSE_S = 0.5
#: Sentinel connections of the watcher time out quickly: a dead one must not stall it.
TIMEOUT_S = 1.0

Listener = Callable[[SentinelEvent], None]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Fanout:
    """The I/O-free part: turn a pub/sub message into an event and hand it on."""

    def __init__(self, states: Sequence[FailoverState], listener: Listener | None) -> None:
        self.states = list(states)
        self.listener = listener
        self.events: list[SentinelEvent] = []
        self._lock = threading.Lock()

    def deliver(self, message: dict[str, Any], sentinel: str) -> None:
        if message.get("type") != "message":
            return
        event = SentinelEvent(
            time.monotonic(), _text(message["channel"]), _text(message["data"]), sentinel
        )
        with self._lock:
            self.events.append(event)
        for state in self.states:
            state.heard(event)
        if self.listener is not None:
            self.listener(event)


def _kwargs(s: RedisSettings, retry: Any) -> dict[str, Any]:
    kwargs = o.sentinel_kwargs(s, retry)
    kwargs["socket_timeout"] = min(kwargs["socket_timeout"], TIMEOUT_S)
    kwargs["socket_connect_timeout"] = min(kwargs["socket_connect_timeout"], TIMEOUT_S)
    return kwargs


class SentinelWatcher:
    """Sync watcher: one daemon thread per sentinel; ``start()`` then ``stop()``."""

    def __init__(
        self,
        settings: RedisSettings,
        states: Sequence[FailoverState],
        listener: Listener | None = None,
    ) -> None:
        self._settings = settings
        self._fanout = _Fanout(states, listener)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def events(self) -> list[SentinelEvent]:
        """Every event heard so far, in arrival order."""
        return list(self._fanout.events)

    def start(self) -> SentinelWatcher:
        """Start listening (returns self)."""
        for host, port in o.sentinel_addresses(self._settings):
            thread = threading.Thread(
                target=self._listen, args=(host, port), name=f"sentinel-watch-{port}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _listen(self, host: str, port: int) -> None:
        name = f"{host}:{port}"
        kwargs = _kwargs(self._settings, Retry(o.no_backoff(), 0))
        while not self._stop.is_set():
            client = redis.Redis(host=host, port=port, **kwargs)
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(*CHANNELS)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None:
                        self._fanout.deliver(message, name)
            except RedisError:
                self._stop.wait(RECONNECT_PAUSE_S)
            finally:
                pubsub.close()
                client.close()

    def stop(self) -> None:
        """Stop listening and wait for the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)


class AsyncSentinelWatcher:
    """The asyncio twin of :class:`SentinelWatcher`: one task per sentinel."""

    def __init__(
        self,
        settings: RedisSettings,
        states: Sequence[FailoverState],
        listener: Listener | None = None,
    ) -> None:
        self._settings = settings
        self._fanout = _Fanout(states, listener)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def events(self) -> list[SentinelEvent]:
        """Every event heard so far, in arrival order."""
        return list(self._fanout.events)

    async def start(self) -> AsyncSentinelWatcher:
        """Start listening (returns self)."""
        for host, port in o.sentinel_addresses(self._settings):
            self._tasks.append(asyncio.create_task(self._listen(host, port)))
        return self

    async def _listen(self, host: str, port: int) -> None:
        name = f"{host}:{port}"
        kwargs = _kwargs(self._settings, AsyncRetry(o.no_backoff(), 0))
        while True:
            client = aredis.Redis(host=host, port=port, **kwargs)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(*CHANNELS)
                while True:
                    message = await pubsub.get_message(timeout=0.2)
                    if message is not None:
                        self._fanout.deliver(message, name)
            except RedisError:
                await asyncio.sleep(RECONNECT_PAUSE_S)
            finally:
                await pubsub.aclose()
                await client.aclose()

    async def stop(self) -> None:
        """Stop listening."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
