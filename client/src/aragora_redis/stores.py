"""The four stores a service imports the client for: ``connect`` and ``connect_async``.

::

    stores = aragora_redis.connect()          # reads ARAGORA_REDIS_* from the environment
    stores.rate_limiter.hit("api:alice", rate=5, burst=10)
    stores.sessions.put("auth", "s1", {"user": "alice"})
    stores.events.publish(keys.debate_channel("d1"), "vote", {"agent": "a"})
    stores.state.update("d1", lambda s: {**(s or {}), "round": 2})
    stores.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from ._follow import FailoverState
from ._options import subscriber_settings
from .connection import (
    AsyncClient,
    SyncClient,
    build_redis,
    build_redis_async,
    checked,
    checked_async,
    close_redis,
    close_redis_async,
)
from .events import AsyncEventBus, EventBus
from .ratelimit import AsyncRateLimiter, RateLimiter
from .sessions import AsyncSessionStore, SessionStore
from .settings import RedisSettings
from .state import AsyncDebateStateStore, DebateStateStore
from .watch import AsyncSentinelWatcher, SentinelWatcher


@dataclass(frozen=True)
class Stores:
    """The rate limiter, session store, event bus and debate state of one deployment."""

    settings: RedisSettings
    rate_limiter: RateLimiter
    sessions: SessionStore
    events: EventBus
    state: DebateStateStore
    client: SyncClient
    subscriber: SyncClient
    watcher: SentinelWatcher | None = None

    def close(self) -> None:
        """Stop the Sentinel watcher and close every connection the stores opened."""
        if self.watcher is not None:
            self.watcher.stop()
        self.rate_limiter.close()
        close_redis(self.client)
        close_redis(self.subscriber)

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class AsyncStores:
    """The asyncio twin of :class:`Stores`."""

    settings: RedisSettings
    rate_limiter: AsyncRateLimiter
    sessions: AsyncSessionStore
    events: AsyncEventBus
    state: AsyncDebateStateStore
    client: AsyncClient
    subscriber: AsyncClient
    watcher: AsyncSentinelWatcher | None = None

    async def close(self) -> None:
        """Stop the Sentinel watcher and close every connection the stores opened."""
        if self.watcher is not None:
            await self.watcher.stop()
        await self.rate_limiter.aclose()
        await close_redis_async(self.client)
        await close_redis_async(self.subscriber)

    async def __aenter__(self) -> AsyncStores:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _states(s: RedisSettings, watch: bool) -> tuple[FailoverState | None, FailoverState | None]:
    """The failover state of the stores' clients, and the rate limiter's.

    The limiter's has no write gate: a check must decide within its own short
    timeout (from memory when fail-open) rather than wait out a promotion.
    """
    if not watch or s.mode != "sentinel":
        return None, None
    return FailoverState(s.sentinel_master), FailoverState(s.sentinel_master, gate_timeout=0.0)


def connect(
    settings: RedisSettings | None = None, *, check: bool = True, watch: bool = True
) -> Stores:
    """Build the stores from ``settings`` (default: ARAGORA_REDIS_* of the environment).

    With ``check`` Redis must answer PING now; pass ``check=False`` to start while
    Redis is down (a fail-open rate limiter then decides from memory). In sentinel
    mode ``watch`` starts a :class:`SentinelWatcher` that steers every connection to
    a new master as soon as a sentinel announces it.
    """
    s = settings or RedisSettings.from_env()
    state, limiter_state = _states(s, watch)
    client = build_redis(s, failover=state)
    if check:
        checked(client, s)
    subscriber = build_redis(subscriber_settings(s), failover=state)
    watcher = None
    if state is not None and limiter_state is not None:
        watcher = SentinelWatcher(s, [state, limiter_state]).start()
    return Stores(
        settings=s,
        rate_limiter=RateLimiter.from_settings(s, failover=limiter_state),
        sessions=SessionStore(client, ttls=s.session_ttl_overrides),
        events=EventBus(client, subscriber),
        state=DebateStateStore(client),
        client=client,
        subscriber=subscriber,
        watcher=watcher,
    )


async def connect_async(
    settings: RedisSettings | None = None, *, check: bool = True, watch: bool = True
) -> AsyncStores:
    """The asyncio twin of :func:`connect`."""
    s = settings or RedisSettings.from_env()
    state, limiter_state = _states(s, watch)
    client = build_redis_async(s, failover=state)
    if check:
        await checked_async(client, s)
    subscriber = build_redis_async(subscriber_settings(s), failover=state)
    watcher = None
    if state is not None and limiter_state is not None:
        watcher = await AsyncSentinelWatcher(s, [state, limiter_state]).start()
    return AsyncStores(
        settings=s,
        rate_limiter=AsyncRateLimiter.from_settings(s, failover=limiter_state),
        sessions=AsyncSessionStore(client, ttls=s.session_ttl_overrides),
        events=AsyncEventBus(client, subscriber),
        state=AsyncDebateStateStore(client),
        client=client,
        subscriber=subscriber,
        watcher=watcher,
    )
