"""scripts/preview_guard.py on ``pulumi preview --json`` documents, and its type lists
against what every stack file declares under mocks and what the provider SDKs define.

The documents follow the CLI's JSON display (pkg/backend/display/json.go): ``steps``
of ``{op, urn, provider, oldState, newState, diffReasons, replaceReasons,
detailedDiff}`` with ``apitype.ResourceV3`` states; a replacement is three steps on
one URN (``create-replacement``, ``replace``, ``delete-replaced``).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pulumi
import pytest

from scripts.preview_guard import (
    STATEFUL_TYPES,
    STATELESS_TYPES,
    Kind,
    PreviewError,
    classify,
    findings,
    main,
    urn_type,
)

from .stack_config import ROOT
from .stacks import run_stack, stack_names

GUARD = ROOT / "scripts" / "preview_guard.py"
STACK = "prod-aws"
PREFIX = f"urn:pulumi:{STACK}::aragora-redis::"
COMPONENT = "aragora-redis:aws:ElastiCacheRedis"
PROVIDER = f"{PREFIX}pulumi:providers:aws::default_7_9_0::5f2d1c1e-9c7b-4d8e-a1f0-3b2b6a9e0c11"
GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def urn(type_: str, name: str, parent: str | None = COMPONENT) -> str:
    chain = f"{parent}${type_}" if parent else type_
    return f"{PREFIX}{chain}::{name}"


def state(type_: str, name: str, **inputs: Any) -> dict[str, Any]:
    """An ``apitype.ResourceV3`` as the CLI prints it."""
    custom = not type_.startswith(("aragora-redis:", "pulumi:pulumi:"))
    return {
        "urn": urn(type_, name),
        "custom": custom,
        "id": f"{name}-0a1b2c" if custom else "",
        "type": type_,
        "inputs": inputs,
        "outputs": {**inputs, "arn": f"arn:aws:elasticache:us-east-1:123456789012:{name}"},
        "parent": f"{PREFIX}pulumi:pulumi:Stack::aragora-redis-{STACK}",
        "protect": type_ == GROUP,
        "provider": PROVIDER if custom else "",
    }


def step(op: str, type_: str, name: str, **extra: Any) -> dict[str, Any]:
    old = state(type_, name, atRestEncryptionEnabled=True)
    new = state(type_, name, atRestEncryptionEnabled=False)
    body: dict[str, Any] = {"op": op, "urn": urn(type_, name), "provider": PROVIDER}
    if op not in ("create", "create-replacement"):
        body["oldState"] = old
    if op not in ("delete", "delete-replaced"):
        body["newState"] = new
    return body | extra


def replacement(type_: str, name: str) -> list[dict[str, Any]]:
    reasons = {
        "replaceReasons": ["atRestEncryptionEnabled"],
        "diffReasons": ["atRestEncryptionEnabled"],
    }
    detail = {
        "detailedDiff": {"atRestEncryptionEnabled": {"kind": "update-replace", "inputDiff": True}}
    }
    return [
        step("create-replacement", type_, name, **reasons, **detail),
        step("replace", type_, name, **reasons, **detail),
        step("delete-replaced", type_, name),
    ]


def document(*steps: dict[str, Any]) -> str:
    ops = [s["op"] for s in steps]
    summary = {
        op: ops.count(op) for op in ("same", "update", "create", "delete", "replace") if op in ops
    }
    return json.dumps(
        {
            "config": {"aws:region": "us-east-1", "aragora-redis:environment": "prod"},
            "steps": list(steps),
            "duration": 5_231_000_000,
            "changeSummary": summary,
        }
    )


def test_a_replaced_replication_group_is_one_stateful_finding_with_its_three_ops() -> None:
    found = findings(document(step("same", ALARM, "cpu"), *replacement(GROUP, "aragora-redis")))
    assert len(found) == 1
    assert found[0].type == GROUP
    assert found[0].kind is Kind.STATEFUL
    assert found[0].name == "aragora-redis"
    assert found[0].ops == ("create-replacement", "replace", "delete-replaced")


def test_a_deleted_password_and_volume_claim_are_found() -> None:
    found = findings(
        document(
            step("delete", "random:index/randomPassword:RandomPassword", "auth"),
            step("delete", "kubernetes:core/v1:PersistentVolumeClaim", "data-redis-0"),
        )
    )
    assert [(f.type, f.ops) for f in found] == [
        ("kubernetes:core/v1:PersistentVolumeClaim", ("delete",)),
        ("random:index/randomPassword:RandomPassword", ("delete",)),
    ]


def test_updates_creates_and_stateless_replacements_pass() -> None:
    doc = document(
        step("update", GROUP, "aragora-redis"),
        step("create", "aws:secretsmanager/secret:Secret", "env"),
        *replacement(ALARM, "cpu"),
        step("delete", COMPONENT, "old-component"),
        step("replace", "pulumi:providers:aws", "default_7_9_0"),
    )
    assert findings(doc) == []


PE = "azure-native:network:PrivateEndpoint"
LOCK = "azure-native:authorization:ManagementLockByScope"


def test_a_replaced_private_endpoint_is_blocked_by_the_delete_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = findings(document(*replacement(PE, "contoso-aragora-prod-pe")))
    assert [(f.type, f.kind) for f in found] == [(PE, Kind.LOCKED)]
    path = tmp_path / "preview.json"
    path.write_text(document(*replacement(PE, "contoso-aragora-prod-pe")))
    assert main(["--enforce", str(path)]) == 1
    out = capsys.readouterr().out
    assert "409 ScopeLocked" in out
    assert "pulumi destroy --target" in out


def test_a_private_endpoint_may_go_once_the_lock_goes_first() -> None:
    doc = document(
        step("delete", LOCK, "contoso-aragora-prod-lock"),
        *replacement(PE, "contoso-aragora-prod-pe"),
    )
    assert findings(doc) == []


def test_an_unreviewed_type_is_a_finding() -> None:
    found = findings(document(step("delete", "aws:s3/bucket:BucketV2", "backups")))
    assert [(f.type, f.kind) for f in found] == [("aws:s3/bucket:BucketV2", Kind.UNREVIEWED)]


def test_the_type_comes_from_the_urn_when_the_step_has_no_state() -> None:
    bare = {
        "op": "delete",
        "urn": urn("gcp:redis/instance:Instance", "redis", parent=f"a:b:C${COMPONENT}"),
    }
    assert [f.type for f in findings(json.dumps({"steps": [bare]}))] == [
        "gcp:redis/instance:Instance"
    ]
    assert urn_type(bare["urn"]) == "gcp:redis/instance:Instance"


def test_a_preview_without_changes_passes() -> None:
    assert findings(json.dumps({"config": {}, "changeSummary": {"same": 12}})) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pulumi: error: no stack selected", "Invalid JSON"),
        ('{"steps": [{"op": "delete"}]}', "steps.0.urn: Field required"),
        ('{"steps": "none"}', "steps: Input should be a valid array"),
        (
            '{"steps": [{"op": "delete", "urn": "redis"}]}',
            "step urn: got 'redis', expected urn:pulumi:",
        ),
    ],
)
def test_malformed_input_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(PreviewError, match=re.escape(message)):
        findings(text)


def test_enforce_exits_1_and_names_the_resource(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "preview.json"
    path.write_text(document(*replacement(GROUP, "aragora-redis")))
    assert main(["--enforce", str(path)]) == 1
    out = capsys.readouterr().out
    assert "refusing: 1 resource(s)" in out
    assert f"stateful {GROUP} 'aragora-redis': create-replacement, replace, delete-replaced" in out


def test_without_enforce_it_only_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "preview.json"
    path.write_text(document(*replacement(GROUP, "aragora-redis")))
    assert main([str(path)]) == 0
    assert "warning (not enforced for this stack)" in capsys.readouterr().out


def test_the_script_reads_stdin_as_the_workflow_pipes_it() -> None:
    def run(text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(GUARD), "--enforce"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )

    refused = run(document(step("delete", "azure-native:redis:Redis", "aragora")))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "azure-native:redis:Redis 'aragora': delete" in refused.stdout
    passed = run(document(step("update", "azure-native:redis:Redis", "aragora")))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    broken = run("error: could not find stack")
    assert broken.returncode == 2
    assert broken.stderr.startswith("preview_guard: stdin: not a `pulumi preview --json` document")


def test_the_type_lists_do_not_overlap() -> None:
    assert not STATEFUL_TYPES & STATELESS_TYPES


#: Custom resources (CRDs of the Prometheus operator) have no SDK class of their own.
CRD_GROUPS = ("monitoring.coreos.com/",)


def sdk_class(token: str) -> Any:
    """The provider SDK class of a type token, e.g. ``pulumi_aws.elasticache.ReplicationGroup``."""
    package, module, name = token.split(":")
    if package == "kubernetes":
        group, version = module.split("/")
        path = f"{group.split('.')[0]}.{version}"  # rbac.authorization.k8s.io/v1 -> rbac.v1
    else:
        path = module.split("/")[0]
    dotted = f"pulumi_{package.replace('-', '_')}" + ("" if path == "index" else f".{path}")
    with warnings.catch_warnings():
        # Some SDK modules warn about their own deprecated classes as they are loaded.
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(importlib.import_module(dotted), name)


@pytest.mark.parametrize("token", sorted(STATEFUL_TYPES | STATELESS_TYPES))
def test_every_listed_type_is_a_real_sdk_type(token: str) -> None:
    if token.removeprefix("kubernetes:").startswith(CRD_GROUPS):
        # apiextensions.CustomResource has the type token kubernetes:<apiVersion>:<kind>.
        assert re.fullmatch(r"kubernetes:[a-z.]+/v1:[A-Z][A-Za-z]+", token)
        return
    assert sdk_class(token).pulumi_type == token


@pytest.mark.parametrize("stack", stack_names())
def test_every_declared_type_is_reviewed_and_the_store_is_stateful(stack: str) -> None:
    run = run_stack(stack)
    assert run.error is None, f"{stack}: {run.error!r}"
    types = {r.type for r in run.resources}
    unreviewed = sorted(t for t in types if classify(t) is Kind.UNREVIEWED)
    assert unreviewed == [], (
        f"{stack} declares types the preview guard has not classified: {unreviewed};"
        " add each to STATEFUL_TYPES or STATELESS_TYPES in scripts/preview_guard.py"
    )
    assert any(classify(t) is Kind.STATEFUL for t in types), f"{stack}: no stateful resource"
    protected = {r.type for r in run.resources if r.protect}
    assert not protected or protected & STATEFUL_TYPES, (
        f"{stack}: protects {protected}, none stateful"
    )


BACKENDS = ROOT / "infra" / "backends"


def attribute_chain(node: ast.expr) -> list[str]:
    """``gcp.redis.Instance`` as ``["gcp", "redis", "Instance"]``; ``[]`` for anything else."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute) and (chain := attribute_chain(node.value)):
        return [*chain, node.attr]
    return []


def backend_resource_types() -> dict[str, str]:
    """Type token -> ``file:line`` of every provider resource class the backends call.

    Covers options no stack file turns on. Custom resources of a CRD have no fixed
    type token and are left to the stack runs above.
    """
    found: dict[str, str] = {}
    for path in sorted(BACKENDS.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        namespace = vars(importlib.import_module(module.removesuffix(".__init__")))
        calls = (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call))
        for node in calls:
            chain = attribute_chain(node.func)
            if not chain or chain[0] not in namespace:
                continue
            target = namespace[chain[0]]
            for name in chain[1:]:
                target = getattr(target, name, None)
            token = getattr(target, "pulumi_type", None)
            if isinstance(target, type) and issubclass(target, pulumi.CustomResource) and token:
                found.setdefault(str(token), f"{path.relative_to(BACKENDS)}:{node.lineno}")
    return found


def test_the_backend_scan_finds_the_classes_the_stacks_declare() -> None:
    types = backend_resource_types()
    for token in (GROUP, "gcp:redis/cluster:Cluster", "azure-native:redis:Redis"):
        assert token in types
    assert types["kubernetes:apps/v1:StatefulSet"].startswith("sentinel_k8s")


def test_every_resource_class_the_backends_call_is_reviewed() -> None:
    unreviewed = {
        token: where
        for token, where in backend_resource_types().items()
        if classify(token) is Kind.UNREVIEWED
    }
    assert unreviewed == {}, (
        "add each to STATEFUL_TYPES or STATELESS_TYPES in scripts/preview_guard.py"
    )
