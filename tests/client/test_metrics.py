"""The recording functions of aragora_redis._metrics, one instrument each, read back
with the OTel SDK's in-memory reader; and the no-op without the API."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from redis.cluster import ClusterNode
from redis.exceptions import ClusterCrossSlotError, NoScriptError

from aragora_redis import _metrics, connect, keys
from aragora_redis._breaker import Breaker
from aragora_redis._bucket import Decision, prepare
from aragora_redis._follow import FailoverState
from aragora_redis._liveness import Liveness
from aragora_redis._script import Replies
from aragora_redis.cluster_conn import _SlotWatch
from aragora_redis.errors import NotReplicated
from aragora_redis.local import LocalStack
from aragora_redis.local.cluster import ClusterControl
from aragora_redis.local.probe import wait_until
from aragora_redis.local.ready import cluster_health
from aragora_redis.sessions import _check_replicated
from aragora_redis.watch import _Fanout
from tests.client.durable_support import KIND, one_shard_ids, slot_map_agreed
from tests.metrics_support import bound_reader, points, total

NAME = "aragora-master"
SYSTEM = {"db.system.name": "redis"}


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    with bound_reader() as r:
        yield r


def _decisions(*allowed: bool) -> list[Decision]:
    return [Decision(a, 0.0, 0.0, "redis") for a in allowed]


def test_decisions_are_counted_by_source_and_outcome_and_timed(
    reader: InMemoryMetricReader,
) -> None:
    _metrics.decided("redis", _decisions(True, True, False), _metrics.start())
    _metrics.decided("fallback", _decisions(False), _metrics.start())
    name = "aragora_redis.ratelimit.decisions"

    def counted(source: str, outcome: str) -> float:
        return total(reader, name, aragora_redis__source=source, aragora_redis__outcome=outcome)

    assert counted("redis", "allowed") == 2
    assert counted("redis", "denied") == 1
    assert counted("fallback", "denied") == 1
    assert all(a["db.system.name"] == "redis" for a, _ in points(reader, name))
    latency = {
        a["aragora_redis.source"]: p for a, p in points(reader, "aragora_redis.ratelimit.duration")
    }
    assert latency["redis"].count == 1
    assert latency["fallback"].count == 1
    assert latency["redis"].sum >= 0


def test_fail_closed_checks_are_counted_unavailable_with_the_error(
    reader: InMemoryMetricReader,
) -> None:
    _metrics.unavailable(2, _metrics.start(), ConnectionError("gone"))
    _metrics.unavailable(1, _metrics.start(), None)
    name = "aragora_redis.ratelimit.decisions"
    assert total(reader, name, aragora_redis__outcome="unavailable") == 3
    errors = {a.get("error.type") for a, _ in points(reader, "aragora_redis.ratelimit.duration")}
    assert errors == {"ConnectionError", "BreakerOpen"}


def test_breaker_transitions_are_counted_from_the_breaker(reader: InMemoryMetricReader) -> None:
    now = [0.0]
    breaker = Breaker(2, 1.0, lambda: now[0])
    breaker.failure()
    breaker.failure()  # closed -> open
    now[0] = 2.0
    assert breaker.allow()  # open -> half_open: this caller probes
    breaker.failure()  # half_open -> open
    now[0] = 4.0
    assert breaker.allow()
    breaker.success()  # half_open -> closed
    breaker.success()  # no change: not counted
    seen = {
        (a["aragora_redis.breaker.previous_state"], a["aragora_redis.breaker.state"]): p.value
        for a, p in points(reader, "aragora_redis.breaker.transitions")
    }
    assert seen == {
        ("closed", "open"): 1,
        ("open", "half_open"): 2,
        ("half_open", "open"): 1,
        ("half_open", "closed"): 1,
    }


def test_a_sentinel_failover_is_counted_and_logged_once(
    reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    fanout = _Fanout([FailoverState(NAME), FailoverState(NAME, gate_timeout=0.0)], None)
    switch = f"{NAME} 10.0.0.1 6379 10.0.0.2 6380"
    with caplog.at_level(logging.INFO, logger="aragora_redis"):
        for sentinel in ("s1", "s2", "s3"):  # every sentinel announces it
            fanout.deliver(
                {"type": "message", "channel": "+switch-master", "data": switch}, sentinel
            )
    [(attrs, point)] = points(reader, "aragora_redis.failovers")
    assert point.value == 1
    assert attrs == {
        **SYSTEM,
        "aragora_redis.mode": "sentinel",
        "aragora_redis.reason": "+switch-master",
        "server.address": "10.0.0.2",
        "server.port": 6380,
    }
    [line] = [r for r in caplog.records if r.name == "aragora_redis"]
    assert line.getMessage() == (
        f"topology change: mode=sentinel master={NAME} from=10.0.0.1:6379 to=10.0.0.2:6380 "
        "why=+switch-master from s1"
    )
    assert line.aragora_redis_topology["to"] == "10.0.0.2:6380"  # type: ignore[attr-defined]


def test_an_endpoint_failover_counts_once_per_window(reader: InMemoryMetricReader) -> None:
    endpoint = "primary.example.internal:6379"
    _metrics.endpoint_left(endpoint, "10.0.0.1", "READONLY", now=100.0)
    _metrics.endpoint_left(endpoint, "10.0.0.1", "READONLY", now=100.5)  # the same failover
    _metrics.endpoint_left(endpoint, "10.0.0.2", "READONLY", now=200.0)  # the next one
    assert total(reader, "aragora_redis.failovers", aragora_redis__mode="endpoint") == 2


def test_a_cluster_shard_failover_counts_once_per_window(reader: InMemoryMetricReader) -> None:
    old, new = ("10.0.0.1", 7000), ("10.0.0.2", 7001)
    _metrics.shard_moved(old, new, "slots 0-5460", now=100.0)
    _metrics.shard_moved(old, new, "slots 0-5460", now=100.5)  # another client's refresh
    _metrics.shard_moved(new, old, "slots 0-5460", now=100.7)  # failed back
    assert total(reader, "aragora_redis.failovers", aragora_redis__mode="cluster") == 2


def test_a_real_cluster_shard_failover_is_counted_and_logged_once(
    reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture, cluster: LocalStack
) -> None:
    """``CLUSTER FAILOVER`` on one shard's replica; the durable put that next writes to
    that shard meets MOVED and refreshes its slot map, the commands after it find the
    new primary there: one failover followed."""
    replica, ids = one_shard_ids(cluster, 2)
    control = ClusterControl(cluster)
    old = control.shard(keys.session(KIND, ids[0]))[0]
    stores = connect(cluster.settings)
    try:
        stores.sessions.put(KIND, ids[0], 1, durable=True)
        with caplog.at_level(logging.INFO, logger="aragora_redis"):
            assert control.planned(keys.session(KIND, ids[0])) == (old, replica)
            # Counted from a refreshed map that names the new primary: once every node has
            # heard of the failover (a refresh from one that had not would count nothing).
            key = keys.session(KIND, ids[0])
            wait_until(lambda: slot_map_agreed(cluster, key, replica), "gossip", timeout=30.0)
            stores.sessions.put(KIND, ids[1], 2, durable=True)  # MOVED: the map is refreshed
            assert stores.sessions.get(KIND, ids[1]) == 2  # a command after the refresh
            assert stores.sessions.get(KIND, ids[0]) == 1
    finally:
        stores.close()
        wait_until(
            lambda: cluster_health(cluster), "the old primary back as a replica", timeout=30.0
        )
    [(attrs, point)] = points(reader, "aragora_redis.failovers")
    assert point.value == 1
    new = cluster.address(replica)
    assert attrs == {
        **SYSTEM,
        "aragora_redis.mode": "cluster",
        "aragora_redis.reason": "slot-map",
        "server.address": new.host,
        "server.port": new.port,
    }
    [line] = [r for r in caplog.records if r.name == "aragora_redis"]
    assert line.getMessage().startswith("topology change: mode=cluster master=slots ")
    topology = line.aragora_redis_topology  # type: ignore[attr-defined]
    assert topology["from"] == cluster.address(old).render()
    assert topology["to"] == new.render()


def test_a_replaced_slot_map_is_compared_once(reader: InMemoryMetricReader) -> None:
    """What both cluster twins run after each command (redis-py replaces its slot cache on
    every refresh; a MOVED alone patches it in place)."""
    old, new, other = (
        ClusterNode("10.0.1.1", 7000),
        ClusterNode("10.0.1.2", 7001),
        ClusterNode("10.0.1.3", 7002),
    )
    manager = SimpleNamespace(slots_cache={0: [old, new], 1: [old, new], 2: [other]})
    watch = _SlotWatch()
    watch.check(manager)  # the first map: nothing to compare with
    manager.slots_cache[0] = [new]  # MOVED patched one slot in place: no refresh yet
    watch.check(manager)
    assert total(reader, "aragora_redis.failovers", aragora_redis__mode="cluster") == 0
    manager.slots_cache = {0: [new], 1: [new], 2: [other]}  # refreshed
    watch.check(manager)
    watch.check(manager)
    assert total(reader, "aragora_redis.failovers", server__address="10.0.1.2") == 1


def test_primary_moved_replies_carry_the_code_and_the_node(reader: InMemoryMetricReader) -> None:
    _metrics.primary_moved("READONLY", "sentinel", "127.0.0.1", 7001)
    _metrics.primary_moved("NOREPLICAS", "endpoint", "primary.example.internal", "6379")
    found = {a["error.type"]: a for a, _ in points(reader, "aragora_redis.primary_moved")}
    assert found["READONLY"] == {
        **SYSTEM,
        "aragora_redis.mode": "sentinel",
        "error.type": "READONLY",
        "db.response.status_code": "READONLY",
        "server.address": "127.0.0.1",
        "server.port": 7001,
    }
    assert found["NOREPLICAS"]["server.port"] == 6379


def test_noscript_reloads_are_counted_by_the_replies(reader: InMemoryMetricReader) -> None:
    ps = [prepare(f"k{i}", 1, 1, 1, "api") for i in range(2)]
    replies = Replies(ps)
    replies.take((0,), NoScriptError("NOSCRIPT No matching script"))
    replies.take((1,), NoScriptError("NOSCRIPT No matching script"))
    assert replies.reload() == [(0,), (1,)]
    assert total(reader, "aragora_redis.ratelimit.script_reloads") == 2


def test_crossslot_splits_are_counted_by_the_replies(reader: InMemoryMetricReader) -> None:
    ps = [prepare(f"k{i}", 1, 1, 1, "api") for i in range(3)]
    replies = Replies(ps)
    replies.take((0, 1, 2), ClusterCrossSlotError("CROSSSLOT Keys in request don't hash"))
    assert sorted(i for g in replies.resend() for i in g) == [0, 1, 2]
    assert total(reader, "aragora_redis.ratelimit.script_splits") == 1


def test_subscriber_reconnects_and_gaps_are_counted_by_liveness(
    reader: InMemoryMetricReader,
) -> None:
    live = Liveness()
    live.started(0.0, 1)  # the first subscription is no reconnect
    live.lost(1.0, "ConnectionError")
    live.started(2.0, 1)  # ours
    assert live.recovered(2.0) is not None
    live.confirmed(3.0)
    assert live.confirmed(4.0)  # redis-py subscribed again by itself
    assert live.recovered(4.0) is not None
    name = "aragora_redis.subscriber.reconnects"
    assert total(reader, name, aragora_redis__reconnected_by="client") == 1
    assert total(reader, name, aragora_redis__reconnected_by="redis-py") == 1
    assert total(reader, "aragora_redis.subscriber.gaps") == 2


def test_durable_writes_short_of_replicas_are_counted(reader: InMemoryMetricReader) -> None:
    _check_replicated("aragora:session:auth:s1", 1, 1000)
    with pytest.raises(NotReplicated):
        _check_replicated("aragora:session:auth:s1", 0, 1000)
    name = "aragora_redis.durable.not_replicated"
    assert total(reader, name, aragora_redis__store="sessions") == 1


def test_disabled_records_nothing_and_reads_no_clock(reader: InMemoryMetricReader) -> None:
    _metrics.disable()
    try:
        assert _metrics.start() == 0.0
        _metrics.decided("redis", _decisions(True), 0.0)
        _metrics.breaker_changed("closed", "open")
        _metrics.gap()
    finally:
        _metrics.use_meter_provider(None)
    assert points(reader, "aragora_redis.ratelimit.decisions") == []


def test_without_the_api_every_call_is_a_no_op() -> None:
    program = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from aragora_redis import _metrics, connect, RedisSettings\n"
        "assert _metrics._on is None and _metrics.start() == 0.0\n"
        "s = RedisSettings(host='127.0.0.1', port=1, rate_limit_fail_open=True)\n"
        "stores = connect(s, check=False)\n"
        "for _ in range(5): assert stores.rate_limiter.hit('k', rate=1, burst=9).allowed\n"
        "assert stores.rate_limiter.breaker_state == 'open'\n"
        "stores.close()\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)
