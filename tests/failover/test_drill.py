"""The failover drill against the Sentinel fixture: every fault once, short durations.

Asserts what is deterministic: no acknowledged write lost in the planned failover
and under kill -9 (durable writes), subscribers hear again within 2 s of a
promotion, the fail-open rate limiter never raises while every node is down, and with
HAProxy in front the drill also runs a URL-only client that loses nothing in the planned failover.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aragora_redis.cli import main
from aragora_redis.drill import faults as f
from aragora_redis.drill.record import DrillRecord, FaultResult
from aragora_redis.drill.run import Drill, DrillOptions


@pytest.fixture(scope="module")
def record(sentinel: Any) -> DrillRecord:
    options = DrillOptions(faults=f.FAULTS, baseline=True, warmup_s=1.0, settle_s=4.0)
    return Drill(sentinel.settings, options, sentinel).run()


def _fault(record: DrillRecord, name: str) -> FaultResult:
    (found,) = [r for r in record.faults if r.name == name]
    return found


def test_every_fault_ran_with_ours_and_the_baseline(record: DrillRecord) -> None:
    assert [r.name for r in record.faults] == list(f.NAMES)
    for result in record.faults:
        assert result.ours["acked_writes"] > 0, result.name
        assert result.naive is not None, result.name
    assert sum(s.ours_acks for s in record.samples) > 0
    labels = {m.label for m in record.markers}
    assert {"+switch-master", "+odown", "planned: start"} <= labels


def test_planned_failover_loses_no_acknowledged_write(record: DrillRecord) -> None:
    planned = _fault(record, "planned").ours
    assert planned["acked_writes_lost"] == 0
    assert planned["events_lost"] == 0
    assert planned["events_unreplicated"] == 0


def test_kill_of_the_master_loses_no_durable_write(record: DrillRecord) -> None:
    kill = _fault(record, "kill").ours
    assert kill["acked_writes_lost"] == 0
    assert kill["events_lost"] == 0


def _events(record: DrillRecord, fault: FaultResult) -> list[tuple[float, str]]:
    """The timeline's Sentinel events within ``fault``'s window."""
    inside = [m for m in record.markers if fault.start <= m.t <= fault.end]
    return [(m.t, m.label) for m in inside if m.kind == "sentinel"]


def test_subscribers_hear_again_within_two_seconds_of_the_promotion(record: DrillRecord) -> None:
    for name in ("planned", "kill", "freeze", "sentinel-down"):
        fault = _fault(record, name)
        recovery = fault.ours.get("subscriber_recovery_s")
        window = f"{fault.start}-{fault.end} s: {_events(record, fault)}"
        assert recovery is not None, f"{name}: no promotion within its window {window}"
        assert 0 <= recovery <= 2.0, f"{name}: subscribers deaf for {recovery} s"


def test_sentinel_failover_with_a_sentinel_down_loses_nothing(record: DrillRecord) -> None:
    assert _fault(record, "sentinel-down").ours["acked_writes_lost"] == 0


def test_fail_open_limiter_never_raises_while_everything_is_down(record: DrillRecord) -> None:
    down = _fault(record, "all-down").ours
    assert down["limiter_errors"] == 0
    assert down["fallback_decisions"] > 0


def test_observe_only_run_writes_json(sentinel: Any, tmp_path: Path) -> None:
    env = tmp_path / "drill.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in sentinel.settings.to_env().items()))
    out = tmp_path / "run.json"
    report = tmp_path / "run.html"
    args = ["drill", "--trigger", "none", "--observe", "1", "--env-file", str(env)]
    status = main([*args, "--json", str(out), "--report", str(report)])
    assert status == 0
    loaded = DrillRecord.from_json(json.loads(out.read_text()))
    (observed,) = loaded.faults
    assert observed.name == "observe"
    assert observed.ours["acked_writes"] > 0
    assert observed.ours["acked_writes_lost"] == 0
    assert report.read_text().lstrip().lower().startswith("<!doctype html>")


def test_local_drill_runs_a_url_only_client_when_the_stack_has_haproxy(
    sentinel_haproxy: Any, tmp_path: Path
) -> None:
    env = tmp_path / "drill.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in sentinel_haproxy.settings.to_env().items()))
    out = tmp_path / "run.json"
    args = ["drill", "--faults", "planned,kill", "--settle", "4", "--env-file", str(env)]
    status = main([*args, "--dir", str(sentinel_haproxy.directory), "--json", str(out)])
    assert status == 0
    loaded = DrillRecord.from_json(json.loads(out.read_text()))
    assert [r.name for r in loaded.faults] == ["planned", "kill"]
    for result in loaded.faults:
        assert result.url_only is not None, result.name
        assert result.url_only["acked_writes"] > 0, result.name
        assert result.url_only["switch_follow_s"] >= 0, f"{result.name}: never wrote after it"
    # The planned failover pauses writes until the new master has them all.
    planned = _fault(loaded, "planned").url_only
    assert planned is not None
    assert planned["acked_writes_lost"] == 0
