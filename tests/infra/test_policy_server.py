"""The pack served the way the Pulumi CLI runs it: ``infra/policy/__main__.py`` over gRPC.

The CLI starts the pack's program in its directory, reads the port it prints,
and calls the Analyzer service; so does this test, with pulumi's own stubs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc  # type: ignore[import-untyped]  # no stubs installed; pulumi depends on it
import pytest
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]  # no stubs
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from infra.policy import aws, rules

from .stack_config import ROOT
from .test_policy_inputs import COMPLIANT

PACK = ROOT / "infra" / "policy"
GROUP = aws.REPLICATION_GROUP


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    server = subprocess.Popen(
        [sys.executable, "-u", str(PACK / "__main__.py")],
        cwd=PACK,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        server.terminate()
        server.wait(timeout=30)


def analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub, props: dict[str, Any], stack: str = "prod-aws"
) -> list[Any]:
    properties = struct_pb2.Struct()
    properties.update(props)
    request = analyzer_pb2.AnalyzeRequest(
        type=GROUP,
        properties=properties,
        urn=f"urn:pulumi:{stack}::aragora-redis::{GROUP}::aragora-prod",
        name="aragora-prod",
        options=analyzer_pb2.AnalyzerResourceOptions(
            protect=True, additionalSecretOutputs=["authToken"]
        ),
    )
    return list(stub.Analyze(request).diagnostics)


def test_the_served_pack_lists_every_policy(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "aragora-redis"
    served = {p.name: p.enforcementLevel for p in info.policies}
    advisory = analyzer_pb2.EnforcementLevel.Value("ADVISORY")
    mandatory = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
    assert served == {
        p.name: advisory if p.name in ("maintenance-window", "alarms-present") else mandatory
        for p in rules.POLICIES
    }


def test_the_served_pack_passes_a_compliant_group(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    assert analyze(analyzer, COMPLIANT[GROUP][0]) == []


def test_the_served_pack_reports_a_weakened_group(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    props = {**COMPLIANT[GROUP][0], "atRestEncryptionEnabled": False, "snapshotRetentionLimit": 0}
    # CrossGuard puts the policy's description on the line before the message.
    found = {(d.policyName, d.message.split("\n")[-1]) for d in analyze(analyzer, props)}
    name = f"{GROUP} 'aragora-prod'"
    assert found == {
        (
            "encryption-at-rest",
            f"{name}: encryption at rest is off: set atRestEncryptionEnabled true",
        ),
        (
            "backups-in-prod",
            f"{name}: no snapshots kept: set aragora-redis:aws.snapshotRetentionDays to 1 or more",
        ),
    }
    # Outside prod, the prod rule stays quiet.
    staging = analyze(analyzer, props, stack="staging-aws")
    assert [d.policyName for d in staging] == ["encryption-at-rest"]
