"""scripts/plan.py: the offline plan of a stack, run as a script and through ``main``.

The tree shows types, names, nesting, key properties and protect; the outputs
never show a secret; exit status 0 clean or advisory only, 1 a mandatory
violation, 2 a config error or an unknown stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from ruamel.yaml import YAML

from scripts import plan

from . import stack_config
from .azure_mocks import FAKE_PRIMARY_KEY
from .gcp_mocks import FAKE_AUTH_STRING
from .harness import FAKE_PASSWORD_CHARS
from .stack_config import ROOT, changed

SCRIPT = ROOT / "scripts" / "plan.py"


def secrets_in(text: str) -> list[str]:
    """The mocked credentials (as given and URL-quoted) that appear in ``text``."""
    values = [FAKE_PASSWORD_CHARS, FAKE_AUTH_STRING, FAKE_PRIMARY_KEY]
    return [v for s in values for v in (s, quote(s, safe="")) if v in text]


def script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    # From another directory: the script finds the repository by itself.
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
        check=False,
        timeout=240,
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = plan.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stacks_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of stacks/ that a test may change, used by the plan instead of stacks/."""
    for path in stack_config.STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(stack_config, "STACKS", tmp_path)
    return tmp_path


def write_stack(directory: Path, name: str, config: dict[str, Any]) -> None:
    with (directory / f"Pulumi.{name}.yaml").open("w") as f:
        YAML().dump({"config": config}, f)


def test_no_stack_prints_usage_and_the_stacks() -> None:
    done = script()
    assert done.returncode == 2
    assert "usage: scripts/plan.py" in done.stderr
    for name in ("prod-aws", "prod-gcp", "prod-azure", "staging-aws"):
        assert name in done.stderr
    assert done.stdout == ""


def test_an_unknown_stack_lists_the_stacks() -> None:
    done = script("prod-mars")
    assert done.returncode == 2
    assert "unknown stack 'prod-mars'" in done.stderr
    assert "prod-azure-managed" in done.stderr


def test_prod_aws_tree_outputs_and_pack() -> None:
    done = script("prod-aws")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "stack prod-aws"
    component = next(i for i, s in enumerate(lines) if "ElastiCacheRedis aragora-prod" in s)
    group = next(
        i for i, s in enumerate(lines) if "replicationGroup:ReplicationGroup aragora-prod" in s
    )
    assert lines[group].endswith("aragora-prod  protect")
    # Children are drawn one level deeper than their parent.
    assert lines[group].index("aws:") > lines[component].index("aragora-redis:")
    sg = next(
        i for i, s in enumerate(lines) if "securityGroup:SecurityGroup aragora-prod-redis" in s
    )
    rule = next(i for i, s in enumerate(lines) if "SecurityGroupIngressRule" in s)
    assert rule > sg
    assert lines[rule].index("aws:") > lines[sg].index("aws:")
    for expected in (
        'transitEncryptionMode="required"',
        "atRestEncryptionEnabled=true",
        "numCacheClusters=3",
        'preferredCacheClusterAzs=["us-east-1a", "us-east-1b", "us-east-1c"]',
        "authToken=[secret]",
        "snapshotRetentionLimit=14",
    ):
        assert any(line.strip(" │") == expected for line in lines), expected
    outputs = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in lines
        if line.count("│") == 3
    }
    assert outputs["ARAGORA_REDIS_URL"] == "[secret]"
    assert outputs["REDIS_URL"] == "[secret]"
    assert outputs["ARAGORA_REDIS_PASSWORD"] == "[secret]"
    assert outputs["aragoraRedisEnv"] == "[secret]"
    assert outputs["ARAGORA_REDIS_HOST"] == "master.aragora-prod.x1y2z3.use1.cache.amazonaws.com"
    assert outputs["ARAGORA_REDIS_SSL"] == "true"
    assert "policy pack: 0 mandatory, 0 advisory violation(s)" in done.stdout
    assert secrets_in(done.stdout + done.stderr) == []


@pytest.mark.parametrize("stack", ["prod-gcp", "prod-azure"])
def test_json_plan_masks_every_secret(capsys: pytest.CaptureFixture[str], stack: str) -> None:
    code, out, _ = run_main(capsys, stack, "--json")
    assert code == 0
    assert secrets_in(out) == []
    doc = json.loads(out)
    assert doc["stack"] == stack
    assert doc["violations"] == []
    assert doc["outputs"]["ARAGORA_REDIS_URL"] == "[secret]"
    assert doc["outputs"]["ARAGORA_REDIS_PASSWORD"] == "[secret]"
    assert doc["outputs"]["ARAGORA_REDIS_MODE"] == "standalone"
    stateful = [r for r in doc["resources"] if r["protect"]]
    assert stateful
    redis = next(r for r in doc["resources"] if r["type"] in plan.KEY_PROPERTIES and r["protect"])
    assert redis["parent"].endswith(f"::{redis['name']}")  # under the component of that name
    if stack == "prod-gcp":
        assert redis["properties"]["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
        assert redis["properties"]["tier"] == "STANDARD_HA"
        assert "BEGIN CERTIFICATE" in doc["outputs"]["aragoraRedisCaPem"]
    else:
        assert redis["properties"]["publicNetworkAccess"] == "Disabled"
        assert redis["properties"]["zones"] == ["1", "2", "3"]


def test_a_config_error_is_one_block_and_exit_2(
    capsys: pytest.CaptureFixture[str], stacks_dir: Path
) -> None:
    write_stack(stacks_dir, "prod-aws", changed("prod-aws", {"tls": False, "name": "Prod"}))
    code, out, err = run_main(capsys, "prod-aws")
    assert code == 2
    assert out == ""
    assert "fix stacks/Pulumi.prod-aws.yaml" in err
    assert "invalid stack config (2 problem(s))" in err
    assert "aragora-redis:tls: got False, expected true" in err
    assert "aragora-redis:name: got 'Prod', expected 2 to 40 lowercase letters" in err
    assert "Traceback" not in err


def test_a_mandatory_violation_exits_1_and_names_the_rule(
    capsys: pytest.CaptureFixture[str], stacks_dir: Path
) -> None:
    write_stack(stacks_dir, "prod-aws", changed("prod-aws", {"environment": "staging"}))
    code, out, _ = run_main(capsys, "prod-aws")
    assert code == 1
    assert "policy pack: 1 mandatory, 0 advisory violation(s)" in out
    assert "mandatory protect-prod-stateful: aws:elasticache/replicationGroup" in out


def test_advisories_alone_exit_0(capsys: pytest.CaptureFixture[str], stacks_dir: Path) -> None:
    write_stack(stacks_dir, "staging-aws", changed("staging-aws", {"aws.alarmTopicArn": None}))
    code, out, _ = run_main(capsys, "staging-aws")
    assert code == 0
    assert "policy pack: 0 mandatory, 1 advisory violation(s)" in out
    assert "advisory alarms-present: aws:cloudwatch/metricAlarm:MetricAlarm" in out
    assert "the alarms notify no one: set" in out
    assert "aragora-redis:aws.alarmTopicArn" in out


def test_sentinel_plan_shows_listeners_and_zones(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "dev-sentinel", "--json")
    assert code == 0
    assert secrets_in(out) == []
    doc = json.loads(out)
    by_name = {r["name"]: r for r in doc["resources"]}
    listeners = by_name["aragora-dev-config"]["properties"]
    assert listeners["redis-0.conf"] == "port 0, tls-port 6379"
    assert listeners["sentinel-0.conf"] == "port 0, tls-port 26379"
    redis = by_name["aragora-dev-redis"]
    assert redis["properties"]["spread over zones"] is True
    assert redis["properties"]["spec.replicas"] == 3
    assert redis["protect"] is False  # a dev stack
    assert doc["outputs"]["ARAGORA_REDIS_SENTINEL_PASSWORD"] == "[secret]"
    # TLS Sentinel: Aragora's own Sentinel client speaks no TLS to sentinels, so Aragora is
    # told standalone (the HAProxy URL); aragora_redis follows the sentinels (docs/aragora.md).
    assert doc["outputs"]["ARAGORA_REDIS_MODE"] == "standalone"
    assert doc["outputs"]["ARAGORA_REDIS_CLUSTER_MODE"] == "standalone"
    assert "ARAGORA_REDIS_SENTINEL_HOSTS" not in doc["outputs"]
    assert doc["outputs"]["ARAGORA_REDIS_TLS_SENTINEL_HOSTS"].endswith(":26379")
