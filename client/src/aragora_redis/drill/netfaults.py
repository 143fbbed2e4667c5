"""The drill's network faults on a Sentinel stack whose nodes have their own addresses.

Who is where (:mod:`aragora_redis.local.netplan`): our client (the drill's process)
and the fencing watcher at the host address, the naive Sentinel client and the
URL-only client each at their own address, every node at its own.

- ``partition``: the master and the naive client on one side; replicas, Sentinels,
  HAProxy, our client and the URL-only client on the other, for :data:`PARTITION_S`.
- ``partition-client``: the same cut, but our client is with the master (the minority)
  and the naive client with the majority.
- ``slow``: every packet the master sends delayed :data:`DELAY_S` +- :data:`JITTER_S`
  (NFQUEUE, :mod:`aragora_redis.local.nfqueue`: this kernel has no netem) and
  :data:`LOSS_PERCENT` % of its packets, both ways, dropped, for :data:`SLOW_S`.
- ``flap``: the master cut from everyone, then back, every second for :data:`FLAP_S`.

On an endpoint stack every client reaches the nodes only through the endpoint
(HAProxy), and the control plane (its failure detector,
:mod:`aragora_redis.local.watchdog`) has an address of its own:

- ``partition``: the primary cut off from the replicas and the control plane only.
  The endpoint and every client still reach it, as a DNS name lets sockets opened
  before a switch stay on the old primary: it acknowledges default writes until
  ``min-replicas-max-lag``, while the control plane promotes a replica.
- ``partition-client``: the primary and our client cut off from everything else, the
  endpoint included: our client reaches nothing, the naive client keeps the endpoint,
  whose sessions to the old primary hang until the endpoint moves.
- ``slow`` and ``flap`` as on Sentinel (the endpoint and the control plane are among
  the "others" the flap cuts).

Each fault heals before it returns (also when interrupted), and records when.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import ConfigError
from ..local import LocalStack, netplan
from ..local.netfault import NetFault, delay_unavailable

Say = Callable[[str], None]

#: Longer than min-replicas-max-lag (10 s) + 2 s, so that the old master's own
#: refusal (NOREPLICAS) is part of what the drill sees.
PARTITION_S = 15.0
SLOW_S = 10.0
FLAP_S = 10.0
LOSS_PERCENT = 5
DELAY_S = 0.2
JITTER_S = 0.05
#: name -> description, as the drill lists them.
NET_FAULTS = {
    "partition": "master + naive client cut off from replicas, Sentinels, ours for 15 s",
    "partition-client": "master + our client cut off from replicas, Sentinels for 15 s",
    "slow": "the master's packets delayed 200 ms +- 50 ms, 5 % lost, for 10 s",
    "flap": "the master's link down/up every second for 10 s",
}


def sides(stack: LocalStack, master: str) -> tuple[str, list[str], dict[str, str]]:
    """(master address, the other nodes' addresses, each client's address)."""
    net = stack.options.subnet
    if net is None:
        raise ConfigError(
            "--faults",
            "network faults need a stack whose nodes have their own addresses: "
            "aragora-redis local up --own-addresses",
        )
    others = [stack.address(n).host for n in stack.nodes if n != master]
    if stack.options.topology == "endpoint":
        others.append(netplan.node_host(net, "control", 0))
    clients = {
        "ours": netplan.HOST,
        "naive": netplan.client_host(net, "naive"),
        "url_only": netplan.client_host(net, "url_only"),
    }
    return stack.address(master).host, others, clients


class NetInjector:
    """Injects one network fault, holds it, heals; ``healed_at`` is when (monotonic)."""

    def __init__(self, stack: LocalStack, say: Say, *, partition_s: float = PARTITION_S) -> None:
        self.stack = stack
        self.say = say
        #: How long the partitions hold (``--partition-s``).
        self.partition_s = partition_s
        self.healed_at: float | None = None

    def inject(self, name: str, master: str) -> None:
        """Run the fault ``name`` against the node ``master``; returns once healed."""
        addr, others, clients = sides(self.stack, master)
        with NetFault() as net:
            try:
                if name in ("partition", "partition-client"):
                    minority, majority = self._sides(name, addr, others, clients)
                    net.apply([netplan.Cut.between(minority, majority)])
                    self.say(f"{name}: {sorted(minority)} | {sorted(majority)}")
                    time.sleep(self.partition_s)
                elif name == "slow":
                    target = frozenset({addr})
                    why = delay_unavailable()
                    if why:
                        self.say(f"slow: loss only, no delay ({why})")
                    net.apply(
                        loss=netplan.Loss(target, LOSS_PERCENT),
                        delay=None if why else (target, DELAY_S, JITTER_S),
                    )
                    time.sleep(SLOW_S)
                elif name == "flap":
                    cut = netplan.Cut.between({addr}, set(others) | set(clients.values()))
                    self._flap(net, cut)
                else:
                    raise ConfigError("--faults", f"{name} is not a network fault")
            finally:
                net.heal()
                self.healed_at = time.monotonic()
                self.say(f"{name}: healed")

    def _sides(
        self, name: str, addr: str, others: list[str], clients: dict[str, str]
    ) -> tuple[set[str], set[str]]:
        """(minority, majority) of a partition."""
        with_master = "naive" if name == "partition" else "ours"
        if self.stack.options.topology == "endpoint":
            if name == "partition":
                # The endpoint (HAProxy) and the clients keep reaching the old primary.
                proxy = {n.host for n in self.stack.proxies}
                return {addr}, set(others) - proxy
            return {addr, clients["ours"]}, set(others) | {clients["naive"]}
        minority = {addr, clients[with_master]}
        return minority, set(others) | {a for c, a in clients.items() if c != with_master}

    def _flap(self, net: NetFault, cut: netplan.Cut) -> None:
        started = time.monotonic()
        for offset, down in netplan.flap_schedule(FLAP_S):
            time.sleep(max(0.0, started + offset - time.monotonic()))
            if down:
                net.apply([cut])
            else:
                net.heal()
