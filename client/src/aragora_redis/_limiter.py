"""I/O-free: the failure policy the sync and asyncio rate limiters share.

The limiter's client options (a short timeout, no retries) and what a failed call
turns into: a breaker count, and the in-memory fallback or
:class:`RateLimiterUnavailable`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError

from . import _metrics
from ._breaker import Breaker
from ._bucket import Decision, MemoryBuckets, Prepared
from ._script import Replies
from .errors import ConfigError, RateLimiterUnavailable
from .settings import RedisSettings

#: Connect and read timeout of the limiter's own client: a dead or frozen Redis costs
#: one check at most this long (plus a little) before the fallback or the error; with
#: asyncio a check made while an earlier batch waits goes in the next, so up to twice.
DEFAULT_TIMEOUT = 0.05
#: Seconds the breaker stays open before one check probes Redis again.
DEFAULT_RECOVERY = 1.0
#: How many buckets the in-memory fallback keeps (least recently used go first).
DEFAULT_FALLBACK_KEYS = 10_000


def quick_settings(settings: RedisSettings, timeout: float) -> RedisSettings:
    """``settings`` with the limiter's short connect and read timeouts."""
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ConfigError("timeout", f"got {timeout!r}, expected seconds above 0, e.g. 0.05")
    return settings.replace(socket_timeout=timeout, socket_connect_timeout=timeout)


class LimiterCore:
    """Breaker, fallback and failure policy of one limiter."""

    def __init__(
        self,
        settings: RedisSettings,
        *,
        recovery: float,
        fallback_keys: int,
        clock: Callable[[], float],
    ) -> None:
        self.fail_open = settings.rate_limit_fail_open
        self.breaker = Breaker(settings.failure_threshold, recovery, clock)
        self.memory = MemoryBuckets(fallback_keys, clock)
        self._where = settings.describe()

    def fallback(
        self, checks: Sequence[Prepared], cause: RedisError | None, started: float = 0.0
    ) -> list[Decision]:
        """Decide without Redis: from memory when fail-open, else RateLimiterUnavailable.

        ``started`` is when the check began (:func:`aragora_redis._metrics.start`).
        """
        if self.fail_open:
            decisions = [self.memory.hit(p) for p in checks]
            _metrics.decided("fallback", decisions, started)
            return decisions
        _metrics.unavailable(len(checks), started, cause)
        if cause is None:
            raise RateLimiterUnavailable(
                f"rate limiter: {self._where} failed {self.breaker.threshold} times in a row; "
                f"not asking it again for {self.breaker.retry_in():.2f} s"
            )
        raise RateLimiterUnavailable(
            f"rate limiter: {self._where}: {type(cause).__name__}: {cause}"
        ) from cause

    def failed(
        self, checks: Sequence[Prepared], exc: RedisError, started: float = 0.0
    ) -> list[Decision]:
        """Count a failed Redis call and decide without Redis."""
        self.breaker.failure()
        return self.fallback(checks, exc, started)

    def answered(self, replies: Replies, started: float = 0.0) -> list[Decision]:
        """Count a Redis answer and return its decisions."""
        self.breaker.success()
        decisions = replies.decisions()
        _metrics.decided("redis", decisions, started)
        return decisions
