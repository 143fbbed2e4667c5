"""The Lua script and the Python bucket agree, step for step, on a real redis-server.

The script's one ``redis.call('TIME')`` is replaced by two extra arguments, so both
sides see the same clock, and its one PEXPIRE by a hash field, so that the expiry
it computes can be compared exactly and never strikes on the simulated clock;
everything else is the script as shipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aragora_redis._bucket import Prepared, parse_reply, parse_run, stamp, take, validate
from aragora_redis._script import SCRIPT

TIME_CALL = "redis.call('TIME')"
EXPIRE_CALL = "redis.call('PEXPIRE', key, ttl_ms)"
START = 1_700_000_000

Step = tuple[int, int, float]  # seconds, microseconds, cost
Run = tuple[int, int, float, int]  # seconds, microseconds, cost, checks of the key


@pytest.fixture(scope="module")
def client(standalone: Any) -> Iterator[redis.Redis]:
    c = standalone.client("redis-0")
    yield c
    c.close()


@pytest.fixture(scope="module")
def at_time(client: redis.Redis) -> Any:
    assert SCRIPT.count(TIME_CALL) == SCRIPT.count(EXPIRE_CALL) == 1
    source = SCRIPT.replace(TIME_CALL, "{ARGV[#ARGV - 1], ARGV[#ARGV]}")
    return client.register_script(
        source.replace(EXPIRE_CALL, "redis.call('HSET', key, 'ttl_ms', ttl_ms)")
    )


def _key() -> str:
    return f"aragora:ratelimit:test:{{{uuid.uuid4().hex}}}"


def _agree(client: redis.Redis, at_time: Any, rate: float, burst: float, steps: list[Step]) -> None:
    _agree_runs(client, at_time, rate, burst, [(s, us, cost, 1) for s, us, cost in steps])


def _agree_runs(
    client: redis.Redis, at_time: Any, rate: float, burst: float, runs: list[Run]
) -> None:
    """Each run, ``checks`` checks of one key in one call, decides as that many
    checks one by one at the call's time, and stores the same state."""
    rate, burst, _ = validate(rate, burst, 0)
    key = _key()
    tokens: float | None = None
    last: float | None = None
    ttl_ms = 0
    for seconds, micros, cost, checks in runs:
        reply = at_time(keys=[key], args=[rate, burst, cost, checks, seconds, micros])
        p = Prepared(key, rate, burst, cost)
        if checks == 1:  # admitted (1 or 0), tokens left
            got = [parse_reply(p, *reply)]
        else:  # admitted, tokens left, tokens before the first
            taken, left, before = reply
            got = parse_run(p, checks, taken, before)
            assert float(left) == got[-1].remaining
        for decision in got:
            step = take(tokens, last, stamp(seconds, micros), rate, burst, cost)
            assert (decision.allowed, decision.remaining, decision.retry_after) == (
                step.allowed,
                step.remaining,
                step.retry_after,
            )
            if step.stored is not None:
                (tokens, last), ttl_ms = step.stored, step.ttl_ms
        saved = [float(cast(str, x)) for x in client.hmget(key, "tokens", "last_refill", "ttl_ms")]
        assert saved == [tokens, last, ttl_ms]
    client.delete(key)


def test_a_simple_sequence(client: redis.Redis, at_time: Any) -> None:
    steps = [(START, 0, 1.0)] * 6 + [
        (START, 500_000, 1.0),
        (START + 3, 7, 2.5),
        (START + 3, 8, 0.0),
    ]
    _agree(client, at_time, 2, 5, steps)


def test_a_clock_that_goes_back(client: redis.Redis, at_time: Any) -> None:
    steps = [
        (START + 10, 0, 1.0),
        (START + 9, 999_999, 1.0),
        (START + 5, 1, 3.0),
        (START + 12, 0, 1.0),
    ]
    _agree(client, at_time, 0.5, 4, steps)


def test_tiny_rates_cap_the_expiry(client: redis.Redis, at_time: Any) -> None:
    _agree(client, at_time, 1e-9, 1e6, [(START, 0, 1.0), (START + 1, 0, 5.0)])


def test_one_call_decides_many_keys_in_order(client: redis.Redis, at_time: Any) -> None:
    a, b = _key(), _key()
    # a: 3 checks of a bucket of 2 (2 admitted, 0 left, 2 before); b: 1 check.
    reply = at_time(keys=[a, b], args=[1.0, 2.0, 1.0, 3, 1, START, 0])
    assert reply == [2, "0", "2", 1, "1"]
    # A key sent again is decided again, after the first: nothing left.
    assert at_time(keys=[b, b], args=[1.0, 2.0, 1.0, 1, 1, START, 0]) == [1, "0", 0, "0"]
    client.delete(a, b)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(rate=9000.0, burst=8000.0, steps=[(-1, 0, 0.0)])  # full at once: a 1 ms expiry
@given(
    rate=st.floats(0.01, 1e4),
    burst=st.floats(0.5, 1e4),
    steps=st.lists(
        st.tuples(st.integers(-3, 5), st.integers(0, 999_999), st.floats(0, 1)),
        min_size=1,
        max_size=12,
    ),
)
def test_random_sequences(
    client: redis.Redis,
    at_time: Any,
    rate: float,
    burst: float,
    steps: list[tuple[int, int, float]],
) -> None:
    # Times wander back and forth; costs are shares of the bucket.
    timeline = [(START + ds, us, share * burst) for ds, us, share in steps]
    _agree(client, at_time, rate, burst, timeline)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.floats(0.01, 1e4),
    burst=st.floats(0.5, 1e4),
    runs=st.lists(
        st.tuples(st.integers(-3, 5), st.integers(0, 999_999), st.floats(0, 1), st.integers(1, 40)),
        min_size=1,
        max_size=8,
    ),
)
def test_random_runs_of_checks_of_one_key(
    client: redis.Redis,
    at_time: Any,
    rate: float,
    burst: float,
    runs: list[tuple[int, int, float, int]],
) -> None:
    # The checks of one key coalesced into one call (the asyncio limiter, the web
    # middleware's callers) decide exactly as they would one by one.
    timeline = [(START + ds, us, share * burst, n) for ds, us, share, n in runs]
    _agree_runs(client, at_time, rate, burst, timeline)
