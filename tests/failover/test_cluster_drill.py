"""The drill against the cluster topology: one test per shard failover.

The stack (``aragora-redis local up --topology cluster``) is three shards of a
primary and a replica, ``cluster-node-timeout`` 1.5 s. Each test fails over the
shard that owns the drill's pub/sub channel (:mod:`aragora_redis.local.cluster`)
while ours and naive ``redis.RedisCluster`` (with a retry loop) write beside
each other. Asserted: no acknowledged write lost in ``CLUSTER FAILOVER``, no
durable write lost under kill -9 and a frozen primary, no rate-limiter error with
fail-open on, and the frozen primary back as a replica. Durations are printed and
recorded, not asserted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aragora_redis.drill.record import FaultResult
from aragora_redis.local import LocalStack, up_on_free_ports
from aragora_redis.local.ready import cluster_health

from .drill_support import Record, drill_one

#: A drill thread dying of an exception fails the test (the drill counts only its own errors).
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = up_on_free_ports(tmp_path_factory.mktemp("cluster-drill"), "cluster")
    try:
        yield stack
    finally:
        stack.down()


def _drill(stack: LocalStack, name: str, record_property: Record) -> FaultResult:
    result = drill_one(stack, name, record_property, settle_s=2.0)
    assert cluster_health(stack) is True, "the drill healed the cluster"
    return result


def test_cluster_failover_loses_no_acknowledged_write(
    cluster_stack: LocalStack, record_property: Record
) -> None:
    ours = _drill(cluster_stack, "planned", record_property).ours
    assert ours["acked_writes_lost"] == 0
    assert ours["events_lost"] == 0
    assert ours["events_unreplicated"] == 0


@pytest.mark.parametrize("fault", ["kill", "freeze"])
def test_lost_shard_primary_loses_no_durable_write(
    fault: str, cluster_stack: LocalStack, record_property: Record
) -> None:
    """kill -9 of a shard's primary, or the primary frozen until the cluster promoted away."""
    ours = _drill(cluster_stack, fault, record_property).ours
    assert ours["acked_writes_lost"] == 0
    assert ours["events_lost"] == 0
