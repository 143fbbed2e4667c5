"""I/O-free: the cluster topology's shard decisions, for its fault control plane.

The local cluster is three shards, each a primary and one replica. The control
plane (:mod:`aragora_redis.local.cluster`) fails one shard over at a time: the
shard that owns a given key (the drill picks its pub/sub channel, so that the
subscribers' node is the one that dies). This module decides, from replies it is
handed:

- :func:`slot_owner`: the slot range and port of the primary serving a slot, from
  ``CLUSTER SLOTS`` (the drill judges the failed shard's outage on that range);
- :func:`replicas_of`: which nodes replicate a primary, from each node's
  ``INFO replication`` (answers even when the primary is dead or frozen);
- :func:`is_replica_of`: whether a node has rejoined as a linked replica.

``NODE_TIMEOUT_MS`` is the local stack's ``cluster-node-timeout``: how long a
primary goes unanswered before the cluster fails it over (production keeps Redis'
15 s or the provider's value; locally it is short so that the drill is quick).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import LocalStackError

#: ``cluster-node-timeout`` of the local cluster topology (ms).
NODE_TIMEOUT_MS = 1500
#: Event the control plane records once a replica of the failed shard is its primary.
SHARD_PROMOTED = "shard-promoted"

Info = Mapping[str, object]


def slot_owner(slots: Sequence[object], slot: int) -> tuple[range, int]:
    """The slot range holding ``slot`` and the port of the primary serving it, from a
    ``CLUSTER SLOTS`` reply."""
    for entry in slots:
        if not isinstance(entry, list | tuple) or len(entry) < 3:
            continue
        start, end, primary = int(str(entry[0])), int(str(entry[1])), entry[2]
        if start <= slot <= end and isinstance(primary, list | tuple):
            return range(start, end + 1), int(str(primary[1]))
    raise LocalStackError(f"no primary serves slot {slot}")


def replicas_of(infos: Mapping[str, Info | None], primary_port: int) -> list[str]:
    """The nodes whose ``INFO replication`` says they replicate ``primary_port``.

    ``infos`` maps node names to their reply (None: the node did not answer).
    """
    return [name for name, info in infos.items() if info and is_replica_of(info, primary_port)]


def is_replica_of(info: Info, primary_port: int, *, linked: bool = False) -> bool:
    """Whether ``info`` (``INFO replication``) is a replica of ``primary_port``;
    with ``linked`` also that its link to it is up."""
    if info.get("role") != "slave" or str(info.get("master_port")) != str(primary_port):
        return False
    return not linked or info.get("master_link_status") == "up"
