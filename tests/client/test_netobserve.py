"""The figures of a network fault (I/O-free): losses against the min-replicas-max-lag
bound, the heal, our calls and the limiter's fallback."""

from __future__ import annotations

from aragora_redis.drill.netobserve import (
    CLUSTER_BOUND_S,
    LAG_BOUND_S,
    MAX_LAG_S,
    bound_for,
    net_figures,
)
from aragora_redis.drill.observe import Observations
from aragora_redis.drill.workload import BOUNDED_BURST, BOUNDED_RATE


def test_the_bound_follows_the_rendered_max_lag() -> None:
    assert MAX_LAG_S == 10.0
    assert LAG_BOUND_S == 12.0
    assert bound_for("sentinel") == LAG_BOUND_S
    assert bound_for("cluster") == CLUSTER_BOUND_S == 2.5  # node timeout 1.5 s + 1 s


def test_a_cluster_loss_is_judged_against_the_node_timeout() -> None:
    obs = Observations()
    obs.write_acks += [(1.0, "a"), (4.0, "b")]
    figures = net_figures(obs, {"a", "b"}, 0.0, 30.0, 20.0, ours=False, bound_s=CLUSTER_BOUND_S)
    assert figures["lost_beyond_lag_bound"] == 1


def test_losses_are_judged_against_the_cut_and_the_heal() -> None:
    obs = Observations()
    obs.write_acks += [(1.0, "a"), (12.5, "b"), (14.0, "c"), (21.0, "d"), (21.5, "e")]
    figures = net_figures(obs, {"a", "c", "d"}, start=0.5, end=30.0, heal=20.0, ours=False)
    assert figures["lost_beyond_lag_bound"] == 2  # c (13.5 s after the cut) and d
    assert figures["lost_after_heal"] == 1  # d
    assert figures["last_lost_after_cut_s"] == 20.5
    assert figures["heal_follow_s"] == 1.0
    assert "plain_lost" not in figures


def test_a_client_that_never_wrote_after_the_heal_is_marked() -> None:
    obs = Observations()
    obs.write_acks.append((1.0, "a"))
    assert net_figures(obs, set(), 0.0, 30.0, 20.0, ours=False)["heal_follow_s"] == -1.0


def test_ours_counts_default_writes_calls_and_the_fallbacks_admissions() -> None:
    obs = Observations()
    obs.write_acks.append((1.0, "durable"))
    obs.plain_acks += [(2.0, "p1"), (3.0, "p2"), (25.0, "p3")]
    obs.calls += [(2.0, 0.01), (9.0, 4.9), (40.0, 9.0)]
    obs.bounded += [(4.9, 5.0, "redis", True), (5.9, 6.0, "fallback", True)]
    obs.bounded += [(7.9, 8.0, "fallback", False), (15.9, 16.0, "fallback", True)]
    figures = net_figures(obs, {"p2"}, start=0.0, end=30.0, heal=20.0, ours=True)
    assert (figures["plain_acked"], figures["plain_lost"]) == (3, 1)
    assert figures["lost_beyond_lag_bound"] == 0
    assert figures["longest_call_s"] == 4.9  # the 9 s call ended after the window
    assert figures["fallback_admitted"] == 2
    assert figures["fallback_admit_limit"] == round(BOUNDED_RATE * 10.1 + BOUNDED_BURST, 1)
    assert figures["heal_follow_s"] == 5.0
