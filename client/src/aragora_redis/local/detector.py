"""I/O-free: the endpoint control plane's failure detector, as a managed provider's.

The control plane (:mod:`aragora_redis.local.watchdog`) asks the primary for ``PING``
every :data:`PROBE_INTERVAL_S` from its own address. :func:`failover_target` decides,
from when the primary last answered and the replicas' replication offsets, whether
to fail over and to which replica; :func:`must_demote` whether a node that answers
again must be made a replica of the endpoint's primary.

:data:`DETECT_S` is how long the primary may stay silent before a replica is
promoted. Managed services document a few seconds to some tens of seconds for an
unplanned failover (Azure Cache for Redis: 10-15 s; Memorystore: "a few seconds"
unavailable); 5 s keeps the drill's partitions (15 s) long enough to see both the
promotion and the old primary's own refusal after ``min-replicas-max-lag`` (10 s),
and the ``flap`` fault's 1 s outages short enough to cause no failover at all.
"""

from __future__ import annotations

from collections.abc import Mapping

from .routing import most_up_to_date

#: How long the primary may not answer before the control plane promotes a replica.
DETECT_S = 5.0
#: How often the control plane checks the primary.
PROBE_INTERVAL_S = 0.25


def failover_target(
    last_answer: float, now: float, offsets: Mapping[str, int | None], *, detect_s: float
) -> str | None:
    """The replica to promote, or None to wait.

    ``last_answer``: when the primary last answered (or the detector started);
    ``offsets``: each replica's replication offset, None when it did not answer.
    Nothing is promoted while the primary answered within ``detect_s``, nor when no
    replica answers (promoting an unreachable node would move the endpoint nowhere).
    """
    if detect_s <= 0:
        raise ValueError(f"detect_s must be positive, got {detect_s}")
    if now - last_answer < detect_s:
        return None
    if all(off is None for off in offsets.values()):
        return None
    return most_up_to_date(offsets)


def must_demote(name: str, role: str | None, primary: str) -> bool:
    """Whether ``name``, answering with ``role`` (None: silent), must follow ``primary``.

    A node other than the endpoint's primary that says it is a master is an old
    primary back from a partition or a freeze: left alone it would keep taking the
    writes of every connection still open to it.
    """
    return name != primary and role == "master"
