"""I/O-free parts of the rate limiter: bucket maths, validation, script calls, breaker, policy."""

from __future__ import annotations

import asyncio
import inspect
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.connection import Connection
from redis.crc import key_slot
from redis.exceptions import ClusterCrossSlotError, NoScriptError, ResponseError

from aragora_redis import ConfigError, RateLimiterUnavailable, RedisSettings
from aragora_redis import _script as script
from aragora_redis._breaker import Breaker
from aragora_redis._bucket import (
    MAX_TTL_MS,
    Check,
    Decision,
    MemoryBuckets,
    Prepared,
    parse_run,
    prepare,
    prepare_many,
    stamp,
    take,
    validate,
)
from aragora_redis._coalesce import Coalescer
from aragora_redis._limiter import LimiterCore, quick_settings
from aragora_redis.ratelimit import AsyncRateLimiter, RateLimiter


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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


# --- script calls -----------------------------------------------------------------


def _checks(n: int) -> list[Prepared]:
    """Checks of different callers; every three in a row share their limits."""
    return [prepare(f"user-{i}", 0.5 + i // 3, 10 * (i // 3 + 1), 1 + i // 3 % 3) for i in range(n)]


@pytest.mark.parametrize("load", [False, True])
def test_packed_calls_are_what_redis_py_would_send(load: bool) -> None:
    ps = _checks(6)
    for group in ([0], [3, 5], range(3)):
        expected = b"".join(Connection().pack_command(*script.command(ps, group, load)))
        assert script.pack(ps, group, load) == expected


@pytest.mark.parametrize("load", [False, True])
def test_a_call_sends_each_key_once_with_its_number_of_checks(load: bool) -> None:
    a, b = prepare("a", 1, 2), prepare("b", 1, 2)
    ps = [a, b, a, a]
    sent = script.command(ps, [0, 1, 2, 3], load)
    assert sent[2:] == (2, a.key, b.key, 1.0, 2.0, 1.0, 3, 1)
    expected = b"".join(Connection().pack_command(*sent))
    assert script.pack(ps, [0, 1, 2, 3], load) == expected
    got = script.Replies(ps)
    # a: 2 of 3 admitted, 0 left, 2 before the first; b: admitted, 1 left
    got.take([0, 1, 2, 3], [2, b"0", b"2", 1, b"1"])
    assert [(d.allowed, d.remaining) for d in got.decisions()] == [
        (True, 1.0),
        (True, 1.0),
        (True, 0.0),
        (False, 0.0),
    ]


_tokens_or_none = st.one_of(st.none(), st.floats(0, 1e4))


@given(
    tokens=_tokens_or_none,
    last=st.floats(0, 100),
    now=st.floats(0, 100),
    rate=st.floats(1e-3, 1e4),
    burst=st.floats(0.5, 1e4),
    share=st.floats(0, 1),
    checks=st.integers(1, 60),
)
def test_checks_of_one_key_in_one_call_decide_as_checks_one_by_one(
    tokens: float | None,
    last: float,
    now: float,
    rate: float,
    burst: float,
    share: float,
    checks: int,
) -> None:
    # What one script call answers for ``checks`` checks of a key (how many were
    # admitted, the tokens before the first) gives each check the decision it would
    # have got alone, one after the other at the same time (the script's clock).
    cost = share * burst
    before = take(tokens, last, now, rate, burst, 0.0).remaining  # refilled, nothing taken
    state: tuple[float | None, float | None] = (tokens, last)
    one_by_one = []
    for _ in range(checks):
        step = take(*state, now, rate, burst, cost)
        one_by_one.append((step.allowed, step.remaining, step.retry_after))
        state = step.stored or state
    taken = sum(allowed for allowed, _, _ in one_by_one)
    assert [a for a, _, _ in one_by_one] == [True] * taken + [False] * (checks - taken)
    got = parse_run(Prepared("k", rate, burst, cost), checks, taken, repr(before))
    assert [(d.allowed, d.remaining, d.retry_after) for d in got] == one_by_one


def test_calls_are_runs_of_one_limit_in_order() -> None:
    same = [prepare(f"k{i}", 1, 2) for i in range(2 * script.MAX_CHECKS_PER_CALL + 5)]
    groups = script.runs(same, range(len(same)))
    assert [len(g) for g in groups] == [script.MAX_CHECKS_PER_CALL] * 2 + [5]
    assert [i for g in groups for i in g] == list(range(len(same)))
    mixed = _checks(7) + _checks(2)
    assert script.runs(mixed, range(9)) == [[0, 1, 2], [3, 4, 5], [6], [7, 8]]


def test_calls_share_a_slot() -> None:
    ps = _checks(50)
    groups = script.calls(ps, lambda key: len(key) % 3)
    assert sorted(i for g in groups for i in g) == list(range(50))
    assert all(len({len(ps[i].key) % 3 for i in g}) == 1 for g in groups)
    assert all(list(g) == sorted(g) for g in groups)


def test_calls_are_runs_of_one_limit_within_a_slot() -> None:
    same = [prepare(f"k{i}", 1, 2) for i in range(2 * script.MAX_CHECKS_PER_CALL + 5)]
    one_slot = script.calls(same, lambda key: 7)
    assert one_slot == script.runs(same, range(len(same)))


def test_the_default_slot_is_redis_clusters_hash_tag_slot() -> None:
    # Keys with one hash tag share a call; the slot is redis-py's (CRC16 of the tag).
    ps = [prepare("alice", 1, 2), prepare("bob", 1, 2), prepare("alice", 1, 2, scope="x")]
    assert key_slot(b"alice") != key_slot(b"bob")
    assert script.calls(ps) == [[0, 2], [1]]
    assert script.calls(ps[:1]) == [(0,)]


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([(1, 2, 1), (1, 2, 2), (3, 9, 1)])),
        min_size=1,
        max_size=150,
    )
)
def test_no_call_spans_slots_or_limits_and_each_keys_order_is_kept(
    raw: list[tuple[int, tuple[int, int, int]]],
) -> None:
    ps = [prepare(f"user-{k}", *limits) for k, limits in raw]
    groups = script.calls(ps)
    assert sorted(i for g in groups for i in g) == list(range(len(ps)))
    for g in groups:
        assert 1 <= len(g) <= script.MAX_CHECKS_PER_CALL
        assert len({key_slot(ps[i].key.encode()) for i in g}) == 1
        assert len({ps[i][1:] for i in g}) == 1
    sent = [i for g in groups for i in g]  # the calls go out in this order
    for key in {p.key for p in ps}:
        mine = [i for i in sent if ps[i].key == key]
        assert mine == sorted(mine)


@pytest.mark.parametrize(
    ("mode_cluster", "sharded", "server", "refused", "expected"),
    [
        (False, False, False, False, False),  # one unsharded server: calls of many keys
        (False, False, None, False, True),  # not known yet (or INFO refused): may be sharded
        (False, False, True, False, True),  # INFO cluster: cluster_enabled:1
        (False, True, False, False, True),  # ARAGORA_REDIS_SHARDED: a proxy saying 0
        (False, False, False, True, True),  # a CROSSSLOT reply, for good
        (True, False, False, False, True),  # a cluster
    ],
)
def test_calls_keep_to_one_slot_exactly_where_the_server_may_shard(
    mode_cluster: bool, sharded: bool, server: bool | None, refused: bool, expected: bool
) -> None:
    got = script.by_slot(cluster=mode_cluster, sharded=sharded, server=server, refused=refused)
    assert got is expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (b"# Cluster\r\ncluster_enabled:1\r\n", True),
        ("# Cluster\r\ncluster_enabled:0\r\n", False),
        (b"# Cluster\r\n", None),
        (ResponseError("NOPERM this user has no permissions to run the 'info' command"), None),
    ],
)
def test_info_cluster_says_whether_the_server_shards(info: object, expected: bool | None) -> None:
    assert script.reports_cluster(info) is expected


def test_without_slots_a_call_takes_many_callers_of_one_limit() -> None:
    ps = [prepare(f"user-{i}", 1, 2) for i in range(2 * script.MAX_CHECKS_PER_CALL + 5)]
    assert script.calls(ps, slots=False) == script.runs(ps, range(len(ps)))
    assert len(script.calls(ps, slots=False)) == 3
    assert len(script.calls(ps)) > 3  # by slot: about a call per caller
    assert script.calls(ps[:1], slots=False) == [(0,)]


def test_refused_calls_are_split_by_slot_in_order() -> None:
    ps = _checks(12)
    refused = [[0, 1, 2], [6, 7, 8]]
    groups = script.split(ps, refused, lambda key: len(key) % 2)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 6, 7, 8]
    assert all(len({len(ps[i].key) % 2 for i in g}) == 1 for g in groups)
    assert all(len({ps[i][1:] for i in g}) == 1 and list(g) == sorted(g) for g in groups)


def test_crossslot_replies_are_noted_once_then_raised() -> None:
    ps = [prepare(f"user-{i}", 1, 1) for i in range(3)]
    got = script.Replies(ps)
    got.take([0, 1, 2], ClusterCrossSlotError("CROSSSLOT Keys in request don't hash"))
    assert got.refused == [[0, 1, 2]]
    again = got.resend()
    assert sorted(i for g in again for i in g) == [0, 1, 2]
    assert got.refused == []
    with pytest.raises(ClusterCrossSlotError):  # calls of one slot: a second one is an error
        got.take(again[0], ClusterCrossSlotError("CROSSSLOT"))
    for g in again:
        got.take(g, [1, b"0"] * len(g))
    assert [d.allowed for d in got.decisions()] == [True] * 3


def test_replies_fill_in_decisions_and_note_missing_scripts() -> None:
    ps = _checks(4)  # the same results whatever the limits of the calls
    got = script.Replies(ps)
    got.take([0, 2], [1, b"4.5", 0, b"0.25"])
    got.take([1, 3], NoScriptError("NOSCRIPT No matching script."))
    assert got.missing == [[1, 3]]
    assert got.reload() == [[1, 3]]
    with pytest.raises(NoScriptError):  # after EVAL a second NOSCRIPT is an error
        got.take([1, 3], NoScriptError("NOSCRIPT"))
    got.take([1, 3], [1, b"2", 1, b"0"])
    decisions = got.decisions()
    assert [d.allowed for d in decisions] == [True, True, False, True]
    assert decisions[0] == Decision(True, 4.5, 0.0, "redis")
    assert decisions[2] == Decision(False, 0.25, (ps[2].cost - 0.25) / ps[2].rate, "redis")
    with pytest.raises(ResponseError):
        script.Replies(ps).take([0], ResponseError("WRONGTYPE"))


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


# --- coalescing (asyncio, no I/O) ---------------------------------------------------


async def test_checks_of_one_loop_turn_are_decided_together() -> None:
    batches: list[int] = []

    async def decide(ps: list[Prepared]) -> list[Decision]:
        batches.append(len(ps))
        await asyncio.sleep(0)
        return [Decision(True, p.burst - p.cost, 0.0, "redis") for p in ps]

    batcher = Coalescer(decide)
    got = await asyncio.gather(*(batcher.hit(prepare(f"k{i}", 1, 10, i % 3)) for i in range(20)))
    assert batches == [20]
    assert [d.remaining for d in got] == [10 - i % 3 for i in range(20)]
    await batcher.drain()


async def test_checks_made_while_a_batch_is_under_way_go_together_next() -> None:
    batches: list[list[str]] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def decide(ps: list[Prepared]) -> list[Decision]:
        batches.append([p.key.split("{")[1][:-1] for p in ps])  # the caller ids
        if len(batches) == 1:
            started.set()
            await release.wait()  # the first round trip is slow
        return [Decision(True, 0.0, 0.0, "redis") for _ in ps]

    batcher = Coalescer(decide)
    first = asyncio.gather(*(batcher.hit(prepare(f"a{i}", 1, 10)) for i in range(3)))
    await started.wait()  # the first batch is under way
    later = []
    for turn in range(4):  # checks of several loop turns wait for it
        later.append(asyncio.ensure_future(batcher.hit(prepare(f"b{turn}", 1, 10))))
        await asyncio.sleep(0)
    assert len(batches) == 1
    release.set()
    await first
    await asyncio.gather(*later)
    assert batches == [["a0", "a1", "a2"], ["b0", "b1", "b2", "b3"]]
    await batcher.drain()
    # Nothing under way: the next check starts a batch of its own.
    await batcher.hit(prepare("c", 1, 10))
    assert batches[-1] == ["c"]


async def test_a_cancelled_batch_does_not_stop_the_next() -> None:
    started = asyncio.Event()

    async def decide(ps: list[Prepared]) -> list[Decision]:
        if ps[0].key.endswith("{slow}"):
            started.set()
            await asyncio.sleep(3600)
        return [Decision(True, 0.0, 0.0, "redis") for _ in ps]

    batcher = Coalescer(decide)
    slow = asyncio.ensure_future(batcher.hit(prepare("slow", 1, 10)))
    await started.wait()
    assert batcher._sender is not None
    batcher._sender.cancel()  # as at the loop's shutdown
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert (await batcher.hit(prepare("next", 1, 10))).allowed
    await batcher.drain()


async def test_a_failed_batch_fails_each_of_its_checks() -> None:
    async def decide(ps: list[Prepared]) -> list[Decision]:
        raise RateLimiterUnavailable("down")

    batcher = Coalescer(decide)
    results = await asyncio.gather(
        *(batcher.hit(prepare("k", 1, 2)) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RateLimiterUnavailable) for r in results)


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
