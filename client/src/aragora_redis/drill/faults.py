"""The faults the drill injects into a local stack, and how it heals the stack after each.

Each fault returns once it is injected (the timed ones after their pause); the
drill then keeps observing for its settle time, heals the stack and verifies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, InitVar, dataclass, field

from redis.exceptions import RedisError

from .._follow import parse_role
from ..conf import SentinelTimings
from ..errors import ConfigError, LocalStackError
from ..failover import planned_failover
from ..local import LocalStack, current_master, probe, restore
from ..local.cluster import ClusterControl
from ..local.detector import DETECT_S
from ..local.endpoint import EndpointControl
from ..local.watchdog import Watchdog
from .netfaults import NET_FAULTS, PARTITION_S, NetInjector

Say = Callable[[str], None]


@dataclass(frozen=True)
class Fault:
    """One fault: its name on the command line and what it does."""

    name: str
    description: str


FAULTS = (
    Fault("planned", "planned failover (pause writes, SENTINEL FAILOVER, re-point, resume)"),
    Fault("kill", "kill -9 of the master, then a wait for the replica Sentinel promotes"),
    Fault("freeze", "master frozen (SIGSTOP) 5 s, longer until a replica is promoted; resumed"),
    Fault("sentinel-down", "one sentinel down, then SENTINEL FAILOVER"),
    Fault("all-down", "every Redis data node down for 5 s, then back"),
    Fault("seed-failover", "the seed's test: a bare SENTINEL FAILOVER, nothing paused"),
)
#: The endpoint topology's failovers, as its control plane performs them.
ENDPOINT_FAULTS = (
    Fault("planned", "planned failover (FAILOVER TO the most up-to-date replica, endpoint moves)"),
    Fault("kill", "kill -9 of the primary; 1 s later a replica is promoted, endpoint moves"),
    Fault("freeze", "primary frozen (SIGSTOP) 5 s; promotion after 1 s; resumed, then demoted"),
)
#: Redis Cluster's failovers, on the shard that owns the drill's channel.
CLUSTER_FAULTS = (
    Fault("planned", "CLUSTER FAILOVER on the replica of one shard (writes paused, caught up)"),
    Fault("kill", "kill -9 of one shard's primary; the cluster promotes its replica"),
    Fault("freeze", "one shard's primary frozen (SIGSTOP) until promoted away, then resumed"),
)
#: Network faults (Sentinel stack started with its own addresses): never part of ``all``.
NETWORK_FAULTS = tuple(Fault(name, text) for name, text in NET_FAULTS.items())
NAMES = tuple(f.name for f in FAULTS)
PAUSE_S = 5.0
#: How often the drill asks the replicas' ROLE while it waits for Sentinel's promotion.
PROMOTION_POLL_S = 0.05


def promotion_bound_s(timings: SentinelTimings) -> float:
    """How long Sentinel may take to promote a replica after a kill or a freeze.

    A sentinel starts no failover of a master within twice ``failover-timeout`` of
    one it tried that aborted (``-failover-abort-no-good-slave``, ``-not-elected``)
    or of a vote it gave in one; the attempt after that is up to 1 s later (its
    desync), then ``down-after`` before it. 5 s more for the election and SLAVEOF.
    """
    return (timings.down_after_ms + 2 * timings.failover_timeout_ms) / 1000 + 1.0 + 5.0


def faults_for(topology: str) -> tuple[Fault, ...]:
    """The faults the drill can inject into a local stack of ``topology``."""
    return {"endpoint": ENDPOINT_FAULTS, "cluster": CLUSTER_FAULTS}.get(topology, FAULTS)


def parse_faults(
    raw: str, choices: tuple[Fault, ...] = FAULTS, extra: tuple[Fault, ...] = ()
) -> list[Fault]:
    """``all`` (every one of ``choices``) or a comma-separated list of names of
    ``choices`` and ``extra`` (faults only named one by one, as the network faults)."""
    if raw.strip() == "all":
        return list(choices)
    choices = choices + extra
    names = [f.name for f in choices]
    chosen = [w.strip() for w in raw.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in names]
    if unknown or not chosen:
        raise ConfigError("--faults", f"got {raw!r}, expected 'all' or some of {', '.join(names)}")
    return [f for f in choices if f.name in chosen]


@dataclass(eq=False)
class Injector:
    """Injects faults into ``stack`` and heals it.

    On a cluster the faulted shard is the one owning ``shard_key`` (the drill passes
    its pub/sub channel, so that the subscribers' node is the one that fails). On an
    endpoint stack a network fault runs the control plane's failure detector
    (:mod:`~aragora_redis.local.watchdog`, ``detect_s``) until :meth:`heal`.
    """

    stack: LocalStack
    say: Say
    _: KW_ONLY
    shard_key: str = "aragora"
    partition_s: InitVar[float] = PARTITION_S
    detect_s: float = DETECT_S
    control: EndpointControl | None = field(init=False)
    shards: ClusterControl | None = field(init=False)
    net: NetInjector = field(init=False)
    #: The endpoint control plane's failure detector, from a network fault to the heal.
    watchdog: Watchdog | None = field(default=None, init=False)

    def __post_init__(self, partition_s: float) -> None:
        topology = self.stack.options.topology
        self.control = EndpointControl(self.stack, self.say) if topology == "endpoint" else None
        self.shards = ClusterControl(self.stack, self.say) if topology == "cluster" else None
        self.net = NetInjector(self.stack, self.say, partition_s=partition_s)

    @property
    def events(self) -> list[tuple[float, str]]:
        """What the endpoint's or cluster's control plane did: (monotonic time, event)."""
        if self.shards is not None:
            return self.shards.events
        return self.control.events if self.control is not None else []

    def master_node(self) -> str:
        """The name of the node that is master now."""
        addr = current_master(self.stack)
        for node in self.stack.data_nodes:
            if self.stack.address(node.name) == addr:
                return node.name
        raise LocalStackError(f"the master {addr.render()} is not a node of this stack")

    def _promoted_away(self, old: str) -> None:
        """Return once a replica of ``old`` answers ROLE "master" (Sentinel promoted it).

        A fault's window must hold the promotion it is about; Sentinel may put a
        failover off by 2 x failover-timeout (:func:`promotion_bound_s`).
        """
        replicas = [n.name for n in self.stack.data_nodes if n.name != old]

        def promoted() -> bool | str:
            roles = [self._role(name) for name in replicas]
            return "master" in roles or f"roles {roles}"

        what = f"Sentinel to promote a replica of {old}"
        bound = promotion_bound_s(self.stack.options.timings)
        try:
            probe.wait_until(promoted, what, timeout=bound, interval=PROMOTION_POLL_S)
        except LocalStackError as exc:  # the figures show it; the drill goes on
            self.say(str(exc))

    def _role(self, name: str) -> str | None:
        try:
            reply = probe.ask(self.stack.node_settings(name), "ROLE", timeout=0.2)
        except RedisError:
            return None
        return parse_role(reply).role

    def _sentinel_failover(self, skip: str | None = None) -> None:
        name = self.stack.settings.sentinel_master
        for node in self.stack.sentinels:
            if node.name == skip:
                continue
            client = self.stack.client(node.name)
            try:
                client.sentinel_failover(name)
            except RedisError as exc:
                self.say(f"{node.name} refused SENTINEL FAILOVER: {exc}")
                continue
            finally:
                client.close()
            return
        raise LocalStackError("no sentinel accepted SENTINEL FAILOVER")

    def inject(self, fault: Fault) -> None:
        """Apply ``fault`` now."""
        stack = self.stack
        if fault.name in NET_FAULTS:
            # On a cluster, the primary of the shard that owns the drill's channel.
            shards = self.shards
            master = shards.shard(self.shard_key)[0] if shards else self.master_node()
            if self.control is not None:
                # Nothing else fails the endpoint over: its failure detector must run.
                self.watchdog = Watchdog(self.control, detect_s=self.detect_s).start()
            try:
                self.net.inject(fault.name, master)
            except BaseException:
                self._stop_watchdog()
                raise
        elif self.control is not None:
            self._inject_endpoint(self.control, fault)
        elif self.shards is not None:
            self._inject_cluster(self.shards, fault)
        elif fault.name == "planned":
            planned_failover(self.stack.settings, self.say)
        elif fault.name == "kill":
            node = self.master_node()
            stack.kill(node)
            self._promoted_away(node)
        elif fault.name == "freeze":
            node = self.master_node()
            stack.freeze(node)
            try:
                time.sleep(PAUSE_S)
                self._promoted_away(node)
            finally:
                stack.thaw(node)
        elif fault.name == "sentinel-down":
            down = stack.sentinels[-1].name
            stack.stop(down)
            self._sentinel_failover(skip=down)
        elif fault.name == "seed-failover":
            self._sentinel_failover()
        elif fault.name == "all-down":
            nodes = [n.name for n in stack.data_nodes]
            for node in nodes:
                stack.stop(node)
            time.sleep(PAUSE_S)
            for node in nodes:
                stack.spawn(node)
            stack.wait_answers(nodes)

    def _inject_endpoint(self, control: EndpointControl, fault: Fault) -> None:
        if fault.name == "planned":
            control.planned()
        elif fault.name == "kill":
            control.kill()
        elif fault.name == "freeze":
            control.freeze(PAUSE_S)
        else:
            raise ConfigError("--faults", f"{fault.name} is not a fault of the endpoint topology")

    def _inject_cluster(self, shards: ClusterControl, fault: Fault) -> None:
        if fault.name == "planned":
            shards.planned(self.shard_key)
        elif fault.name == "kill":
            shards.kill(self.shard_key)
        elif fault.name == "freeze":
            shards.freeze(self.shard_key)
        else:
            raise ConfigError("--faults", f"{fault.name} is not a fault of the cluster topology")

    def _stop_watchdog(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None

    def heal(self, timeout: float = 60.0) -> None:
        """Bring back whatever is down or frozen and wait until the topology is whole."""
        self._stop_watchdog()
        touched = restore(self.stack, timeout=timeout)
        if touched:
            self.say(f"restored {', '.join(touched)}")
