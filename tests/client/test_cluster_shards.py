"""The cluster control plane's I/O-free decisions (:mod:`aragora_redis.local.shards`)."""

from __future__ import annotations

import pytest

from aragora_redis.errors import LocalStackError
from aragora_redis.local.shards import is_replica_of, replicas_of, slot_owner

SLOTS = [
    [0, 5460, ["127.0.0.1", 7000, "a", {}], ["127.0.0.1", 7004, "e", {}]],
    [5461, 10922, ["127.0.0.1", 7001, "b", {}]],
    [10923, 16383, ["127.0.0.1", 7002, "c", {}]],
]


def test_slot_owner_gives_the_range_and_the_primary_port() -> None:
    assert slot_owner(SLOTS, 0) == (range(0, 5461), 7000)
    assert slot_owner(SLOTS, 5461) == (range(5461, 10923), 7001)
    assert slot_owner(SLOTS, 16383) == (range(10923, 16384), 7002)


def test_slot_owner_refuses_an_uncovered_slot() -> None:
    with pytest.raises(LocalStackError):
        slot_owner(SLOTS[:1], 9000)


def test_replicas_of_reads_each_nodes_replication_info() -> None:
    infos = {
        "redis-3": {"role": "slave", "master_port": 7000, "master_link_status": "down"},
        "redis-4": {"role": "slave", "master_port": 7001, "master_link_status": "up"},
        "redis-5": None,
        "redis-1": {"role": "master"},
    }
    assert replicas_of(infos, 7000) == ["redis-3"]
    assert replicas_of(infos, 7002) == []


def test_is_replica_of_with_linked_needs_the_link_up() -> None:
    down = {"role": "slave", "master_port": "7000", "master_link_status": "down"}
    assert is_replica_of(down, 7000)
    assert not is_replica_of(down, 7000, linked=True)
    assert is_replica_of({**down, "master_link_status": "up"}, 7000, linked=True)
    assert not is_replica_of({"role": "master"}, 7000)
