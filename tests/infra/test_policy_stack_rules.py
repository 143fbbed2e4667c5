"""The stack-wide rules of the policy pack, the evaluation of the whole pack, and output secrecy."""

from __future__ import annotations

import pytest

from infra.policy import aws, azure, gcp, kubernetes, rules
from infra.policy.evaluate import evaluate, output_violations

from .test_policy_inputs import Res, compliant, reported

T = aws.REPLICATION_GROUP


def test_every_redis_on_kubernetes_needs_a_network_policy() -> None:
    pods = compliant(kubernetes.STATEFUL_SET)
    messages = reported(rules.K8S_NETWORK_POLICY, pods, compliant(kubernetes.SERVICE))
    assert len(messages) == 1
    assert "no NetworkPolicy" in messages[0]
    assert reported(rules.K8S_NETWORK_POLICY, pods, compliant(kubernetes.NETWORK_POLICY)) == []


@pytest.mark.parametrize(
    ("resource", "fragment"),
    [
        (compliant(T, maintenanceWindow=None), "aragora-redis:aws.maintenanceWindow"),
        (compliant(gcp.INSTANCE, maintenancePolicy=None), "aragora-redis:gcp.maintenanceDay"),
        (compliant(gcp.CLUSTER, maintenancePolicy={}), "maintenance window"),
        (compliant(gcp.VALKEY, maintenancePolicy=None), "maintenance window"),
        (compliant(azure.REDIS), "aragora-redis:azure.patchDay"),
    ],
)
def test_maintenance_window_is_advised(resource: Res, fragment: str) -> None:
    messages = reported(rules.MAINTENANCE_WINDOW, resource)
    assert len(messages) == 1
    assert fragment in messages[0]
    assert messages[0].startswith(f"{resource.type} 'r'")


def test_an_azure_cache_with_its_patch_schedule_has_a_window() -> None:
    schedule = Res(azure.PATCH_SCHEDULE, {"name": "r"}, name="r-patches")
    assert reported(rules.MAINTENANCE_WINDOW, compliant(azure.REDIS), schedule) == []
    other = Res(azure.PATCH_SCHEDULE, {"name": "another"}, name="x")
    assert reported(rules.MAINTENANCE_WINDOW, compliant(azure.REDIS), other)


def nested(path: str, value: object) -> dict[str, object]:
    head, _, rest = path.partition(".")
    return {head: nested(rest, value) if rest else value}


@pytest.mark.parametrize(
    ("alarm", "notify", "key"),
    [
        (aws.ALARM, "alarmActions", "aragora-redis:aws.alarmTopicArn"),
        (gcp.ALERT_POLICY, "notificationChannels", "aragora-redis:gcp.notificationChannels"),
        (azure.METRIC_ALERT, "actions", "aragora-redis:azure.alertActionGroupId"),
        (kubernetes.PROMETHEUS_RULE, "spec.groups", "aragora-redis:sentinel-k8s.prometheusRule"),
    ],
)
def test_alarms_are_advised_and_must_notify(alarm: str, notify: str, key: str) -> None:
    redis = compliant(T)
    assert "no alarms" in reported(rules.ALARMS_PRESENT, redis)[0]
    silent = Res(alarm, nested(notify, []), name="a")
    assert key in reported(rules.ALARMS_PRESENT, redis, silent)[0]
    paging = Res(alarm, nested(notify, ["target"]), name="a")
    assert reported(rules.ALARMS_PRESENT, redis, paging) == []


def test_evaluate_runs_every_policy_with_its_level() -> None:
    weak = compliant(T, atRestEncryptionEnabled=False, maintenanceWindow=None)
    found = {(v.policy, v.level) for v in evaluate([weak.policy_resource()])}
    assert found == {
        ("encryption-at-rest", "mandatory"),
        ("maintenance-window", "advisory"),
        ("alarms-present", "advisory"),
    }


def test_credential_outputs_must_be_secret() -> None:
    flags = {
        "ARAGORA_REDIS_URL": False,
        "REDIS_URL": True,
        "ARAGORA_REDIS_PASSWORD": True,
        "aragoraRedisEnv": False,
        "ARAGORA_REDIS_HOST": False,
    }
    found = output_violations(flags)
    assert [v.message.split()[2] for v in found] == ["ARAGORA_REDIS_URL", "aragoraRedisEnv"]
    assert {v.level for v in found} == {"mandatory"}
