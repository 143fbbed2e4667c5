"""The endpoint control plane's failure detector: when to promote, whom, whom to demote."""

from __future__ import annotations

import pytest

from aragora_redis.local.detector import DETECT_S, failover_target, must_demote

OFFSETS = {"redis-1": 100, "redis-2": 250}


def test_a_primary_that_answered_within_the_detection_time_stays() -> None:
    assert failover_target(10.0, 10.0 + DETECT_S - 0.01, OFFSETS, detect_s=DETECT_S) is None


def test_a_primary_silent_for_the_detection_time_gives_way_to_the_most_up_to_date() -> None:
    assert failover_target(10.0, 10.0 + DETECT_S, OFFSETS, detect_s=DETECT_S) == "redis-2"


def test_an_unreachable_replica_is_not_promoted() -> None:
    offsets = {"redis-1": 100, "redis-2": None}
    assert failover_target(0.0, 60.0, offsets, detect_s=3.0) == "redis-1"


def test_no_answering_replica_means_waiting() -> None:
    assert failover_target(0.0, 60.0, {"redis-1": None, "redis-2": None}, detect_s=3.0) is None


def test_the_detection_time_is_configurable_and_positive() -> None:
    assert failover_target(0.0, 1.5, OFFSETS, detect_s=1.0) == "redis-2"
    assert failover_target(0.0, 1.5, OFFSETS, detect_s=2.0) is None
    with pytest.raises(ValueError, match="detect_s"):
        failover_target(0.0, 1.0, OFFSETS, detect_s=0)


def test_only_an_old_primary_that_says_master_is_demoted() -> None:
    assert must_demote("redis-0", "master", "redis-1")
    assert not must_demote("redis-1", "master", "redis-1")  # the primary itself
    assert not must_demote("redis-2", "slave", "redis-1")  # already a replica
    assert not must_demote("redis-0", None, "redis-1")  # still silent
