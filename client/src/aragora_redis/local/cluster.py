"""The cluster topology's fault control plane: fails one shard over at a time.

Redis Cluster fails over by itself; this module only injects the faults and
watches for the outcome, on the shard that owns a given key:

- :meth:`ClusterControl.planned`: ``CLUSTER FAILOVER`` on the shard's replica (the
  primary pauses writes until the replica caught up, then hands its slots over);
- :meth:`ClusterControl.kill`: ``kill -9`` of the shard's primary; the cluster
  promotes its replica after ``cluster-node-timeout`` and an election;
- :meth:`ClusterControl.freeze`: the primary is stopped (SIGSTOP) until the cluster
  has promoted its replica, then resumed (SIGCONT); it rejoins as a replica.

Each records ``SHARD_PROMOTED`` (monotonic time) once the replica answers as a
primary. Decisions (which node owns the slot, which node replicates it) live in
:mod:`.shards`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from redis.crc import key_slot

from ..errors import LocalStackError
from .shards import SHARD_PROMOTED, Info, is_replica_of, replicas_of, slot_owner
from .stack import LocalStack

Say = Callable[[str], None]
_POLL_S = 0.01
#: How long a failover may take before the control plane gives up.
FAILOVER_TIMEOUT_S = 30.0
#: Redis aborts a manual failover after 5 s (CLUSTER_MF_TIMEOUT); past it, ask again.
MANUAL_FAILOVER_S = 6.0


class ClusterControl:
    """Shard failovers of one cluster stack; ``events`` holds (monotonic time, event)."""

    def __init__(self, stack: LocalStack, say: Say | None = None) -> None:
        if stack.options.topology != "cluster":
            raise LocalStackError("the cluster control plane needs --topology cluster")
        self.stack = stack
        self.say: Say = say or (lambda _: None)
        self.events: list[tuple[float, str]] = []
        #: The slots of the shard last failed over.
        self.slots = range(0)

    def shard(self, key: str) -> tuple[str, str]:
        """(primary, replica) of the shard that owns ``key``."""
        self.slots, port = slot_owner(self._slots(), key_slot(key.encode()))
        primary = next(n.name for n in self.stack.data_nodes if n.port == port)
        infos = {n.name: self._info(n.name) for n in self.stack.data_nodes if n.port != port}
        replicas = replicas_of(infos, port)
        if not replicas:
            raise LocalStackError(f"{primary} (slot of {key!r}) has no replica to promote")
        return primary, replicas[0]

    def planned(self, key: str) -> tuple[str, str]:
        """``CLUSTER FAILOVER`` on the replica of ``key``'s shard; returns (old, new)."""
        old, new = self.shard(key)
        deadline = time.monotonic() + FAILOVER_TIMEOUT_S
        while True:
            client = self.stack.client(new, timeout=5.0)
            try:
                client.execute_command("CLUSTER FAILOVER")
            finally:
                client.close()
            self.say(f"CLUSTER FAILOVER on {new}, replica of {old}")
            try:
                self._promoted(new, timeout=MANUAL_FAILOVER_S)
            except LocalStackError:
                if time.monotonic() > deadline:
                    raise
                continue  # the manual failover timed out (replica not caught up): ask again
            return old, new

    def kill(self, key: str) -> tuple[str, str]:
        """``kill -9`` of the primary of ``key``'s shard; once its replica leads, the dead
        node is started again (as an orchestrator replaces it) and rejoins as a replica,
        so that the shard can acknowledge durable writes (``WAIT``) again."""
        old, new = self.shard(key)
        self.stack.kill(old)
        self.say(f"killed {old} (SIGKILL); waiting for the cluster to promote {new}")
        self._promoted(new)
        self.stack.spawn(old)
        self._rejoined(old, new)
        self.say(f"restarted {old}: it rejoined as a replica of {new}")
        return old, new

    def freeze(self, key: str) -> tuple[str, str]:
        """SIGSTOP the primary of ``key``'s shard until its replica leads, then SIGCONT;
        returns once the old primary has rejoined as a linked replica."""
        old, new = self.shard(key)
        self.stack.freeze(old)
        self.say(f"froze {old} (SIGSTOP); waiting for the cluster to promote {new}")
        try:
            self._promoted(new)
        finally:
            self.stack.thaw(old)
        self._rejoined(old, new)
        self.say(f"resumed {old} (SIGCONT): it rejoined as a replica of {new}")
        return old, new

    def _rejoined(self, old: str, new: str) -> None:
        port = self.stack.address(new).port
        self._wait(lambda: is_replica_of(self._info(old) or {}, port, linked=True), old)

    def _promoted(self, name: str, timeout: float = FAILOVER_TIMEOUT_S) -> None:
        self._wait(lambda: (self._info(name) or {}).get("role") == "master", name, timeout)
        self.events.append((time.monotonic(), SHARD_PROMOTED))
        self.say(f"{name} is the shard's primary")

    def _wait(
        self, done: Callable[[], bool], name: str, timeout: float = FAILOVER_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise LocalStackError(f"{name}: no failover within {timeout:g} s")
            time.sleep(_POLL_S)

    def _slots(self) -> list[object]:
        for node in self.stack.data_nodes:
            if self.stack.state(node.name) != "running":
                continue
            client = self.stack.client(node.name, timeout=0.5)
            try:
                reply = client.execute_command("CLUSTER SLOTS")
            except redis.RedisError:
                continue
            finally:
                client.close()
            if isinstance(reply, list):
                return reply
        raise LocalStackError("no cluster node answered CLUSTER SLOTS")

    def _info(self, name: str) -> Info | None:
        if self.stack.state(name) != "running":
            return None
        client = self.stack.client(name, timeout=0.5)
        try:
            info: Info = client.info("replication")
        except redis.RedisError:
            return None
        finally:
            client.close()
        return info
