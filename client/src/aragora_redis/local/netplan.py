"""I/O-free: who sits at which loopback address, which pairs a network fault cuts, and the
nftables ruleset that does it.

A stack started with a ``subnet`` (``127.77.<n>``) puts every process on its own
loopback address, so that a rule can cut exactly one pair of them. Linux routes all
of 127.0.0.0/8 to ``lo``, so no address has to be added: servers ``bind`` their
address and open their outgoing links from it (``bind-source-addr``; HAProxy's
``source``). The drill's own process (our client, its Sentinel watcher, the drill's
verification) and the fencing watcher connect from :data:`HOST`; the naive clients
bind :func:`client_host` addresses.

Rules live in one nftables table per fault owner, named ``aragora_redis_part_<pid>_<n>``
(:func:`table_name`): the pid says whether its owner still runs, so a later start
removes what a crashed run left (:func:`stale_tables`) and never another run's table.
Every rule names at least one address of a subnet this module handed out, so no
traffic of other processes on the machine is touched.

Delay needs user space here (no ``sch_netem`` in this kernel; nftables cannot queue
to user space either, no ``nft_queue``): an iptables-legacy chain of ours,
``aragora_redis_part_<pid>`` (:func:`chain_name`), sends the packets *from* the
delayed addresses to NFQUEUE :func:`queue_number` (:mod:`aragora_redis.local.nfqueue`
accepts each late), jumped to from OUTPUT by rules that match only those sources.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import LocalStackError

#: Every nftables table of ours starts with this.
TABLE_PREFIX = "aragora_redis_part"
#: Stacks with their own addresses live in 127.77.<n>.0/24.
SUBNET_PREFIX = "127.77"
#: Where the drill's process and the fencing watcher connect from (unbound sockets).
HOST = "127.0.0.1"
#: Last octet of the first data node, first sentinel, HAProxy, the endpoint's control
#: plane, and the naive clients.
_DATA, _SENTINEL, _HAPROXY, _CONTROL = 10, 20, 30, 50
_CLIENTS = {"naive": 41, "url_only": 42}
_TABLE = re.compile(rf"^table ip ({TABLE_PREFIX}_(\d+)_\d+)\s*$")


def subnet(n: int) -> str:
    """The subnet ``127.77.<n>`` (1..254)."""
    if not 1 <= n <= 254:
        raise LocalStackError(f"subnet number {n} is outside 1..254")
    return f"{SUBNET_PREFIX}.{n}"


def check_subnet(value: str) -> str:
    """``value`` if it is one of ours (``127.77.<1..254>``), else LocalStackError."""
    head, _, tail = value.rpartition(".")
    if head != SUBNET_PREFIX or not tail.isdigit() or not 1 <= int(tail) <= 254:
        raise LocalStackError(f"subnet {value!r}: expected {SUBNET_PREFIX}.<1..254>")
    return value


def node_host(net: str, role: str, index: int) -> str:
    """The address of the ``index``-th node of ``role`` (data, sentinel, haproxy or control)."""
    base = {"sentinel": _SENTINEL, "haproxy": _HAPROXY, "control": _CONTROL}.get(role, _DATA)
    if index >= 10:
        raise LocalStackError("at most 10 nodes of one role get their own address")
    return f"{check_subnet(net)}.{base + index}"


def client_host(net: str, client: str) -> str:
    """The source address of the drill's ``naive`` or ``url_only`` client."""
    return f"{check_subnet(net)}.{_CLIENTS[client]}"


@dataclass(frozen=True)
class Cut:
    """Two groups of addresses that cannot reach each other (both directions)."""

    a: frozenset[str]
    b: frozenset[str]

    @classmethod
    def between(cls, a: Iterable[str], b: Iterable[str]) -> Cut:
        """A cut between ``a`` and ``b``; an address in both is refused."""
        left, right = frozenset(a), frozenset(b)
        if not left or not right:
            raise LocalStackError("a cut needs an address on each side")
        if left & right:
            raise LocalStackError(f"{sorted(left & right)} on both sides of a cut")
        return cls(left, right)


@dataclass(frozen=True)
class Loss:
    """Drop ``percent`` % of the packets from and to ``addresses``, at random."""

    addresses: frozenset[str]
    percent: int

    def __post_init__(self) -> None:
        if not 0 < self.percent < 100:
            raise LocalStackError(f"loss of {self.percent} %: expected 1..99")


def table_name(pid: int, n: int) -> str:
    """The table of fault ``n`` of process ``pid``."""
    return f"{TABLE_PREFIX}_{pid}_{n}"


def _ours(addresses: Iterable[str]) -> list[str]:
    out = []
    for addr in sorted(addresses):
        if not ipaddress.IPv4Address(addr).is_loopback:
            raise LocalStackError(f"{addr} is not a loopback address: refusing to touch it")
        out.append(addr)
    return out


def _guard(cut: Cut) -> None:
    # A rule must name an address of our own subnets on at least one side of each pair,
    # so that HOST (127.0.0.1, shared with every process) is only ever cut from ours.
    for side, other in ((cut.a, cut.b), (cut.b, cut.a)):
        if HOST in side and any(not a.startswith(SUBNET_PREFIX + ".") for a in other):
            raise LocalStackError(f"{HOST} may only be cut from {SUBNET_PREFIX}.* addresses")


def ruleset(table: str, cuts: Sequence[Cut] = (), loss: Loss | None = None) -> str:
    """An ``nft -f`` script that (re)creates ``table`` with exactly these rules.

    ``table ... ; delete table ...`` first makes the replacement atomic and idempotent:
    nft applies a script as one transaction.
    """
    if not table.startswith(TABLE_PREFIX + "_"):
        raise LocalStackError(f"table {table!r} is not one of ours")
    lines = [f"table ip {table}", f"delete table ip {table}", f"table ip {table} {{"]
    rules = []
    for i, cut in enumerate(cuts):
        _guard(cut)
        for side, addrs in (("a", cut.a), ("b", cut.b)):
            elements = ", ".join(_ours(addrs))
            lines.append(f"  set cut{i}{side} {{ type ipv4_addr; elements = {{ {elements} }} }}")
        rules += [
            f"    ip saddr @cut{i}a ip daddr @cut{i}b drop",
            f"    ip saddr @cut{i}b ip daddr @cut{i}a drop",
        ]
    if loss is not None:
        for addr in _ours(loss.addresses):
            if not addr.startswith(SUBNET_PREFIX + "."):
                raise LocalStackError(f"loss only on our own addresses, not {addr}")
            rules += [
                f"    ip saddr {addr} numgen random mod 100 < {loss.percent} drop",
                f"    ip daddr {addr} numgen random mod 100 < {loss.percent} drop",
            ]
    lines += [
        "  chain out {",
        "    type filter hook output priority 0; policy accept;",
        *rules,
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def delete_argv(table: str) -> list[str]:
    """The command that removes ``table`` (and every rule in it)."""
    if not table.startswith(TABLE_PREFIX + "_"):
        raise LocalStackError(f"table {table!r} is not one of ours")
    return ["nft", "delete", "table", "ip", table]


def stale_tables(listing: str, alive: Iterable[int]) -> list[str]:
    """Our tables in ``nft list tables`` output whose owner pid is not in ``alive``."""
    running = set(alive)
    out = []
    for line in listing.splitlines():
        match = _TABLE.match(line.strip())
        if match and int(match.group(2)) not in running:
            out.append(match.group(1))
    return out


def flap_schedule(duration_s: float, period_s: float = 1.0) -> list[tuple[float, bool]]:
    """(offset, cut) steps: the link goes down at 0, up after ``period_s``, and so on.

    The last step always heals, at ``duration_s``."""
    if period_s <= 0 or duration_s < period_s:
        raise LocalStackError("flap: the duration must be at least one period")
    steps = []
    t, down = 0.0, True
    while t < duration_s - 1e-9:
        steps.append((round(t, 6), down))
        t += period_s
        down = not down
    steps.append((round(duration_s, 6), False))
    return steps


#: iptables-legacy, whose rules live apart from every nftables table.
IPTABLES = "iptables-legacy"
_CHAIN = re.compile(rf"^-N ({TABLE_PREFIX}_(\d+))$")


def chain_name(pid: int) -> str:
    """The iptables chain of process ``pid`` (at most 28 characters)."""
    return f"{TABLE_PREFIX}_{pid}"


def queue_number(pid: int) -> int:
    """The NFQUEUE number of process ``pid``."""
    return 1000 + pid % 60000


def delay_argv(chain: str, queue: int, sources: Iterable[str]) -> list[list[str]]:
    """Commands that send the packets leaving from ``sources`` to NFQUEUE ``queue``."""
    addrs = [a for a in _ours(sources) if a.startswith(SUBNET_PREFIX + ".")]
    if not addrs:
        raise LocalStackError("delay only the packets of our own addresses")
    out = [[IPTABLES, "-N", chain]]
    # --queue-bypass: with no listener bound, the packets pass untouched.
    out.append(
        [IPTABLES, "-A", chain, "-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass"]
    )
    out += [[IPTABLES, "-I", "OUTPUT", "-s", f"{a}/32", "-j", chain] for a in addrs]
    return out


def undelay_argv(chain: str, jumps: Iterable[str]) -> list[list[str]]:
    """Commands that remove ``chain`` and the OUTPUT ``jumps`` (``-A OUTPUT ...`` lines)."""
    out = [[IPTABLES, "-D", *line.split()[1:]] for line in jumps]
    return [*out, [IPTABLES, "-F", chain], [IPTABLES, "-X", chain]]


def stale_chains(listing: str, alive: Iterable[int]) -> dict[str, list[str]]:
    """Our chains in ``iptables-legacy -S`` output whose owner is gone, with their jumps."""
    running = set(alive)
    lines = [line.strip() for line in listing.splitlines()]
    out: dict[str, list[str]] = {}
    for line in lines:
        match = _CHAIN.match(line)
        if match and int(match.group(2)) not in running:
            chain = match.group(1)
            out[chain] = [
                j for j in lines if j.startswith("-A OUTPUT ") and j.endswith(f"-j {chain}")
            ]
    return out
