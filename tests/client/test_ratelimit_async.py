"""AsyncRateLimiter against real redis-server topologies (asyncio; tasks for concurrency)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from aragora_redis import ConfigError, RateLimiterUnavailable, _transport
from aragora_redis._engine import Engine
from aragora_redis._script import SHA
from aragora_redis.local import LocalStack
from aragora_redis.ratelimit import AsyncRateLimiter, Check
from tests.client import ratelimit_support as rs
from tests.metrics_support import bound_reader, total
from tests.support import failover_and_wait


@pytest.fixture
def own_redis(tmp_path: Path, engine: Engine) -> Iterator[LocalStack]:
    with rs.throwaway_redis(tmp_path, engine) as stack:
        yield stack


async def test_checks_drain_the_bucket_and_say_when_to_retry(standalone: Any) -> None:
    limiter = AsyncRateLimiter.from_settings(standalone.settings, timeout=rs.CALM)
    key = rs.new_key()
    got = [await limiter.hit(key, rate=1, burst=5, scope="api") for _ in range(6)]
    assert [d.allowed for d in got] == [True] * 5 + [False]
    assert all(d.source == "redis" for d in got)
    assert 0 < got[-1].retry_after <= 1
    assert got[-1].retry_after == pytest.approx(1 - got[-1].remaining)
    rs.check_stored_bucket(standalone, "api", key, burst=5, rate=1)
    await limiter.aclose()


async def test_a_batch_is_decided_in_order_in_one_round_trip(standalone: Any) -> None:
    limiter = AsyncRateLimiter.from_settings(standalone.settings, timeout=rs.CALM)
    admin = standalone.client("redis-0")
    a, b = rs.new_key(), rs.new_key()
    checks = [Check(a, 1, 3) for _ in range(5)] + [Check(b, 1, 40, 1, "other") for _ in range(35)]
    before = rs.evalsha_calls(admin)
    got = await limiter.hit_many(checks)
    # 40 checks, one write: a call per run of one limit, of 32 keys at most (5, 32, 3)
    assert rs.evalsha_calls(admin) - before == 3
    assert [d.allowed for d in got[:5]] == [True, True, True, False, False]
    assert all(d.allowed for d in got[5:])
    assert [round(d.remaining) for d in got[5:]] == list(range(39, 4, -1))
    assert await limiter.hit_many([]) == []
    # Single checks awaited together share a round trip too, decided in order.
    before = rs.evalsha_calls(admin)
    c = rs.new_key()
    single = await asyncio.gather(*(limiter.hit(c, rate=1, burst=3) for _ in range(5)))
    assert rs.evalsha_calls(admin) - before == 1
    assert [d.allowed for d in single] == [True, True, True, False, False]
    admin.close()
    await limiter.aclose()


async def test_bad_arguments_raise_config_error(standalone: Any) -> None:
    limiter = AsyncRateLimiter.from_settings(standalone.settings, timeout=rs.CALM)
    with pytest.raises(ConfigError) as err:
        await limiter.hit("k", rate=0, burst=5)
    assert err.value.variable == "rate"
    with pytest.raises(ConfigError) as err:
        await limiter.hit_many([Check("k", 1, 5, 6)])
    assert err.value.variable == "cost"
    await limiter.aclose()


async def test_a_flushed_script_cache_is_refilled(standalone: Any) -> None:
    limiter = AsyncRateLimiter.from_settings(standalone.settings, timeout=rs.CALM)
    admin = standalone.client("redis-0")
    admin.script_flush()
    assert (await limiter.hit(rs.new_key(), rate=1, burst=2)).source == "redis"
    assert admin.script_exists(SHA) == [True]
    admin.script_flush()
    got = await limiter.hit_many([Check(rs.new_key(), 1, 1)] * 2)
    assert [d.allowed for d in got] == [True, False]
    admin.close()
    await limiter.aclose()


async def test_a_batch_across_cluster_slots(cluster: Any) -> None:
    rs.flush_scripts(cluster)
    limiter = AsyncRateLimiter.from_settings(cluster.settings, timeout=rs.CALM)
    keys = [rs.new_key() for _ in range(20)]
    got = await limiter.hit_many([Check(k, 1, 2) for k in keys for _ in range(3)])
    assert [d.allowed for d in got] == [True, True, False] * 20
    assert {d.source for d in got} == {"redis"}
    await limiter.aclose()


async def test_no_script_call_spans_slots_behind_a_standalone_endpoint(cluster: Any) -> None:
    # A cluster primary reached as a standalone endpoint: it answers CROSSSLOT to a
    # script across slots, and its INFO cluster (cluster_enabled:1) says so.
    node, callers = rs.a_primary_and_its_callers(cluster, 150)
    limiter = AsyncRateLimiter.from_settings(cluster.node_settings(node), timeout=rs.CALM)
    checks = [Check(k, 1, 1, 1, scope) for k in callers for scope in ("default", "x")] * 2
    crossslot = rs.script_errors(cluster, node, "CROSSSLOT")
    with rs.script_calls(cluster, node) as calls:
        got = await limiter.hit_many(checks)
    assert [d.allowed for d in got] == [True] * 300 + [False] * 300
    assert {d.source for d in got} == {"redis"}
    rs.check_one_call_per_slot(checks, calls)
    assert rs.script_errors(cluster, node, "CROSSSLOT") == crossslot
    await limiter.aclose()


async def test_a_sharding_proxy_the_settings_declare_gets_calls_of_one_slot(cluster: Any) -> None:
    # ARAGORA_REDIS_SHARDED, as the azure-managed stack emits it for EnterpriseCluster.
    node, callers = rs.a_primary_and_its_callers(cluster, 150)
    with rs.sharding_proxy(cluster, node) as settings:
        limiter = AsyncRateLimiter.from_settings(settings.replace(sharded=True), timeout=rs.CALM)
        checks = rs.twice_each(callers)
        crossslot = rs.script_errors(cluster, node, "CROSSSLOT")
        with rs.script_calls(cluster, node) as calls:
            rs.check_twice_each(await limiter.hit_many(checks))
        rs.check_one_call_per_slot(checks, calls)
        assert rs.script_errors(cluster, node, "CROSSSLOT") == crossslot
        await limiter.aclose()


async def test_crossslot_from_an_undeclared_sharding_proxy_is_not_seen_by_callers(
    cluster: Any,
) -> None:
    # The proxy says cluster_enabled:0 and the settings say nothing: calls of many
    # callers are refused (they did not run), sent again one slot per call, and
    # every later batch keeps to one slot.
    node, callers = rs.a_primary_and_its_callers(cluster, 300)
    with rs.sharding_proxy(cluster, node) as settings, bound_reader() as reader:
        limiter = AsyncRateLimiter.from_settings(settings, timeout=rs.CALM)
        crossslot = rs.script_errors(cluster, node, "CROSSSLOT")
        await limiter.hit(callers[0], rate=1, burst=1, scope="first")  # it asks INFO
        rs.check_twice_each(await limiter.hit_many(rs.twice_each(callers[:150])))
        assert limiter.breaker_state == "closed"
        splits = total(reader, "aragora_redis.ratelimit.script_splits")
        refused = rs.check_refused_once(cluster, node, crossslot, splits)
        checks = rs.twice_each(callers[150:])
        with rs.script_calls(cluster, node) as calls:
            rs.check_twice_each(await limiter.hit_many(checks))
        rs.check_one_call_per_slot(checks, calls)
        assert rs.script_errors(cluster, node, "CROSSSLOT") - crossslot == refused
        await limiter.aclose()


async def test_a_batch_of_many_callers_is_few_calls_on_a_plain_server(standalone: Any) -> None:
    # No slots on one unsharded server (INFO cluster: cluster_enabled:0): a call
    # takes up to 32 callers of one limit, as before calls kept to one slot.
    limiter = AsyncRateLimiter.from_settings(standalone.settings, timeout=rs.CALM)
    await limiter.hit(rs.new_key(), rate=1, burst=1)  # the first connection asks INFO
    keys = [rs.new_key() for _ in range(100)]
    with rs.script_calls(standalone, "redis-0") as calls:
        got = await asyncio.gather(*(limiter.hit(k, rate=1, burst=1) for k in keys))
    assert [d.allowed for d in got] == [True] * 100
    rs.few_calls(calls, 100)
    await limiter.aclose()


async def test_tls(standalone_tls: Any) -> None:
    limiter = AsyncRateLimiter.from_settings(standalone_tls.settings, timeout=rs.CALM)
    got = await limiter.hit_many([Check(rs.new_key(), 1, 1)] * 2)
    assert [d.allowed for d in got] == [True, False]
    await limiter.aclose()


async def test_a_connection_the_server_closed_is_replaced(
    own_redis: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_transport, "CHECK_IDLE_AFTER_S", 0.0)
    limiter = AsyncRateLimiter.from_settings(rs.policy(own_redis, fail_open=False), timeout=rs.CALM)
    key = rs.new_key()
    assert (await limiter.hit(key, rate=1, burst=5)).source == "redis"
    admin = own_redis.client("redis-0")
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    time.sleep(0.05)
    # Fail-closed: a send on the dead socket would have raised.
    assert (await limiter.hit(key, rate=1, burst=5)).source == "redis"
    admin.close()
    await limiter.aclose()


@pytest.mark.parametrize("topology", ["standalone", "cluster", "sentinel"])
async def test_twenty_workers_admit_exactly_the_bucket(
    topology: str, engine: str, request: pytest.FixtureRequest
) -> None:
    stack = request.getfixturevalue(topology)  # on ``engine``
    limiter = AsyncRateLimiter.from_settings(stack.settings, timeout=rs.CALM)
    key = rs.new_key()

    async def worker() -> int:
        admitted = 0
        while (await limiter.hit(key, rate=rs.RATE, burst=rs.BURST)).allowed:
            admitted += 1
        return admitted

    admitted = await asyncio.gather(*(worker() for _ in range(rs.WORKERS)))
    assert sum(admitted) == rs.admitted_exactly(), f"{admitted} admitted"
    await limiter.aclose()


async def test_fail_open_decides_from_memory_and_returns_to_redis(own_redis: LocalStack) -> None:
    settings = rs.policy(own_redis, fail_open=True)
    # A killed server refuses connections at once, whatever the timeout.
    limiter = AsyncRateLimiter.from_settings(settings, timeout=rs.CALM, recovery=0.5)
    key = rs.new_key()

    async def source() -> str:
        return (await limiter.hit(key, rate=1000, burst=1000)).source

    assert await source() == "redis"
    own_redis.kill("redis-0")
    assert [await source() for _ in range(3)] == ["fallback"] * 3
    assert limiter.breaker_state == "open"
    # Open: decided from memory without asking Redis (the rule: tests/client/test_limiter.py);
    # how fast that is, is make bench's business, not a test's.
    assert {await source() for _ in range(200)} == {"fallback"}
    await asyncio.to_thread(own_redis.start, "redis-0")
    await rs.until_redis_async(source)
    assert limiter.breaker_state == "closed"
    await limiter.aclose()


async def test_fail_closed_raises_fast(own_redis: LocalStack) -> None:
    settings = rs.policy(own_redis, fail_open=False)
    limiter = AsyncRateLimiter.from_settings(settings, recovery=0.5)  # the default 50 ms
    key = rs.new_key()

    async def source() -> str:
        return (await limiter.hit(key, rate=1, burst=5)).source

    await rs.until_redis_async(source)
    own_redis.freeze("redis-0")
    for _ in range(3):  # the failure threshold
        t0 = time.perf_counter()
        with pytest.raises(RateLimiterUnavailable) as err:
            await source()
        # A bound, not a speed figure: redis-py's own default would wait ~3.8 s; the
        # limiter's 50 ms timeout without retries stays far below it even on a loaded machine.
        assert time.perf_counter() - t0 < rs.NO_RETRY_BOUND
        assert isinstance(err.value.__cause__, redis.RedisError)
    with pytest.raises(RateLimiterUnavailable, match="not asking it again"):
        await source()
    own_redis.thaw("redis-0")
    await rs.until_redis_async(source)
    await limiter.aclose()


async def test_the_limiter_survives_a_sentinel_failover(sentinel: Any) -> None:
    rs.flush_scripts(sentinel)
    limiter = AsyncRateLimiter.from_settings(sentinel.settings, timeout=rs.CALM, recovery=0.2)
    key = rs.new_key()
    assert [(await limiter.hit(key, rate=0.01, burst=3)).allowed for _ in range(2)] == [True] * 2
    new = await asyncio.to_thread(failover_and_wait, sentinel.settings)
    master = rs.new_master(sentinel.settings, new)
    deadline = time.monotonic() + 5
    while True:
        try:
            decision = await limiter.hit(key, rate=0.01, burst=3)
            break
        except RateLimiterUnavailable:
            assert time.monotonic() < deadline, "the limiter did not find the new master"
            await asyncio.sleep(0.05)
    assert decision.source == "redis"
    assert master.script_exists(SHA) == [True]
    assert 0 <= decision.remaining < 1  # the bucket came across with the replication
    master.close()
    await limiter.aclose()
