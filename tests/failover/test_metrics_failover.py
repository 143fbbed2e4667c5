"""The client's OpenTelemetry metrics through real faults, read with the SDK's in-memory reader.

A planned Sentinel failover (``aragora_redis.failover``: pause, then SENTINEL FAILOVER)
must show up as one failover followed, with its structured log line, the script
reloaded on the new master and the limiter's decisions from Redis. An all-down fault
(every server of a throwaway standalone stopped, then started again) must show the
breaker opening and closing, the in-memory decisions of a fail-open limiter, the
refusals of a fail-closed one, and the subscriber's reconnect and gap event.
Counts are asserted, never durations.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from aragora_redis import RateLimiterUnavailable, connect, keys
from aragora_redis.failover import planned_failover
from aragora_redis.local import up_on_free_ports
from aragora_redis.local.probe import wait_until
from aragora_redis.ratelimit import RateLimiter
from tests.metrics_support import bound_reader, points, total

DECISIONS = "aragora_redis.ratelimit.decisions"
BREAKER = "aragora_redis.breaker.transitions"


def _transitions(reader: Any) -> dict[tuple[str, str], float]:
    return {
        (a["aragora_redis.breaker.previous_state"], a["aragora_redis.breaker.state"]): p.value
        for a, p in points(reader, BREAKER)
    }


def test_a_sentinel_failover_is_counted(sentinel: Any, caplog: pytest.LogCaptureFixture) -> None:
    for node in sentinel.data_nodes:  # Redis 7 keeps scripts per node: start without any
        with sentinel.client(node.name) as admin:
            admin.script_flush()
    key = f"metrics:{uuid.uuid4().hex}"
    with bound_reader() as reader, caplog.at_level(logging.INFO, logger="aragora_redis"):
        stores = connect(sentinel.settings)
        try:
            assert stores.rate_limiter.hit(key, rate=100, burst=100).source == "redis"
            report = planned_failover(sentinel.settings)

            def followed() -> bool | str:
                n = total(reader, "aragora_redis.failovers", aragora_redis__mode="sentinel")
                return n >= 1 or "the watcher has not followed the failover yet"

            wait_until(followed, "failover counted", timeout=30)
            assert stores.rate_limiter.hit(key, rate=100, burst=100).source == "redis"
        finally:
            stores.close()
    assert report.new_master is not None
    [(attrs, point)] = points(reader, "aragora_redis.failovers")
    assert point.value == 1, "one failover, counted once however many sentinels announce it"
    new_host, new_port = report.new_master
    assert (attrs["server.address"], attrs["server.port"]) == (new_host, new_port)
    assert total(reader, DECISIONS, aragora_redis__source="redis") == 2
    assert total(reader, "aragora_redis.ratelimit.script_reloads") >= 1
    old = f"{report.old_master[0]}:{report.old_master[1]}"
    [line] = [r.getMessage() for r in caplog.records if "topology change" in r.getMessage()]
    assert line.startswith(
        f"topology change: mode=sentinel master={sentinel.settings.sentinel_master} "
        f"from={old} to={new_host}:{new_port} why={attrs['aragora_redis.reason']} from "
    )
    assert sentinel.password not in caplog.text


def test_an_all_down_fault_is_counted(tmp_path: Path) -> None:
    stack = up_on_free_ports(tmp_path, "standalone")
    settings = stack.settings.replace(rate_limit_fail_open=True)
    channel = keys.debate_channel(f"metrics-{uuid.uuid4().hex}")
    with bound_reader() as reader:
        stores = connect(settings)
        closed = RateLimiter.from_settings(settings.replace(rate_limit_fail_open=False))
        sub = stores.events.subscribe(channel)
        try:
            assert stores.rate_limiter.hit("down", rate=100, burst=100).source == "redis"
            for node in stack.data_nodes:  # every server of the deployment
                stack.stop(node.name)
            threshold = settings.failure_threshold
            memory = [stores.rate_limiter.hit("down", rate=100, burst=100) for _ in range(5)]
            assert {d.source for d in memory} == {"fallback"}
            assert stores.rate_limiter.breaker_state == "open"
            for _ in range(threshold):
                with pytest.raises(RateLimiterUnavailable):
                    closed.hit("down", rate=100, burst=100)
            assert sub.get(timeout=2.0) is None  # the subscriber notices and keeps trying
            for node in stack.data_nodes:
                stack.start(node.name)

            def back() -> bool | str:
                d = stores.rate_limiter.hit("down", rate=100, burst=100)
                return d.source == "redis" or "the breaker has not closed yet"

            wait_until(back, "limiter on Redis again", timeout=30)
            gap = None
            while gap is None:
                event = sub.get(timeout=10.0)
                assert event is not None, "the subscriber came back"
                gap = event if event.is_gap else None
        finally:
            sub.close()
            closed.close()
            stores.close()
            stack.down()
    assert total(reader, DECISIONS, aragora_redis__source="fallback") >= 5
    assert total(reader, DECISIONS, aragora_redis__source="redis") >= 2
    assert total(reader, DECISIONS, aragora_redis__outcome="unavailable") == threshold
    limiter = _transitions(reader)
    assert limiter[("closed", "open")] == 2, "both limiters' breakers opened once"
    assert limiter[("half_open", "closed")] == 1, "the fail-open limiter's probe closed it"
    assert limiter[("open", "half_open")] >= 1
    assert total(reader, "aragora_redis.subscriber.reconnects") >= 1
    assert total(reader, "aragora_redis.subscriber.gaps") == 1
