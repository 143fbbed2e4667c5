"""The policy pack over every stack's declared resources, run under the backend mocks.

Every stack passes the whole pack; configs that the stack config accepts but
the pack does not (weaker environments under a prod stack's name, public
access, a BASIC tier) fail with the rule named.
"""

from __future__ import annotations

import dataclasses

import pytest

from infra.policy import rules
from infra.policy.evaluate import Violation, mandatory

from .stack_config import changed
from .stacks import StackRun, check_run, run_stack, stack_names


@pytest.fixture(scope="module", params=stack_names())
def stack_run(request: pytest.FixtureRequest) -> StackRun:
    run = run_stack(request.param)
    assert run.error is None, run.error
    return run


def test_every_stack_passes_the_whole_pack(stack_run: StackRun) -> None:
    violations = check_run(stack_run)
    assert mandatory(violations) == []
    # The stack files also follow the advice: maintenance windows and alarms that page.
    assert violations == []


def test_each_stack_has_data_the_pack_checks(stack_run: StackRun) -> None:
    # A pack that recognised none of a stack's types would pass it vacuously.
    assert any(r.type in rules.STATEFUL for r in stack_run.resources)


def _policies(violations: list[Violation]) -> set[str]:
    return {v.policy for v in mandatory(violations)}


def test_a_staging_config_under_a_prod_stack_name_must_still_be_protected() -> None:
    run = run_stack("prod-aws", changed("prod-aws", {"environment": "staging"}))
    assert run.error is None, run.error
    found = mandatory(check_run(run))
    assert _policies(found) == {"protect-prod-stateful"}
    assert any(
        "aws:elasticache/replicationGroup:ReplicationGroup 'aragora-staging'" in v.message
        for v in found
    )


def test_public_network_access_fails_private_network() -> None:
    config = changed("prod-azure", {"environment": "staging", "azure.publicNetworkAccess": True})
    run = run_stack("prod-azure", config)
    assert run.error is None, run.error
    found = mandatory(check_run(run))
    assert "private-network" in _policies(found)
    message = next(v.message for v in found if v.policy == "private-network")
    assert message.startswith(
        "azure-native:redis:Redis 'contoso-aragora-prod': public network access"
    )
    assert "aragora-redis:azure-managed" not in message
    assert "aragora-redis:azure.publicNetworkAccess" in message


def test_a_basic_tier_fails_high_availability() -> None:
    changes = {
        "environment": "dev",
        "gcp.tier": "BASIC",
        "gcp.replicas": None,
        "gcp.readReplicas": None,
        "gcp.alternativeZone": None,
    }
    run = run_stack("prod-gcp", changed("prod-gcp", changes))
    assert run.error is None, run.error
    found = mandatory(check_run(run))
    assert "high-availability" in _policies(found)
    message = next(v.message for v in found if v.policy == "high-availability")
    assert "gcp:redis/instance:Instance 'aragora-dev'" in message
    assert "aragora-redis:gcp.tier STANDARD_HA" in message


def test_weakened_resource_inputs_fail_with_the_named_rule() -> None:
    run = run_stack("prod-aws")
    weakened = [
        dataclasses.replace(r, inputs={**r.inputs, "transitEncryptionMode": "preferred"})
        if r.type == "aws:elasticache/replicationGroup:ReplicationGroup"
        else r
        for r in run.resources
    ]
    found = check_run(dataclasses.replace(run, resources=weakened))
    assert [(v.policy, v.level) for v in found] == [("tls-required", "mandatory")]


def test_a_credential_output_in_the_clear_fails() -> None:
    run = run_stack("staging-aws")
    outputs = dict(run.outputs)
    outputs["REDIS_URL"] = dataclasses.replace(outputs["REDIS_URL"], secret=False)
    found = check_run(dataclasses.replace(run, outputs=outputs))
    assert [(v.policy, v.message.split(":")[0]) for v in found] == [
        (
            "credential-outputs-secret",
            "stack output REDIS_URL carries a credential but is not secret",
        )
    ]


@pytest.mark.parametrize(
    ("changes", "policy", "fragment"),
    [
        (
            {"sentinel-k8s.zoneSpread": "off"},
            "high-availability",
            "kubernetes:apps/v1:StatefulSet 'aragora-dev-redis': pods not spread over zones:"
            " set aragora-redis:sentinel-k8s.zoneSpread",
        ),
        (
            {"sentinel-k8s.replicas": 0},
            "high-availability",
            "kubernetes:apps/v1:StatefulSet 'aragora-dev-redis': fewer than 2 pods:"
            " raise aragora-redis:sentinel-k8s.replicas",
        ),
        (
            {"tls": False, "sentinel-k8s.tlsSecretName": None},
            "tls-required",
            "kubernetes:core/v1:ConfigMap 'aragora-dev-config': redis-0.conf listens in plaintext",
        ),
    ],
)
def test_weakened_sentinel_configs_fail_with_the_named_rule(
    changes: dict[str, object], policy: str, fragment: str
) -> None:
    run = run_stack("dev-sentinel", changed("dev-sentinel", changes))
    assert run.error is None, run.error
    found = mandatory(check_run(run))
    assert _policies(found) == {policy}
    assert any(v.message.startswith(fragment) for v in found), found


def test_the_valkey_engine_passes_and_its_instance_is_protected_in_prod() -> None:
    valkey = changed("prod-gcp-cluster", {})
    valkey["aragora-redis:gcp"]["cluster"]["engine"] = "valkey"
    run = run_stack("prod-gcp-cluster", valkey)
    assert run.error is None, run.error
    assert [r.name for r in run.resources if r.type == "gcp:memorystore/instance:Instance"] == [
        "aragora-prod"
    ]
    assert check_run(run) == []
    valkey["aragora-redis:environment"] = "staging"
    found = mandatory(check_run(run_stack("prod-gcp-cluster", valkey)))
    assert [(v.policy, v.message.split(":")[0:3]) for v in found] == [
        ("protect-prod-stateful", ["gcp", "memorystore/instance", "Instance 'aragora-staging'"])
    ]
