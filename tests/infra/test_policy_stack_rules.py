"""The stack-wide rules of the policy pack, the evaluation of the whole pack, and output secrecy."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import (
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from infra.policy import aws, azure, gcp, kubernetes, rules
from infra.policy.evaluate import evaluate, output_violations

from .test_policy_inputs import Res, b64, compliant, reported

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
    cache = compliant(azure.REDIS)
    schedule = Res(azure.PATCH_SCHEDULE, {"name": "r"}, name="r-patches", parent=cache.urn)
    assert reported(rules.MAINTENANCE_WINDOW, cache, schedule) == []
    other = Res(azure.PATCH_SCHEDULE, {"name": "r"}, name="x", parent=cache.urn + "-other")
    assert reported(rules.MAINTENANCE_WINDOW, cache, other)


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
    assert reported(rules.ALARMS_PRESENT, redis) == [
        f"{T} 'r': no alarms or alert policies watch it: add them"
    ]
    silent = Res(alarm, nested(notify, []), name="a")
    assert reported(rules.ALARMS_PRESENT, redis, silent) == [
        f"{alarm} 'a': the alarms notify no one: set {key}"
    ]
    paging = Res(alarm, nested(notify, ["target"]), name="a")
    assert reported(rules.ALARMS_PRESENT, redis, paging) == []


def test_azure_managed_alarms_name_their_section() -> None:
    silent = Res(azure.METRIC_ALERT, {"actions": []}, name="a")
    assert reported(rules.ALARMS_PRESENT, compliant(azure.ENTERPRISE), silent) == [
        f"{azure.METRIC_ALERT} 'a': the alarms notify no one:"
        " set aragora-redis:azure-managed.alertActionGroupId"
    ]


def test_kubernetes_alarms_are_switched_on_in_config() -> None:
    pods = compliant(kubernetes.STATEFUL_SET)
    assert reported(rules.ALARMS_PRESENT, pods) == [
        f"{kubernetes.STATEFUL_SET} 'r': no alarms or alert policies watch it: add them"
        " (set aragora-redis:sentinel-k8s.prometheusRule true)"
    ]


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


def test_a_value_unknown_in_preview_counts_as_set() -> None:
    # As CrossGuard hands inputs to policies during preview: unknowns raise when read.
    group = compliant(T)
    group.props = unknown_checking_proxy({**group.props, "authToken": UNKNOWN_STRING_VALUE})
    assert reported(rules.AUTH_REQUIRED, group) == []
    assert reported(rules.CREDENTIALS_SECRET, group) == []
    secret = compliant(kubernetes.SECRET)
    data = {"redis.conf": UNKNOWN_STRING_VALUE, "ok.conf": b64("port 6379")}
    secret.props = unknown_checking_proxy({"data": data})
    assert [m.split(": ")[1] for m in reported(rules.TLS_REQUIRED, secret)] == [
        "ok.conf listens in plaintext"
    ]


def test_a_check_needing_an_unknown_value_cannot_run_in_preview() -> None:
    group = compliant(T)
    unknown = {**group.props, "atRestEncryptionEnabled": UNKNOWN_BOOLEAN_VALUE}
    group.props = unknown_checking_proxy(unknown)
    with pytest.raises(UnknownValueError):
        reported(rules.ENCRYPTION_AT_REST, group)
