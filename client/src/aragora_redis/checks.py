"""I/O-free: the monitoring checks of ``aragora-redis check``, evaluated from gathered facts.

:func:`aragora_redis.health.deployment_facts` asks the servers; this module
only decides. Each :class:`CheckResult` is ``ok``, ``warn`` or ``fail``; the
command exits 1 when any is ``fail``. The checks: a reachable master, at least
``min_replicas`` connected replicas, every known replica's link up, memory
below ``memory_fail_pct`` of ``maxmemory`` (no limit set: warn), round-trip
latency under the thresholds, the cluster state, and in sentinel mode what
each Sentinel reports (the master, its flags, its peers, ``CKQUORUM``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail")


@dataclass(frozen=True)
class ListedReplica:
    """A replica as the master's ``INFO replication`` lists it (``slaveN``)."""

    address: str
    state: str


@dataclass(frozen=True)
class NodeFacts:
    """What one data node answered; ``error`` says what it did not (``None``: all)."""

    address: str
    error: str | None = None
    latency_ms: float | None = None
    role: str | None = None
    connected_replicas: int | None = None
    master_link_status: str | None = None
    used_memory: int | None = None
    maxmemory: int | None = None
    listed_replicas: tuple[ListedReplica, ...] = ()
    cluster_state: str | None = None


@dataclass(frozen=True)
class SentinelFacts:
    """What one Sentinel reports about the monitored master (``error``: it did not answer)."""

    address: str
    error: str | None = None
    master: str | None = None
    flags: tuple[str, ...] = ()
    other_sentinels: int | None = None
    quorum: int | None = None
    ckquorum: str | None = None
    ckquorum_ok: bool = False


@dataclass(frozen=True)
class MasterFacts:
    """A master (cluster: each primary) and every replica known for it."""

    node: NodeFacts
    replicas: tuple[NodeFacts, ...] = ()


@dataclass(frozen=True)
class DeploymentFacts:
    """Everything :func:`evaluate` needs; built from real servers or by hand in tests."""

    mode: str
    target: str
    masters: tuple[MasterFacts, ...]
    sentinels: tuple[SentinelFacts, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """Where ``warn`` and ``fail`` begin."""

    min_replicas: int = 1
    memory_warn_pct: float = 80.0
    memory_fail_pct: float = 90.0
    latency_warn_ms: float = 10.0
    latency_fail_ms: float = 100.0


@dataclass(frozen=True)
class CheckResult:
    """One row of the report: a check of one target, what was seen, what is expected."""

    check: str
    target: str
    status: Status
    value: str
    expected: str = field(default="")


def node_facts(
    address: str,
    info: Mapping[str, Any],
    *,
    latency_ms: float | None,
    error: str | None = None,
    cluster_state: str | None = None,
) -> NodeFacts:
    """Read the fields of ``INFO replication`` + ``INFO memory`` (as redis-py parses them)."""

    def number(name: str) -> int | None:
        return int(info[name]) if name in info else None

    listed = tuple(
        ListedReplica(f"{v['ip']}:{v['port']}", str(v.get("state", "?")))
        for k, v in sorted(info.items())
        if k.startswith("slave") and k[5:].isdigit() and isinstance(v, Mapping)
    )
    link = info.get("master_link_status")
    return NodeFacts(
        address=address,
        error=error,
        latency_ms=latency_ms,
        role=str(info["role"]) if "role" in info else None,
        connected_replicas=number("connected_slaves"),
        master_link_status=None if link is None else str(link),
        used_memory=number("used_memory"),
        maxmemory=number("maxmemory"),
        listed_replicas=listed,
        cluster_state=cluster_state,
    )


def cluster_layout(nodes: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each master of a parsed ``CLUSTER NODES`` reply with its replicas' addresses, in order.

    A master is a node flagged ``master`` that serves slots: a node that has just
    become a replica can still be flagged ``master`` (without slots) in a view
    that gossip has not updated yet.
    """
    ids = {str(v["node_id"]): addr for addr, v in nodes.items()}
    masters = sorted(
        a for a, v in nodes.items() if "master" in str(v["flags"]).split(",") and v.get("slots")
    )
    replicas: dict[str, list[str]] = {a: [] for a in masters}
    for addr, v in sorted(nodes.items()):
        owner = ids.get(str(v.get("master_id", "-")))
        if "slave" in str(v["flags"]).split(",") and owner in replicas:
            replicas[owner].append(addr)
    return [(a, replicas[a]) for a in masters]


def evaluate(facts: DeploymentFacts, limits: Thresholds | None = None) -> tuple[CheckResult, ...]:
    """Every check of ``facts``, masters first, then the Sentinels."""
    t = limits or Thresholds()
    out: list[CheckResult] = []
    if facts.problem is not None:
        out.append(CheckResult("role", facts.target, "fail", facts.problem, "a reachable master"))
    for master in facts.masters:
        out += _master(master, t)
    out += _sentinels(facts, t)
    return tuple(out)


def _master(m: MasterFacts, t: Thresholds) -> list[CheckResult]:
    n, where = m.node, m.node.address
    latency = [] if n.latency_ms is None else [_latency(where, n.latency_ms, t)]
    if n.role is None:
        reason = n.error or "no role in INFO"
        return [CheckResult("role", where, "fail", reason, "master"), *latency]
    out = [CheckResult("role", where, _ok(n.role == "master"), n.role, "master"), *latency]
    if n.cluster_state is not None:
        state_ok = n.cluster_state == "ok"
        out.append(CheckResult("cluster state", where, _ok(state_ok), n.cluster_state, "ok"))
    count = n.connected_replicas or 0
    out.append(
        CheckResult(
            "replicas",
            where,
            _ok(count >= t.min_replicas),
            str(count),
            f">= {t.min_replicas}",
        )
    )
    listed = {r.address: r.state for r in n.listed_replicas}
    out += [_link(r, listed.get(r.address)) for r in m.replicas]
    out.append(_memory(where, n, t))
    return out


def _ok(good: bool) -> Status:
    return "ok" if good else "fail"


def _latency(where: str, ms: float, t: Thresholds) -> CheckResult:
    status: Status = (
        "fail" if ms >= t.latency_fail_ms else "warn" if ms >= t.latency_warn_ms else "ok"
    )
    expected = f"< {t.latency_warn_ms:g} ms (fail at {t.latency_fail_ms:g})"
    return CheckResult("latency", where, status, f"{ms:.2f} ms", expected)


def _memory(where: str, n: NodeFacts, t: Thresholds) -> CheckResult:
    expected = f"< {t.memory_fail_pct:g}% of maxmemory"
    used = n.used_memory or 0
    if not n.maxmemory:
        value = f"{used / 1e6:.1f} MB, no maxmemory set"
        return CheckResult("memory", where, "warn", value, expected)
    pct = 100.0 * used / n.maxmemory
    status: Status = (
        "fail" if pct >= t.memory_fail_pct else "warn" if pct >= t.memory_warn_pct else "ok"
    )
    return CheckResult(
        "memory", where, status, f"{pct:.1f}% of {n.maxmemory / 1e6:.1f} MB", expected
    )


def _link(replica: NodeFacts, master_says: str | None) -> CheckResult:
    where, expected = replica.address, "master_link_status up"
    if replica.master_link_status is not None:
        up = replica.master_link_status == "up" and replica.role == "slave"
        return CheckResult("link", where, _ok(up), replica.master_link_status, expected)
    seen = f"master lists it as {master_says}" if master_says else "master does not list it"
    reason = replica.error or "no master_link_status in INFO"
    # Managed services often hide replicas from clients: the master's view is then all we have.
    status: Status = "warn" if master_says == "online" else "fail"
    return CheckResult("link", where, status, f"{reason}; {seen}", expected)


def _sentinels(facts: DeploymentFacts, t: Thresholds) -> list[CheckResult]:
    answered = [s.master for s in facts.sentinels if s.master is not None]
    agreed = Counter(answered).most_common(1)[0][0] if answered else None
    peers = len(facts.sentinels) - 1
    out: list[CheckResult] = []
    for s in facts.sentinels:
        where = s.address
        if s.error is not None or s.master is None:
            reason = s.error or "does not know the master"
            out.append(CheckResult("sentinel", where, "fail", reason, "answers with the master"))
            continue
        agrees = s.master == agreed
        expected = "the master the others report"
        out.append(CheckResult("sentinel", where, _ok(agrees), f"master {s.master}", expected))
        flags = ",".join(s.flags) or "-"
        down = {"s_down", "o_down"} & set(s.flags)
        status: Status = "fail" if down else "ok" if s.flags == ("master",) else "warn"
        out.append(CheckResult("sentinel flags", where, status, flags, "master (no s_down/o_down)"))
        others = s.other_sentinels if s.other_sentinels is not None else -1
        out.append(
            CheckResult(
                "sentinel peers",
                where,
                "ok" if others >= peers else "warn",
                f"{others} other Sentinels",
                f">= {peers}",
            )
        )
        # CKQUORUM's reply is "OK 3 usable Sentinels. Quorum and failover ...": the first
        # sentence is the fact.
        quorum = f"quorum {s.quorum}: {(s.ckquorum or '-').split('. ')[0]}"
        out.append(CheckResult("quorum", where, _ok(s.ckquorum_ok), quorum, "CKQUORUM OK"))
    return out


def exit_code(results: tuple[CheckResult, ...]) -> int:
    """0 when nothing failed (warnings allowed), 1 when a check failed."""
    return 1 if any(r.status == "fail" for r in results) else 0


def report_json(facts: DeploymentFacts, results: tuple[CheckResult, ...]) -> dict[str, Any]:
    """The machine-readable document of ``check --json``: the verdict, the rows and the facts."""
    counts = Counter(r.status for r in results)
    return {
        "ok": exit_code(results) == 0,
        "mode": facts.mode,
        "target": facts.target,
        "summary": {status: counts.get(status, 0) for status in STATUSES},
        "checks": [asdict(r) for r in results],
        "facts": asdict(facts),
    }
