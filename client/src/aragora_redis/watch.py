"""Listen to the Sentinels: ``SentinelWatcher`` (a thread per sentinel) and its asyncio twin.

Every event about our master (+sdown, +odown, +selected-slave, +promoted-slave,
+switch-master, ...) is applied to the :class:`~aragora_redis._follow.FailoverState`
objects the clients share: the new master becomes the connections' hint the moment
a sentinel announces it, and commands wait while a replica is being promoted. The
events are also kept (``events``) for the failover drill's timeline.

Sentinel notices its own promotion only at its next INFO round, up to a second
later, so on +selected-slave the watcher asks the chosen replica for its ROLE every
few milliseconds and announces ``+promoted-slave`` itself (from ``role-probe``) as
soon as the replica answers "master".
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

from . import _metrics
from . import _options as o
from ._follow import CHANNELS, FailoverState, SentinelEvent, parse_role
from ._parse import text
from .settings import RedisSettings

#: Pause before reconnecting to a sentinel that went away.
RECONNECT_PAUSE_S = 0.5
#: Sentinel connections of the watcher time out quickly: a dead one must not stall it.
TIMEOUT_S = 1.0
#: How often the chosen replica is asked for its ROLE during a promotion, and for how long.
PROBE_EVERY_S = 0.01
PROBE_FOR_S = 5.0
PROBE = "role-probe"

Listener = Callable[[SentinelEvent], None]


class _Fanout:
    """The I/O-free part: turn a pub/sub message into an event and hand it on."""

    def __init__(self, states: Sequence[FailoverState], listener: Listener | None) -> None:
        self.states = list(states)
        self.listener = listener
        self.events: list[SentinelEvent] = []
        self._lock = threading.Lock()

    def deliver(self, message: dict[str, Any], sentinel: str) -> SentinelEvent | None:
        if message.get("type") != "message":
            return None
        event = SentinelEvent(
            time.monotonic(), text(message["channel"]), text(message["data"]), sentinel
        )
        self.announce(event)
        return event

    def probe_target(self, event: SentinelEvent) -> tuple[str, int] | None:
        """The replica to watch when ``event`` starts a promotion of one of our masters."""
        if event.channel != "+selected-slave":
            return None
        if not any(event.master_name == st.master_name for st in self.states):
            return None
        words = event.data.split()
        return (words[2], int(words[3])) if len(words) > 3 else None

    def promoted(self, selected: SentinelEvent) -> None:
        """The probed replica answered "master": announce it like Sentinel would."""
        self.announce(SentinelEvent(time.monotonic(), "+promoted-slave", selected.data, PROBE))

    def announce(self, event: SentinelEvent) -> None:
        with self._lock:
            self.events.append(event)
        followed = None
        for state in self.states:
            deposed = state.heard(event)
            if deposed is not None:
                state.interrupt(deposed)
                followed = deposed
        if followed is not None:  # once per failover, however many states and sentinels
            name, why = event.master_name or "", f"{event.channel} from {event.sentinel}"
            _metrics.followed("sentinel", name, followed, event.new_master(), why)
        if self.listener is not None:
            self.listener(event)


def _node_kwargs(s: RedisSettings) -> dict[str, Any]:
    kwargs = o.node_kwargs(s)
    kwargs.update(socket_timeout=0.2, socket_connect_timeout=0.2, health_check_interval=0)
    if s.ssl:
        kwargs["ssl"] = True
    return kwargs


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
        channels: Sequence[str] = CHANNELS,
    ) -> None:
        self._settings = settings
        self._fanout = _Fanout(states, listener)
        self._channels = tuple(channels)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: The sentinels ("host:port") whose subscription is in place right now.
        self.subscribed: set[str] = set()

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
                pubsub.subscribe(*self._channels)
                self.subscribed.add(name)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    event = self._fanout.deliver(message, name) if message else None
                    target = self._fanout.probe_target(event) if event else None
                    if event is not None and target is not None:
                        threading.Thread(
                            target=self._probe, args=(event, target), daemon=True
                        ).start()
            except RedisError:
                self.subscribed.discard(name)
                self._stop.wait(RECONNECT_PAUSE_S)
            finally:
                pubsub.close()
                client.close()

    def _probe(self, selected: SentinelEvent, target: tuple[str, int]) -> None:
        node = redis.Redis(host=target[0], port=target[1], **_node_kwargs(self._settings))
        end = time.monotonic() + PROBE_FOR_S
        try:
            while time.monotonic() < end and not self._stop.is_set():
                try:
                    if parse_role(node.role()).role == "master":
                        self._fanout.promoted(selected)
                        return
                except RedisError:
                    pass
                time.sleep(PROBE_EVERY_S)
        finally:
            node.close()

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
                    event = self._fanout.deliver(message, name) if message else None
                    target = self._fanout.probe_target(event) if event else None
                    if event is not None and target is not None:
                        self._tasks.append(asyncio.create_task(self._probe(event, target)))
            except RedisError:
                await asyncio.sleep(RECONNECT_PAUSE_S)
            finally:
                await pubsub.aclose()
                await client.aclose()

    async def _probe(self, selected: SentinelEvent, target: tuple[str, int]) -> None:
        node = aredis.Redis(host=target[0], port=target[1], **_node_kwargs(self._settings))
        end = time.monotonic() + PROBE_FOR_S
        try:
            while time.monotonic() < end:
                try:
                    if parse_role(await node.role()).role == "master":
                        self._fanout.promoted(selected)
                        return
                except RedisError:
                    pass
                await asyncio.sleep(PROBE_EVERY_S)
        finally:
            await node.aclose()

    async def stop(self) -> None:
        """Stop listening."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
