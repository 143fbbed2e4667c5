"""The one check both web middlewares make: a limiter's decision, or the reply that refuses.

Kept apart from :mod:`aragora_redis._httplimit` (no I/O) and from the framework
modules, so :mod:`aragora_redis.asgi` and :mod:`aragora_redis.aiohttp` differ only in
how they read a request and write a response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from redis.exceptions import RedisError

from . import _httplimit as core
from ._bucket import Decision
from .errors import RedisUnavailable


@runtime_checkable
class AsyncLimiter(Protocol):
    """What a middleware needs of a limiter: :meth:`AsyncRateLimiter.hit`."""

    async def hit(
        self, key: str, *, rate: float, burst: float, cost: float = 1, scope: str = ...
    ) -> Decision:
        """Take ``cost`` tokens from ``key``'s bucket."""
        ...


#: An :class:`~aragora_redis.ratelimit.AsyncRateLimiter`, or a callable giving one
#: (the stores are usually made after the app, at its startup).
LimiterSource = AsyncLimiter | Callable[[], AsyncLimiter]


def resolve(source: LimiterSource) -> Callable[[], AsyncLimiter]:
    """A callable giving the limiter, whichever ``source`` is."""
    if isinstance(source, AsyncLimiter):
        limiter = source
        return lambda: limiter
    return source


async def decide(
    limiter: AsyncLimiter, policy: core.Policy, caller: str, retry_after: int
) -> Decision | core.Reply:
    """The decision on an allowed request, or the 429 / 503 reply.

    A fail-closed limiter without Redis raises RateLimiterUnavailable (a
    RedisUnavailable): that is the 503, never an error of the app.
    """
    try:
        decision = await limiter.hit(
            core.bucket(policy, caller),
            rate=policy.rate,
            burst=policy.burst,
            cost=policy.cost,
            scope=core.HTTP_SCOPE,
        )
    except (RedisUnavailable, RedisError):
        return core.unavailable(policy, retry_after)
    if not decision.allowed:
        return core.denied(policy, decision)
    return decision


async def check(
    limiter: AsyncLimiter, policy: core.Policy, caller: str, retry_after: int
) -> list[core.Header] | core.Reply:
    """The header fields of an allowed request, or the 429 / 503 reply (see :func:`decide`)."""
    got = await decide(limiter, policy, caller, retry_after)
    return got if isinstance(got, core.Reply) else core.headers(policy, got)
