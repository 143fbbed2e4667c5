"""The check verdicts, I/O-free: hand-built facts in, ok/warn/fail rows out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aragora_redis.checks import (
    CheckResult,
    DeploymentFacts,
    ListedReplica,
    MasterFacts,
    NodeFacts,
    SentinelFacts,
    Thresholds,
    cluster_layout,
    evaluate,
    exit_code,
    node_facts,
    report_json,
)

MASTER, R1, R2 = "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"


def master_node(**changes: object) -> NodeFacts:
    fields: dict[str, object] = {
        "address": MASTER,
        "latency_ms": 0.4,
        "role": "master",
        "connected_replicas": 2,
        "used_memory": 100_000_000,
        "maxmemory": 1_000_000_000,
        "listed_replicas": (ListedReplica(R1, "online"), ListedReplica(R2, "online")),
    }
    return NodeFacts(**{**fields, **changes})  # type: ignore[arg-type]


def replica(address: str, **changes: object) -> NodeFacts:
    fields: dict[str, object] = {
        "address": address,
        "latency_ms": 0.3,
        "role": "slave",
        "master_link_status": "up",
    }
    return NodeFacts(**{**fields, **changes})  # type: ignore[arg-type]


def sentinel(port: int, **changes: object) -> SentinelFacts:
    fields: dict[str, object] = {
        "address": f"10.0.1.1:{port}",
        "master": MASTER,
        "flags": ("master",),
        "other_sentinels": 2,
        "quorum": 2,
        "ckquorum": "OK 3 usable Sentinels. Quorum and failover authorization can be reached",
        "ckquorum_ok": True,
    }
    return SentinelFacts(**{**fields, **changes})  # type: ignore[arg-type]


def deployment(
    node: NodeFacts | None = None,
    replicas: tuple[NodeFacts, ...] | None = None,
    sentinels: tuple[SentinelFacts, ...] | None = None,
) -> DeploymentFacts:
    return DeploymentFacts(
        "sentinel",
        "sentinel master 'm'",
        (MasterFacts(node or master_node(), replicas or (replica(R1), replica(R2))),),
        sentinels if sentinels is not None else tuple(sentinel(26379 + i) for i in range(3)),
    )


def rows(results: tuple[CheckResult, ...], check: str) -> list[CheckResult]:
    return [r for r in results if r.check == check]


def test_a_healthy_sentinel_deployment_passes_every_check() -> None:
    results = evaluate(deployment())
    assert {r.status for r in results} == {"ok"}
    assert exit_code(results) == 0
    checks = [r.check for r in results]
    assert checks[:6] == ["role", "latency", "replicas", "link", "link", "memory"]
    assert checks.count("quorum") == 3
    assert rows(results, "quorum")[0].value == "quorum 2: OK 3 usable Sentinels"


def test_a_lone_master_fails_the_replica_check() -> None:
    facts = DeploymentFacts(
        "standalone", "x", (MasterFacts(master_node(connected_replicas=0, listed_replicas=())),)
    )
    results = evaluate(facts)
    (row,) = rows(results, "replicas")
    assert (row.status, row.value, row.expected) == ("fail", "0", ">= 1")
    assert exit_code(results) == 1
    assert exit_code(evaluate(facts, Thresholds(min_replicas=0))) == 0


def test_a_replica_as_the_write_target_fails_the_role_check() -> None:
    results = evaluate(deployment(node=master_node(role="slave")))
    assert rows(results, "role")[0].status == "fail"


@pytest.mark.parametrize(
    ("replica_facts", "listed", "status"),
    [
        (replica(R1, master_link_status="down"), "online", "fail"),
        (replica(R1, master_link_status="up", role="master"), "online", "fail"),
        (NodeFacts(R1, error="PING: timed out"), "online", "warn"),
        (NodeFacts(R1, error="PING: Connection refused"), None, "fail"),
    ],
)
def test_replica_links(replica_facts: NodeFacts, listed: str | None, status: str) -> None:
    listing = (ListedReplica(R1, listed),) if listed else ()
    facts = deployment(node=master_node(listed_replicas=listing), replicas=(replica_facts,))
    (row,) = rows(evaluate(facts), "link")
    assert row.status == status
    if replica_facts.error:
        assert replica_facts.error in row.value


@pytest.mark.parametrize(
    ("used", "maxmemory", "status"),
    [
        (500, 1000, "ok"),
        (850, 1000, "warn"),
        (900, 1000, "fail"),
        (999, 1000, "fail"),
        (5, 0, "warn"),
    ],
)
def test_memory_against_maxmemory(used: int, maxmemory: int, status: str) -> None:
    (row,) = rows(
        evaluate(deployment(master_node(used_memory=used, maxmemory=maxmemory))), "memory"
    )
    assert row.status == status
    if not maxmemory:
        assert "no maxmemory" in row.value


@pytest.mark.parametrize(
    ("ms", "status"), [(1.0, "ok"), (10.0, "warn"), (99.9, "warn"), (100.0, "fail")]
)
def test_latency_thresholds(ms: float, status: str) -> None:
    (row,) = rows(evaluate(deployment(master_node(latency_ms=ms))), "latency")
    assert row.status == status
    strict = Thresholds(latency_warn_ms=0.5, latency_fail_ms=0.9)
    (row,) = rows(evaluate(deployment(master_node(latency_ms=ms)), strict), "latency")
    assert row.status == "fail"


def test_a_master_that_cannot_run_info_fails_with_the_reason_and_keeps_its_latency() -> None:
    node = NodeFacts(MASTER, error="INFO: NoPermissionError: no permissions", latency_ms=0.2)
    results = evaluate(deployment(node=node))
    assert [(r.check, r.status) for r in results[:2]] == [("role", "fail"), ("latency", "ok")]
    assert "NoPermissionError" in results[0].value


def test_sentinel_views() -> None:
    down = sentinel(26379, error="SENTINEL MASTER: Connection refused")
    elsewhere = sentinel(26380, master=R1)
    odown = sentinel(26381, flags=("master", "o_down"))
    lonely = sentinel(26382, other_sentinels=1, ckquorum="NOQUORUM 1 usable", ckquorum_ok=False)
    busy = sentinel(26383, flags=("master", "failover_in_progress"))
    results = evaluate(deployment(sentinels=(down, elsewhere, odown, lonely, busy)))
    by = {(r.check, r.target): r.status for r in results}
    assert by[("sentinel", down.address)] == "fail"
    assert ("quorum", down.address) not in by
    assert by[("sentinel", elsewhere.address)] == "fail", "disagrees with the majority"
    assert by[("sentinel", odown.address)] == "ok"
    assert by[("sentinel flags", odown.address)] == "fail"
    assert by[("sentinel flags", busy.address)] == "warn"
    assert by[("sentinel peers", lonely.address)] == "warn"
    assert by[("quorum", lonely.address)] == "fail"
    assert by[("quorum", odown.address)] == "ok"


def test_no_master_known_is_a_failed_role() -> None:
    facts = DeploymentFacts("sentinel", "x", (), (sentinel(1, master=None),), "no Sentinel knew")
    results = evaluate(facts)
    assert (results[0].check, results[0].status, results[0].value) == (
        "role",
        "fail",
        "no Sentinel knew",
    )
    assert exit_code(results) == 1


def test_cluster_state_is_checked_per_master() -> None:
    facts = DeploymentFacts(
        "cluster",
        "x",
        (
            MasterFacts(master_node(cluster_state="ok"), (replica(R1), replica(R2))),
            MasterFacts(master_node(address=R2, cluster_state="fail"), (replica(R1), replica(R2))),
        ),
    )
    states = [r.status for r in rows(evaluate(facts), "cluster state")]
    assert states == ["ok", "fail"]


def test_node_facts_read_info_as_redis_py_parses_it() -> None:
    info = {
        "role": "master",
        "connected_slaves": 1,
        "slave0": {"ip": "10.0.0.2", "port": 6379, "state": "online", "offset": 5, "lag": 0},
        "master_failover_state": "no-failover",
        "used_memory": 1234,
        "maxmemory": 0,
    }
    facts = node_facts(MASTER, info, latency_ms=0.5, cluster_state="ok")
    assert facts.listed_replicas == (ListedReplica("10.0.0.2:6379", "online"),)
    assert (facts.role, facts.connected_replicas, facts.maxmemory) == ("master", 1, 0)
    assert facts.master_link_status is None
    replica_info = {"role": "slave", "master_link_status": "down", "used_memory": 1}
    assert node_facts(R1, replica_info, latency_ms=None).master_link_status == "down"


def test_cluster_layout_groups_replicas_under_their_masters() -> None:
    S1, S2 = [["0", "8191"]], [["8192", "16383"]]
    nodes: dict[str, dict[str, Any]] = {
        "10.0.0.1:6379": {"node_id": "a", "flags": "myself,master", "master_id": "-", "slots": S1},
        "10.0.0.2:6379": {"node_id": "b", "flags": "master,fail", "master_id": "-", "slots": S2},
        "10.0.0.3:6379": {"node_id": "c", "flags": "slave", "master_id": "a", "slots": []},
        "10.0.0.4:6379": {"node_id": "d", "flags": "slave,fail", "master_id": "b", "slots": []},
        "10.0.0.5:6379": {"node_id": "e", "flags": "slave", "master_id": "gone", "slots": []},
        # Already a replica, but this view still flags it master (gossip lags): no slots.
        "10.0.0.6:6379": {"node_id": "f", "flags": "master", "master_id": "-", "slots": []},
    }
    assert cluster_layout(nodes) == [
        ("10.0.0.1:6379", ["10.0.0.3:6379"]),
        ("10.0.0.2:6379", ["10.0.0.4:6379"]),
    ]


def test_json_report_is_serialisable_and_counts_statuses() -> None:
    facts = deployment(node=master_node(maxmemory=0))
    results = evaluate(facts)
    document = json.loads(json.dumps(report_json(facts, results)))
    assert document["ok"] is True
    assert document["summary"] == {"ok": len(results) - 1, "warn": 1, "fail": 0}
    assert document["checks"][0] == {
        "check": "role",
        "target": MASTER,
        "status": "ok",
        "value": "master",
        "expected": "master",
    }
    assert document["facts"]["sentinels"][0]["master"] == MASTER
