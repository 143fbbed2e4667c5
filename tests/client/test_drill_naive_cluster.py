"""The drill's naive cluster client leaves from its own address only (a real cluster)."""

from __future__ import annotations

import time

import redis

from aragora_redis.drill.workload import naive_cluster
from aragora_redis.local import LocalStack

#: An address of the loopback block that no process of the test stack uses.
SOURCE = "127.0.0.2"


def test_every_connection_of_the_naive_cluster_client_leaves_from_its_address(
    cluster: LocalStack,
) -> None:
    load = naive_cluster(cluster.settings, "bound", time.monotonic, source=SOURCE)
    client = load.client
    assert isinstance(client, redis.RedisCluster)
    try:
        for i in range(30):  # keys on every shard
            client.set(f"drill-bound:{i}", "v")
        sources = set()
        for node in client.get_nodes():
            if node.redis_connection is None:
                continue
            pool = node.redis_connection.connection_pool
            for conn in [*pool._available_connections, *pool._in_use_connections]:
                if conn._sock is not None:
                    sources.add(conn._sock.getsockname()[0])
        # Before, the connection of redis-py's first COMMAND stayed in its pool and came
        # back from the host address (127.0.0.1), on our client's side of a partition.
        assert sources == {SOURCE}
    finally:
        client.close()
