"""I/O-free: shards whose primary changed between two slot maps (:mod:`aragora_redis._slotmap`)."""

from __future__ import annotations

from redis.cluster import ClusterNode

from aragora_redis._slotmap import Change, changes, primaries

A, B, C = ClusterNode("10.0.0.1", 7000), ClusterNode("10.0.0.2", 7001), ClusterNode("::1", 7002)


def test_primaries_are_the_first_node_of_each_slot() -> None:
    assert primaries({0: [A, B], 1: [B], 2: []}) == {0: A.name, 1: B.name}


def test_a_shard_failover_is_one_change_whatever_its_slots() -> None:
    before = {slot: A.name for slot in range(100)} | {slot: C.name for slot in range(100, 200)}
    after = {slot: B.name for slot in range(100)} | {slot: C.name for slot in range(100, 200)}
    assert changes(before, after) == [Change(A.name, B.name, 0, 99, 100)]


def test_an_unchanged_or_partial_map_is_no_change() -> None:
    same = {slot: A.name for slot in range(10)}
    assert changes(same, same) == []
    assert changes({}, same) == [], "a first map is no failover"
    assert changes(same, {}) == []


def test_addresses_split_on_the_last_colon() -> None:
    assert Change.address(C.name) == ("::1", 7002)
    assert Change.address(A.name) == ("10.0.0.1", 7000)
