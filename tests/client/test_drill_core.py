"""I/O-free core of the drill: gaps, buckets and the per-fault figures."""

from __future__ import annotations

import pytest

from aragora_redis import ConfigError
from aragora_redis.conf import GUIDE_TIMINGS, LOCAL_TIMINGS
from aragora_redis.drill.faults import NAMES, parse_faults, promotion_bound_s
from aragora_redis.drill.observe import Observations, Verified, buckets, fault_figures, longest_gap


def test_longest_gap_counts_the_window_edges() -> None:
    assert longest_gap([1.0, 1.5, 4.0], 0.0, 5.0) == 2.5
    assert longest_gap([], 2.0, 3.0) == 1.0
    assert longest_gap([9.0], 0.0, 1.0) == 1.0


def test_buckets_count_per_tenth_of_a_second() -> None:
    ours, naive = Observations(), Observations()
    for t in (0.01, 0.05, 0.15):
        ours.ack(t, f"k{t}")
    ours.error(0.12, "sessions", write=True)
    naive.ack(0.19, "n")
    samples = buckets(ours, naive, duration=0.3)
    assert [(s.ours_acks, s.ours_errors, s.naive_acks) for s in samples[:2]] == [
        (2, 0, 0),
        (1, 1, 1),
    ]


def test_fault_figures_from_observations() -> None:
    obs = Observations()
    for i, t in enumerate((1.0, 1.1, 3.0, 3.1)):
        obs.ack(t, f"k{i}")
        obs.events_acked.append((t, i))
    obs.durable_heard += [(1.2, 0), (1.2, 1), (3.2, 2)]
    obs.live_heard += [(1.05, 0), (2.6, 2)]
    obs.decisions += [(1.0, "redis", 1.0), (2.0, "fallback", 3.5)]
    obs.error(2.0, "sessions", write=True)
    verified = Verified(missing_keys=frozenset({"k3"}), stream_seqs=frozenset({0, 1, 2}))
    events = [(2.0, "+promoted-slave"), (2.5, "+switch-master")]
    got = fault_figures(obs, verified, 0.5, 4.0, events, with_events=True)
    assert got["write_outage_s"] == 1.9
    assert (got["acked_writes"], got["acked_writes_lost"], got["caller_errors"]) == (4, 1, 1)
    assert (got["fallback_decisions"], got["slowest_decision_ms"]) == (1, 3.5)
    assert got["switch_follow_s"] == 0.5
    assert got["subscriber_recovery_s"] == 0.6
    assert (got["events_published"], got["events_lost"], got["events_unreplicated"]) == (4, 0, 1)


def test_the_wait_for_a_promotion_covers_sentinels_retry_after_an_aborted_attempt() -> None:
    # down-after + 2 x failover-timeout + 1 s desync + 5 s
    assert promotion_bound_s(LOCAL_TIMINGS) == 1.0 + 20.0 + 1.0 + 5.0
    assert promotion_bound_s(GUIDE_TIMINGS) == 5.0 + 120.0 + 1.0 + 5.0


def test_fault_names_are_checked() -> None:
    assert [f.name for f in parse_faults("all")] == list(NAMES)
    assert [f.name for f in parse_faults("kill, planned")] == ["planned", "kill"]
    with pytest.raises(ConfigError, match="--faults"):
        parse_faults("reboot")


def test_events_trimmed_from_the_capped_stream_are_not_counted_as_unreplicated() -> None:
    obs = Observations()
    for seq in range(1, 9):
        obs.events_acked.append((float(seq), seq))
        obs.durable_heard.append((float(seq), seq))
    retained = Verified(stream_seqs=frozenset({5, 6, 8}))  # 1-4 trimmed by MAXLEN, 7 missing
    got = fault_figures(obs, retained, 0.0, 10.0, [], with_events=True)
    assert (got["events_published"], got["events_unreplicated"], got["events_lost"]) == (8, 1, 0)
