"""I/O-free: the token bucket's maths, argument validation and the in-memory fallback."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aragora_redis import ConfigError
from aragora_redis._bucket import (
    MAX_TTL_MS,
    Check,
    Decision,
    MemoryBuckets,
    Prepared,
    prepare,
    prepare_many,
    stamp,
    take,
    validate,
)
from tests.client.clock_support import Clock

# --- the bucket ------------------------------------------------------------------


def test_a_new_bucket_starts_full_and_drains() -> None:
    step = take(None, None, 10.0, rate=2.0, burst=5.0, cost=1.0)
    assert step.allowed
    assert step.remaining == 4.0
    assert step.retry_after == 0.0
    assert step.stored == (4.0, 10.0)
    assert step.ttl_ms == 500  # one token short, at 2 per second


def test_refill_is_linear_and_capped_at_burst() -> None:
    assert take(0.0, 10.0, 11.0, rate=2.0, burst=5.0, cost=1.0).remaining == 1.0
    assert take(0.0, 10.0, 100.0, rate=2.0, burst=5.0, cost=1.0).remaining == 4.0


def test_a_denied_check_says_when_and_stores_nothing() -> None:
    step = take(0.5, 10.0, 10.0, rate=2.0, burst=5.0, cost=2.0)
    assert not step.allowed
    assert step.remaining == 0.5
    assert step.retry_after == 0.75  # 1.5 tokens at 2 per second
    assert step.stored is None


def test_a_lagging_clock_refills_nothing_and_keeps_last_refill() -> None:
    step = take(3.0, 20.0, 19.0, rate=1.0, burst=5.0, cost=1.0)
    assert step.allowed
    assert step.remaining == 2.0
    assert step.stored == (2.0, 20.0)
    assert step.ttl_ms == 4000  # 1 s until the clock reaches last_refill, then 3 tokens


def test_the_expiry_is_capped_for_tiny_rates() -> None:
    assert take(None, None, 0.0, rate=1e-9, burst=10.0, cost=5.0).ttl_ms == MAX_TTL_MS


def test_cost_zero_peeks() -> None:
    step = take(2.0, 5.0, 5.0, rate=1.0, burst=5.0, cost=0.0)
    assert step.allowed
    assert step.remaining == 2.0


def test_stamp_reads_time_like_the_script() -> None:
    assert stamp(1700000000, 42) == 1700000000.000042
    assert stamp(1700000000, 999999) == 1700000000.999999


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.1, 1000),
    burst=st.floats(1, 1000),
    steps=st.lists(st.tuples(st.floats(0, 2), st.floats(0, 1)), min_size=1, max_size=60),
)
def test_never_more_than_burst_plus_refill(
    rate: float, burst: float, steps: list[tuple[float, float]]
) -> None:
    tokens: float | None = None
    last: float | None = None
    now, spent = 0.0, 0.0
    for dt, share in steps:
        now += dt
        cost = share * burst
        step = take(tokens, last, now, rate, burst, cost)
        if step.stored is not None:
            tokens, last = step.stored
            spent += cost
        assert 0 <= step.remaining <= burst
    assert spent <= burst + rate * now + 1e-6 * (1 + spent)


# --- validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "burst", "cost", "bad"),
    [
        (0, 5, 1, "rate"),
        (-1, 5, 1, "rate"),
        (math.nan, 5, 1, "rate"),
        (math.inf, 5, 1, "rate"),
        ("5", 5, 1, "rate"),
        (True, 5, 1, "rate"),
        (1, 0, 1, "burst"),
        (1, None, 1, "burst"),
        (1, 5, 6, "cost"),
        (1, 5, -1, "cost"),
        (1, 5, math.nan, "cost"),
    ],
)
def test_bad_arguments_name_the_argument(
    rate: object, burst: object, cost: object, bad: str
) -> None:
    with pytest.raises(ConfigError) as err:
        validate(rate, burst, cost)
    assert err.value.variable == bad


def test_arguments_become_floats() -> None:
    assert validate(5, 10, 1) == (5.0, 10.0, 1.0)
    assert all(type(x) is float for x in validate(5, 10, 1))


def test_keys_carry_a_hash_tag_and_reject_braces() -> None:
    assert prepare("alice", 1, 2, 1, "api").key == "aragora:ratelimit:api:{alice}"
    assert prepare("alice", 1, 2).key == "aragora:ratelimit:default:{alice}"
    with pytest.raises(ConfigError):
        prepare("a{b}", 1, 2)
    assert prepare_many([Check("bob", 1, 2, 1, "x")]) == [
        Prepared("aragora:ratelimit:x:{bob}", 1.0, 2.0, 1.0)
    ]


# --- memory fallback -------------------------------------------------------------


def test_memory_buckets_follow_take_and_forget_the_least_recent() -> None:
    clock = Clock(0.0)
    memory = MemoryBuckets(2, clock)
    a, b, c = (prepare(k, 1, 2) for k in "abc")
    assert [memory.hit(a).allowed for _ in range(3)] == [True, True, False]
    memory.hit(b)
    memory.hit(c)  # a is forgotten: it starts full again
    assert len(memory) == 2
    assert memory.hit(a) == Decision(True, 1.0, 0.0, "fallback")  # b is forgotten now
    clock.now = 0.5
    assert memory.hit(c).remaining == 0.5


def test_memory_buckets_are_thread_safe() -> None:
    memory = MemoryBuckets(10, Clock(0.0))
    p = prepare("k", 1e-9, 1000)
    allowed: list[bool] = []

    def work() -> None:
        allowed.extend(memory.hit(p).allowed for _ in range(300))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 1000


def test_memory_bound_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        MemoryBuckets(0, Clock())
