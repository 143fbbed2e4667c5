"""I/O-free: the figures of a network fault, beside :func:`~.observe.fault_figures`.

A master cut off from its replicas keeps acknowledging default writes until it
counts no replica within ``min-replicas-max-lag`` (10 s on the local stack): its
replicas' last ``REPLCONF ACK`` (sent every second) was at most 1 s before the cut,
lag is counted in whole seconds, and the count is refreshed once a second, so it
refuses writes (``NOREPLICAS``) at the latest :data:`LAG_BOUND_S` after the cut.
Writes it acknowledged after that cannot exist, so none may be lost: that is the
bound the drill checks (``lost_beyond_lag_bound``), beside the plain counts.

On a cluster (no min-replicas) the bound is Redis Cluster's own: a primary that has
not reached a majority of primaries for ``cluster-node-timeout`` marks them failing
and refuses commands (CLUSTERDOWN), :data:`CLUSTER_BOUND_S` after the cut at the
latest (node timeout, then its 100 ms cron, with a second of margin).
"""

from __future__ import annotations

from collections.abc import Collection

from ..conf import RedisNodeSpec
from ..local.shards import NODE_TIMEOUT_MS
from .observe import Observations, first_after
from .workload import BOUNDED_BURST, BOUNDED_RATE

#: min-replicas-max-lag of the local stack (the rendered default), in seconds.
MAX_LAG_S = float(RedisNodeSpec.min_replicas_max_lag)
#: Latest time after a cut at which the old master can still acknowledge a write.
LAG_BOUND_S = MAX_LAG_S + 2.0
#: The same on the cluster topology.
CLUSTER_BOUND_S = NODE_TIMEOUT_MS / 1000 + 1.0


def bound_for(mode: str) -> float:
    """The loss bound after a cut for a stack whose settings have ``mode``."""
    return CLUSTER_BOUND_S if mode == "cluster" else LAG_BOUND_S


#: After the heal every client must write again within this long.
HEAL_FOLLOW_S = 2.0
#: The figures :func:`net_figures` adds, in table order.
NET_METRICS = (
    "lost_beyond_lag_bound",
    "last_lost_after_cut_s",
    "lost_after_heal",
    "heal_follow_s",
    "plain_acked",
    "plain_lost",
    "longest_call_s",
    "fallback_admitted",
    "fallback_admit_limit",
)


def net_figures(
    obs: Observations,
    missing: Collection[str],
    start: float,
    end: float,
    heal: float,
    *,
    ours: bool,
    bound_s: float = LAG_BOUND_S,
) -> dict[str, float]:
    """Figures of one client for a network fault injected at ``start`` and healed at ``heal``.

    ``missing``: the keys acknowledged in ``[start, end]`` that the final master lacks.
    For our client the default writes count too, and its calls and limiter are judged.
    ``bound_s``: no write acknowledged later than this after the cut may be lost.
    """
    with obs.lock:
        acks = [(t, k) for t, k in obs.write_acks if start <= t <= end]
        plain = [(t, k) for t, k in obs.plain_acks if start <= t <= end]
        calls = [d for t, d in obs.calls if start <= t <= end]
        bounded = [b for b in obs.bounded if start <= b[1] <= end]
    everything = acks + plain if ours else acks
    lost = [t for t, k in everything if k in missing]
    follow = first_after((t for t, _ in everything), heal)
    figures: dict[str, float] = {
        "lost_beyond_lag_bound": sum(1 for t in lost if t > start + bound_s),
        "lost_after_heal": sum(1 for t in lost if t >= heal),
        "last_lost_after_cut_s": round(max(lost) - start, 3) if lost else 0.0,
        "heal_follow_s": round(follow - heal, 3) if follow is not None else -1.0,
    }
    if ours:
        # From the start of the first fallback call to the end of the last: the bucket's
        # own clock read each decision somewhere inside its call.
        fallback = [(began, ended, ok) for began, ended, src, ok in bounded if src == "fallback"]
        span = fallback[-1][1] - fallback[0][0] if fallback else 0.0
        figures |= {
            "plain_acked": len(plain),
            "plain_lost": sum(1 for _, k in plain if k in missing),
            "longest_call_s": round(max(calls, default=0.0), 3),
            "fallback_admitted": sum(1 for _, _, ok in fallback if ok),
            "fallback_admit_limit": round(BOUNDED_RATE * span + BOUNDED_BURST, 1),
        }
    return figures
