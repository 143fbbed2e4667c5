"""I/O-free: the limiters' breaker and failure policy, and the sync and asyncio twins."""

from __future__ import annotations

import inspect

import pytest
from redis.exceptions import ResponseError

from aragora_redis import ConfigError, RateLimiterUnavailable, RedisSettings
from aragora_redis._breaker import Breaker
from aragora_redis._bucket import prepare
from aragora_redis._limiter import LimiterCore, quick_settings
from aragora_redis.ratelimit import AsyncRateLimiter, RateLimiter
from tests.client.clock_support import Clock

# --- breaker -----------------------------------------------------------------------


def _state(breaker: Breaker) -> str:
    return breaker.state


def test_breaker_opens_at_the_threshold_and_probes_after_recovery() -> None:
    clock = Clock()
    breaker = Breaker(3, 1.0, clock)
    for _ in range(2):
        breaker.failure()
    assert _state(breaker) == "closed"
    assert breaker.allow()
    breaker.failure()
    assert _state(breaker) == "open"
    assert not breaker.allow()
    clock.now += 0.99
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(0.01)
    clock.now += 0.01
    assert breaker.allow()  # this caller is the probe
    assert _state(breaker) == "half_open"
    assert not breaker.allow()
    breaker.success()
    assert _state(breaker) == "closed"
    assert breaker.failures == 0
    assert breaker.allow()


def test_a_failed_probe_opens_the_breaker_again() -> None:
    clock = Clock()
    breaker = Breaker(1, 2.0, clock)
    breaker.failure()
    clock.now += 2.0
    assert breaker.allow()
    breaker.failure()
    assert _state(breaker) == "open"
    assert breaker.retry_in() == 2.0


def test_a_lost_probe_is_given_up_after_another_interval() -> None:
    clock = Clock()
    breaker = Breaker(1, 1.0, clock)
    breaker.failure()
    clock.now += 1.0
    assert breaker.allow()  # the probe never reports back
    clock.now += 0.5
    assert not breaker.allow()
    clock.now += 0.5
    assert breaker.allow()


def test_a_success_resets_the_count() -> None:
    breaker = Breaker(2, 1.0, Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert _state(breaker) == "closed"


def test_breaker_arguments_are_checked() -> None:
    with pytest.raises(ConfigError):
        Breaker(0, 1.0, Clock())
    with pytest.raises(ConfigError):
        Breaker(1, 0.0, Clock())


# --- failure policy ----------------------------------------------------------------


def test_fail_open_decides_from_memory_and_fail_closed_raises() -> None:
    p = prepare("k", 1, 2)
    cause = ResponseError("boom")
    fail_open = LimiterCore(
        RedisSettings(rate_limit_fail_open=True), recovery=1.0, fallback_keys=10, clock=Clock()
    )
    assert fail_open.failed([p], cause)[0].source == "fallback"
    assert fail_open.breaker.failures == 1
    fail_closed = LimiterCore(
        RedisSettings(failure_threshold=1), recovery=1.0, fallback_keys=10, clock=Clock()
    )
    with pytest.raises(RateLimiterUnavailable) as err:
        fail_closed.failed([p], cause)
    assert err.value.__cause__ is cause
    with pytest.raises(RateLimiterUnavailable, match="not asking it again"):
        fail_closed.fallback([p], None)


def test_the_limiter_timeout_is_checked_and_applied() -> None:
    quick = quick_settings(RedisSettings(), 0.05)
    assert (quick.socket_timeout, quick.socket_connect_timeout) == (0.05, 0.05)
    with pytest.raises(ConfigError) as err:
        quick_settings(RedisSettings(), 0.0)
    assert err.value.variable == "timeout"


# --- the twins ---------------------------------------------------------------------


def test_the_sync_and_async_limiters_have_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    sync, aio = public(RateLimiter), public(AsyncRateLimiter)
    assert sync - {"close"} == aio - {"aclose"}
    for name in sync - {"close", "breaker_state"}:
        sync_fn, async_fn = getattr(RateLimiter, name), getattr(AsyncRateLimiter, name)
        assert inspect.iscoroutinefunction(async_fn) == (name != "from_settings"), name
        assert list(inspect.signature(sync_fn).parameters) == list(
            inspect.signature(async_fn).parameters
        ), name
