"""What the durable-put tests on the cluster share: ids on one shard and a frozen replica."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.crc import key_slot

from aragora_redis import keys
from aragora_redis.errors import LocalStackError
from aragora_redis.local import LocalStack
from aragora_redis.local.cluster import ClusterControl
from aragora_redis.local.probe import wait_until
from aragora_redis.local.ready import cluster_health
from aragora_redis.local.shards import slot_owner

KIND = "auth"


def one_shard_ids(stack: LocalStack, count: int) -> tuple[str, list[str]]:
    """(the replica of one shard, ``count`` session ids whose keys that shard owns)."""
    control = ClusterControl(stack)
    _, replica = control.shard(keys.session(KIND, uuid.uuid4().hex))
    ids: list[str] = []
    while len(ids) < count:
        candidate = uuid.uuid4().hex
        if key_slot(keys.session(KIND, candidate).encode()) in control.slots:
            ids.append(candidate)
    return replica, ids


def slot_map_agreed(stack: LocalStack, key: str, primary: str) -> bool:
    """Whether every running node's ``CLUSTER SLOTS`` names ``primary`` for ``key``'s slot.

    A node hears of a failover by gossip: until then a slot map refreshed from it
    still names the old primary.
    """
    port, slot = stack.address(primary).port, key_slot(key.encode())
    for node in stack.data_nodes:
        if stack.state(node.name) != "running":
            continue
        client = stack.client(node.name, timeout=0.5)
        try:
            if slot_owner(client.execute_command("CLUSTER SLOTS"), slot)[1] != port:
                return False
        except (redis.RedisError, LocalStackError):
            return False
        finally:
            client.close()
    return True


@contextmanager
def replica_frozen(stack: LocalStack, replica: str) -> Iterator[None]:
    """``replica`` stopped (SIGSTOP) inside the block; resumed, and the cluster whole, after.

    A frozen replica is never failed over (only primaries are); the block must stay
    well under the cluster-node-timeout, or the replica is flagged FAIL until it
    answers again (harmless, but the health wait below would then take longer).
    """
    wait_until(lambda: cluster_health(stack), "the cluster to be whole", timeout=30.0)
    stack.freeze(replica)
    try:
        yield
    finally:
        stack.thaw(replica)
        wait_until(lambda: cluster_health(stack), "the cluster to be whole", timeout=30.0)
