"""Network faults in the drill: one test per fault, on a Sentinel stack whose processes have
their own loopback addresses, with ours beside naive redis-py (Sentinel) and a URL-only
client in the same run.

Each fault holds for 10-15 s and heals before the drill verifies (nftables rules in a
table of this process, removed in ``finally``, on SIGTERM and at exit). Asserted, as
issue 16 sets them: no durable (WAIT) write of ours lost; no client loses a write
acknowledged later than min-replicas-max-lag + 2 s after the cut, nor one acknowledged
after the heal; ours writes again within 2 s of the heal; no call of ours lasts longer
than its socket timeout (plus 1 s for pauses and a loaded machine); the fail-open
limiter never raises and its in-memory fallback admits at most rate x duration + burst.
Needs root and nft: skipped with the command to run otherwise.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from aragora_redis.drill import faults as f
from aragora_redis.drill.netobserve import HEAL_FOLLOW_S
from aragora_redis.drill.record import FaultResult
from aragora_redis.drill.run import Drill, DrillOptions
from aragora_redis.local import LocalStack, Topology, netfault, netplan, up_on_free_ports

from .drill_support import Record

WHY_NOT = netfault.unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
#: A call may outlast its socket timeout by the retry pauses and a busy machine's delays.
CALL_ALLOWANCE_S = 1.0


def _stack(factory: pytest.TempPathFactory, topology: Topology) -> Iterator[LocalStack]:
    netfault.clean_stale()
    subnet = netplan.subnet(random.SystemRandom().randint(1, 254))
    folder = factory.mktemp(f"partition-{topology}")
    haproxy = topology == "sentinel"
    running = up_on_free_ports(folder, topology, haproxy=haproxy, subnet=subnet)
    try:
        yield running
    finally:
        running.down()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from _stack(tmp_path_factory, "sentinel")


@pytest.fixture(scope="module")
def endpoint_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from _stack(tmp_path_factory, "endpoint")


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from _stack(tmp_path_factory, "cluster")


def _drill(stack: LocalStack, name: str, record_property: Record) -> FaultResult:
    (fault,) = f.parse_faults(name, f.faults_for(stack.options.topology), f.NETWORK_FAULTS)
    sentinel = stack.options.topology == "sentinel"
    options = DrillOptions(
        faults=(fault,), baseline=True, url_only=sentinel, warmup_s=1.0, settle_s=3.0
    )
    (result,) = Drill(stack.settings, options, stack).run().faults
    clients = {"ours": result.ours, "naive": result.naive}
    if sentinel:
        clients["url_only"] = result.url_only
    for who, figures in clients.items():
        assert figures is not None, f"{who} did not run"
        for metric, value in figures.items():
            record_property(f"{who}_{metric}", value)
        print(f"\n{name}: {who} {figures}")
        assert figures["acked_writes"] > 0, f"{who} wrote nothing"
        assert figures["lost_beyond_lag_bound"] == 0, f"{who}: a loss beyond the lag bound"
        assert figures["lost_after_heal"] == 0, f"{who}: a write after the heal was lost"
    ours = result.ours
    assert ours["acked_writes_lost"] == 0, "a durable (WAIT) write of ours was lost"
    assert ours["events_lost"] == 0
    assert ours["limiter_errors"] == 0, "the fail-open limiter raised"
    assert ours["fallback_admitted"] <= ours["fallback_admit_limit"]
    assert 0 <= ours["heal_follow_s"] <= HEAL_FOLLOW_S
    timeout = stack.settings.socket_timeout
    assert ours["longest_call_s"] <= timeout + CALL_ALLOWANCE_S, "a call of ours hung"
    # This process's tables only: another run on the machine may hold its own cuts.
    mine = netplan.table_name(os.getpid(), 0).rpartition("_")[0] + "_"
    assert not [t for t in _tables() if t.startswith(mine)], "rules left"
    return result


def _tables() -> list[str]:
    listing = netfault._nft(["list", "tables"]).stdout
    return [line.split()[-1] for line in listing.splitlines() if line.startswith("table ")]


def test_partition_master_with_naive_client(stack: LocalStack, record_property: Record) -> None:
    result = _drill(stack, "partition", record_property)
    assert result.ours["plain_lost"] == 0, "ours was with the majority: nothing to lose"


def test_partition_client_ours_with_the_old_master(
    stack: LocalStack, record_property: Record
) -> None:
    result = _drill(stack, "partition-client", record_property)
    # Its default writes went to the old master until it refused them (NOREPLICAS):
    # lost, but only those of the first min-replicas-max-lag seconds (asserted above).
    assert result.ours["plain_acked"] > 0


def test_slow_master(stack: LocalStack, record_property: Record) -> None:
    _drill(stack, "slow", record_property)


def test_flapping_master_link(stack: LocalStack, record_property: Record) -> None:
    _drill(stack, "flap", record_property)


# Redis Cluster: the primary of the shard owning the drill's channel is the one cut off.
# The call bound holds there too: redis-py refreshes the slot map from the nodes one after
# the other, each unreachable one costing a connect timeout (calls of 6 s and 16 s with a
# 5 s timeout), and ours waits for a refresh only until its own timeout is spent
# (aragora_redis._refresh); see the README.


def test_cluster_partition_primary_with_naive_client(
    cluster_stack: LocalStack, record_property: Record
) -> None:
    _drill(cluster_stack, "partition", record_property)


def test_cluster_partition_client_ours_with_the_old_primary(
    cluster_stack: LocalStack, record_property: Record
) -> None:
    _drill(cluster_stack, "partition-client", record_property)


# The endpoint topology: the control plane's failure detector (5 s) is what fails it
# over; our client beside naive URL-only redis-py (there is no Sentinel to ask).


def test_endpoint_partition_primary_from_replicas_and_control_plane(
    endpoint_stack: LocalStack, record_property: Record
) -> None:
    result = _drill(endpoint_stack, "partition", record_property)
    # Every client still reached the old primary through the endpoint: its default
    # writes there until NOREPLICAS may be lost, within the bound asserted above.
    assert result.ours["plain_acked"] > 0


def test_endpoint_partition_client_ours_with_the_old_primary(
    endpoint_stack: LocalStack, record_property: Record
) -> None:
    result = _drill(endpoint_stack, "partition-client", record_property)
    assert result.ours["plain_lost"] == 0, "ours reached no node: it cannot have lost a write"


def test_endpoint_slow_primary(endpoint_stack: LocalStack, record_property: Record) -> None:
    _drill(endpoint_stack, "slow", record_property)


def test_endpoint_flapping_primary_link(
    endpoint_stack: LocalStack, record_property: Record
) -> None:
    _drill(endpoint_stack, "flap", record_property)
