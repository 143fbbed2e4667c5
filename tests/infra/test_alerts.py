"""The Prometheus alert rules in infra/alerts, checked and unit-tested with the real promtool.

``promtool check rules`` validates the rules file, ``promtool test rules`` runs its
unit tests (``redis-rules.test.yml``), and the coverage check parses both files so
that an alert added without a firing and a silent test case fails here.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "infra" / "alerts"
RULES = ALERTS / "redis-rules.yml"
RULE_TESTS = ALERTS / "redis-rules.test.yml"
SEVERITIES = {"critical", "warning"}


def promtool(*args: str | Path, cwd: Path = ALERTS) -> subprocess.CompletedProcess[str]:
    """Run promtool (Debian package ``prometheus``, installed by ``make setup``)."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not on PATH: install the Debian package prometheus (make setup)")
    return subprocess.run(
        [exe, *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    """promtool's exit code and output, for a failure message."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def load(path: Path) -> Any:
    """A YAML document."""
    return YAML(typ="safe", pure=True).load(path.read_text())


def alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    """Every alerting rule of a Prometheus rules document."""
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def coverage_gaps(alert_names: Iterable[str], rule_tests: dict[str, Any]) -> list[str]:
    """What the unit tests lack: per alert, a case where it fires and one where it is silent.

    A silent case is an ``alert_rule_test`` with no expected alerts; promtool compares
    the full list of alerts of that name, so series left out of a firing case are
    silent too, but only an empty expectation shows in the YAML.
    """
    firing: set[str] = set()
    silent: set[str] = set()
    for group in rule_tests.get("tests", []):
        for case in group.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = set(alert_names)
    gaps = [f"{name}: no test where it fires" for name in sorted(names - firing)]
    gaps += [f"{name}: no test where it stays silent" for name in sorted(names - silent)]
    unknown = (firing | silent) - names
    gaps += [f"{name}: tested but not in the rules file" for name in sorted(unknown)]
    return gaps


def test_rules_file_passes_promtool_check() -> None:
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, output(result)
    assert f"SUCCESS: {len(alerts(load(RULES)))} rules found" in result.stdout, output(result)


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULE_TESTS)
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


def test_every_alert_has_a_firing_and_a_silent_test() -> None:
    names = [rule["alert"] for rule in alerts(load(RULES))]
    assert len(names) == len(set(names)), f"duplicate alert names: {sorted(names)}"
    assert coverage_gaps(names, load(RULE_TESTS)) == []


def test_coverage_check_reports_an_untested_alert() -> None:
    names = [rule["alert"] for rule in alerts(load(RULES))]
    assert coverage_gaps([*names, "RedisNewAlert"], load(RULE_TESTS)) == [
        "RedisNewAlert: no test where it fires",
        "RedisNewAlert: no test where it stays silent",
    ]


def test_every_alert_has_severity_summary_and_description() -> None:
    for rule in alerts(load(RULES)):
        assert rule.get("labels", {}).get("severity") in SEVERITIES, rule["alert"]
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), rule["alert"]
        assert annotations.get("description"), rule["alert"]
        # absent() returns one series without labels: there is no instance to name.
        if not rule["expr"].startswith("absent("):
            text = annotations["summary"] + annotations["description"]
            assert "$labels.instance" in text, f"{rule['alert']}: annotations name no instance"


def test_unit_tests_catch_a_weakened_threshold(tmp_path: Path) -> None:
    # The suite must be able to fail: the memory alert at 80% fires for the 89.9% case.
    changed = RULES.read_text().replace("> 0.9\n", "> 0.8\n")
    assert changed != RULES.read_text()
    (tmp_path / RULES.name).write_text(changed)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0, output(result)
    assert "alertname: RedisMemoryHigh" in result.stdout + result.stderr, output(result)
    assert 'instance="redis-1"' in result.stdout + result.stderr, output(result)
