"""Cluster clients that ride out a shard failover: ``BudgetCluster`` and its asyncio twin.

redis-py's cluster client retries a command a fixed number of times with no pause,
refreshing the slot map after each connection error: against a killed primary
every attempt is refused at once, so a command fails within some 0.1 s while the
cluster needs ``cluster-node-timeout`` and an election (seconds) to promote the
replica, and the caller has to try again by itself (the drill's writers did,
between other calls, and reached the promoted replica up to 0.3 s late).

These clients keep redis-py's own loop short (one retry after a refreshed slot
map, which covers a slot that has just moved) and wrap each command in the
data-node retry budget of :mod:`aragora_redis._retry`: while the slot's primary
is unreachable the command tries again every 25-100 ms (each failed attempt
refreshes the slot map from another node, redis-py's reaction to a connection
error), so it reaches the promoted replica within about 0.1 s, for about 2 s at
most. The callers of one cluster client do not share a prober: a success on
another shard says nothing about the failed one.

Each slot-map refresh is compared with the map before it, after the command that
follows it (:mod:`aragora_redis._slotmap`): a shard whose primary changed is a failover the
client followed, counted in ``aragora_redis.failovers`` (mode ``cluster``) and
logged once (:func:`aragora_redis._metrics.shard_moved`).

Commands sent to explicit nodes (``target_nodes``) are not retried here (redis-py
does not retry them either: the node may be gone from the refreshed map), nor is
a timeout: a frozen primary stays in the slot map until the cluster has promoted
its replica, so sending the command again would wait for another socket timeout
(a drill run with them retried held every writer on a frozen shard for 4 s instead
of 2), and redis-py's own retry after a refreshed map does not follow a timeout either
(:data:`INNER_RETRY_ERRORS`): the attempt that timed out has used the call's timeout.

No call waits for more of a slot-map refresh than its timeout allows: redis-py asks the
nodes one after the other, each with the full connect timeout, and these clients run
each refresh on its own, one at a time, each command waiting for it until the client's
timeout from the command's start (:mod:`aragora_redis._refresh`). redis-py builds its
sync ``NodesManager`` by name, with no parameter for a subclass, so the sync client's
manager is given the subclass :class:`_GatedNodes` after it is built; the asyncio client
overrides ``initialize``, through which redis-py's asyncio client refreshes. Pipelines
have no deadline: they wait for a refresh to its end, as before (the asyncio client's
pipelines refresh through the client's ``initialize``, so through the gate; only a cluster
transaction, which this package does not use, calls redis-py's manager directly).

Closing for good (``close_all``, through :func:`aragora_redis.close_redis`, which the stores
and the limiter use) ends a refresh under way first, the asyncio client's by cancelling it,
the sync one's by waiting for it (at most the client's timeout), then closes every node and
seed; redis-py's own ``close`` / ``aclose`` stay as they are, since redis-py calls them as a
reset.
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

import redis
import redis.asyncio as aredis
from redis.cluster import NodesManager
from redis.exceptions import ClusterDownError, ConnectionError, SlotNotCoveredError, TimeoutError

from . import _metrics
from ._refresh import AsyncRefreshGate, RefreshGate, deadline
from ._retry import AsyncBudgetRetry, BudgetRetry
from ._slotmap import Change, changes, primaries

#: redis-py's own immediate retries of a cluster command (after a refreshed slot map).
INNER_RETRIES = 1
#: Errors a cluster command goes again on, besides redis-py's connection errors.
SHARD_DOWN = (ClusterDownError, SlotNotCoveredError)
#: The errors after which redis-py's own loop goes again: its own, but a timeout.
INNER_RETRY_ERRORS = (ConnectionError, *SHARD_DOWN)


def _retryable(error: Exception) -> bool:
    return not isinstance(error, TimeoutError)


def _budget(retry: BudgetRetry | AsyncBudgetRetry) -> Any:
    # SlotNotCoveredError is not a RedisError in redis-py's hierarchy, yet retryable.
    retry.update_supported_errors(list(SHARD_DOWN))  # type: ignore[arg-type]
    return retry


class BudgetCluster(redis.RedisCluster):
    """``redis.RedisCluster`` whose keyed commands retry within the time budget (sync).

    ``timeout_s``: the client's timeout, past which no command is held.
    """

    ERRORS_ALLOW_RETRY = INNER_RETRY_ERRORS  # type: ignore[assignment]  # redis-py types it as its 4

    def __init__(self, timeout_s: float, *args: Any, **kwargs: Any) -> None:
        self.timeout_s = timeout_s
        budget = BudgetRetry(shared=False, timeout_s=timeout_s)
        self._budget: BudgetRetry = _budget(budget)  # used by __init__
        self._slots = _SlotWatch()
        super().__init__(*args, **kwargs)
        _GatedNodes.adopt(self.nodes_manager)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command; while its shard has no reachable primary, again within the budget."""
        run: Any = super().execute_command
        try:
            with deadline(time.monotonic() + self.timeout_s):
                if "target_nodes" in kwargs:
                    return run(*args, **kwargs)
                return self._budget.call_with_retry(
                    lambda: run(*args, **kwargs), _ignore, _retryable
                )
        finally:
            self._slots.check(self.nodes_manager)

    def refresh_slots(self) -> None:
        """Refresh the slot map now (or join the refresh under way), within the deadline."""
        self.nodes_manager.initialize()

    def close_all(self) -> None:
        """Close for good: wait for a refresh under way (at most the client's timeout), then
        close every connection. Not ``close``, which redis-py also calls as a reset."""
        cast(_GatedNodes, self.nodes_manager).gate.close(self.timeout_s)
        self.close()


class _GatedNodes(NodesManager):
    """redis-py's ``NodesManager`` whose refreshes go through a :class:`RefreshGate`."""

    gate: RefreshGate

    @staticmethod
    def adopt(nodes: NodesManager) -> None:
        """Make ``nodes``, built by redis-py, a :class:`_GatedNodes` with a gate of its own."""
        nodes.__class__ = _GatedNodes
        cast(_GatedNodes, nodes).gate = RefreshGate()

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        """Refresh the slot map (or join the refresh under way), within the caller's deadline."""
        run = super().initialize
        self.gate.refresh(lambda: run(*args, **kwargs))


class AsyncBudgetCluster(aredis.RedisCluster):
    """The asyncio twin of :class:`BudgetCluster`."""

    ERRORS_ALLOW_RETRY = INNER_RETRY_ERRORS  # type: ignore[assignment]  # redis-py types it as its 4

    def __init__(self, timeout_s: float, *args: Any, **kwargs: Any) -> None:
        self.timeout_s = timeout_s
        budget = AsyncBudgetRetry(shared=False, timeout_s=timeout_s)
        self._budget: AsyncBudgetRetry = _budget(budget)
        self._slots = _SlotWatch()
        self._refreshes = AsyncRefreshGate()
        super().__init__(*args, **kwargs)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command; while its shard has no reachable primary, again within the budget."""
        run: Any = super().execute_command
        try:
            with deadline(time.monotonic() + self.timeout_s):
                if "target_nodes" in kwargs:
                    return await run(*args, **kwargs)
                return await self._budget.call_with_retry(
                    lambda: run(*args, **kwargs), _async_ignore, _retryable
                )
        finally:
            self._slots.check(self.nodes_manager)

    async def initialize(
        self,
        additional_startup_nodes_info: list[tuple[str, int]] | None = None,
        last_failed_node_name: str | None = None,
    ) -> AsyncBudgetCluster:
        """Refresh the slot map if it is due (or join the refresh under way), within the
        caller's deadline."""
        if self._initialize:
            run = super().initialize
            await self._refreshes.refresh(
                lambda: run(additional_startup_nodes_info, last_failed_node_name)
            )
        return self

    async def refresh_slots(self) -> None:
        """Refresh the slot map now (or join the refresh under way), within the deadline."""
        await self._refreshes.refresh(self.nodes_manager.initialize)

    async def close_all(self) -> None:
        """Close for good: cancel a refresh under way, then close every node's and seed's
        connections, also while a refresh is due (redis-py's ``aclose`` then closes none,
        as after a connection error). Not ``aclose``, which redis-py calls as a reset from
        its command path, where cancelling would fail the callers waiting for the refresh."""
        await self._refreshes.aclose()
        await self.aclose()
        await self.nodes_manager.aclose()
        await self.nodes_manager.aclose("startup_nodes")


def refresh_slots(client: redis.RedisCluster) -> None:
    """Refresh ``client``'s slot map; a :class:`BudgetCluster`'s nodes manager goes through
    its gate."""
    client.nodes_manager.initialize()


async def refresh_slots_async(client: aredis.RedisCluster) -> None:
    """The asyncio twin of :func:`refresh_slots`."""
    if isinstance(client, AsyncBudgetCluster):
        await client.refresh_slots()
    else:
        await client.nodes_manager.initialize()


def timeout_of(client: redis.RedisCluster | aredis.RedisCluster) -> float:
    """The timeout past which no call of ``client`` is held (inf for a plain client)."""
    return client.timeout_s if isinstance(client, BudgetCluster | AsyncBudgetCluster) else math.inf


class _SlotWatch:
    """Reports the shards whose primary changed, each time the client's slot map is replaced.

    redis-py replaces its ``slots_cache`` dict on every refresh (a single MOVED patches
    it in place until then), so one identity check per command finds a refresh.
    """

    def __init__(self) -> None:
        self._cache: object = None
        self._primaries: dict[int, str] = {}

    def check(self, manager: Any) -> None:
        """Compare ``manager``'s slot map with the last one seen, if it was replaced."""
        cache = manager.slots_cache
        if cache is self._cache:
            return
        now = primaries(cache)
        if self._cache is not None:
            for change in changes(self._primaries, now):
                slots = f"slots {change.first}-{change.last}"
                old, new = Change.address(change.old), Change.address(change.new)
                _metrics.shard_moved(old, new, slots, time.monotonic())
        self._cache, self._primaries = cache, now


def _ignore(_: Exception) -> None:
    """redis-py's cluster client already dropped the connection and refreshed the map."""


async def _async_ignore(_: Exception) -> None:
    """The asyncio twin of :func:`_ignore`."""
