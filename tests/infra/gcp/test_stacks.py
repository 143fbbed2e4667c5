"""The GCP stack file evaluates under mocks, and every secure and HA default holds on it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from aragora_redis import RedisSettings
from infra.outputs import CA_PEM_OUTPUT, ENV_MAP_OUTPUT

from ..gcp_mocks import CA_CERTS, FAKE_AUTH_STRING, HOST, INSTANCE, TLS_PORT, run_gcp
from ..harness import Declared, Run, Secret, client_view, evaluated, misflagged_outputs
from ..stack_config import section, stack_file

GCP_STACKS = ("prod-gcp",)
COMPONENT = "aragora-redis:gcp:GcpRedis"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
SECRET = "gcp:secretmanager/secret:Secret"
VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
STATEFUL = (INSTANCE, SECRET)


@pytest.fixture(scope="module", params=GCP_STACKS)
def deployed(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Run]:
    stack: str = request.param
    config = stack_file(stack)
    return stack, config, evaluated(run_gcp(config, stack), stack)


def instance(run: Run) -> Declared:
    return run.one(INSTANCE)


def test_every_resource_is_a_descendant_of_the_component(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    outside = deployed[2].not_under(COMPONENT)
    assert outside == [], f"not under the component: {outside}"


def test_standard_ha_with_replicas(deployed: tuple[str, dict[str, Any], Run]) -> None:
    # Imported here, after .gcp_mocks silenced pulumi_gcp's import-time deprecation warnings.
    from infra.backends.gcp.settings import POLICIES

    _, config, run = deployed
    redis = instance(run)
    env = config["aragora-redis:environment"]
    replicas = section(config, "gcp").get("replicas", POLICIES[env].defaults["replicas"])
    assert redis.inputs["tier"] == "STANDARD_HA", f"{redis}: tier"
    assert redis.inputs["replicaCount"] == replicas >= 1, f"{redis}: replicas"
    mode = redis.inputs["readReplicasMode"]
    assert mode == ("READ_REPLICAS_ENABLED" if replicas > 1 else mode), f"{redis}: {mode}"
    zones = redis.inputs.get("locationId"), redis.inputs.get("alternativeLocationId")
    assert zones[0] != zones[1] or zones == (None, None), f"{redis}: zones {zones}"


def test_auth_and_tls(deployed: tuple[str, dict[str, Any], Run]) -> None:
    redis = instance(deployed[2])
    assert redis.inputs["authEnabled"] is True, f"{redis}: AUTH off"
    assert redis.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION", f"{redis}: TLS"


def test_private_service_access_on_an_explicit_network(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    _, config, run = deployed
    redis = instance(run)
    network = redis.inputs["authorizedNetwork"]
    assert network == section(config, "gcp")["network"], f"{redis}: network {network}"
    assert not network.endswith("/networks/default"), f"{redis}: default network"
    assert redis.inputs["connectMode"] == "PRIVATE_SERVICE_ACCESS", f"{redis}: connect mode"


def test_persistence_maintenance_and_configs(deployed: tuple[str, dict[str, Any], Run]) -> None:
    _, config, run = deployed
    redis = instance(run)
    gcp = section(config, "gcp")
    persistence = redis.inputs["persistenceConfig"]
    assert persistence["persistenceMode"] == "RDB", f"{redis}: persistence {persistence}"
    assert persistence["rdbSnapshotPeriod"] == gcp["snapshotPeriod"], f"{redis}: period"
    windows = redis.inputs["maintenancePolicy"]["weeklyMaintenanceWindows"]
    assert [(w["day"], w["startTime"]["hours"]) for w in windows] == [
        (gcp.get("maintenanceDay", "SUNDAY"), gcp.get("maintenanceHour", 5))
    ], f"{redis}: maintenance {windows}"
    policy = gcp.get("maxmemoryPolicy", "volatile-ttl")
    assert redis.inputs["redisConfigs"] == {"maxmemory-policy": policy}, f"{redis}: configs"
    assert redis.inputs["redisVersion"] == gcp.get("redisVersion", "REDIS_7_2")
    assert redis.inputs.get("customerManagedKey") == gcp.get("customerManagedKey")


def test_labels_are_valid_gcp_labels(deployed: tuple[str, dict[str, Any], Run]) -> None:
    _, config, run = deployed
    labels = instance(run).inputs["labels"]
    assert labels["pulumi-stack"] == deployed[0]
    assert labels["environment"] == config["aragora-redis:environment"]
    for key, value in labels.items():
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key), f"label key {key!r}"
        assert re.fullmatch(r"[a-z0-9_-]{0,63}", value), f"label value {value!r}"


def test_prod_protects_its_stateful_resources(deployed: tuple[str, dict[str, Any], Run]) -> None:
    _, config, run = deployed
    prod = config["aragora-redis:environment"] == "prod"
    for resource in run.resources:
        if resource.type in STATEFUL:
            assert resource.protect is prod, f"{resource}: protect={resource.protect}"
        if resource.type == VERSION:
            assert not resource.protect, f"{resource}: protected, so it cannot be replaced"
    assert instance(run).inputs["deletionProtection"] is prod


def test_alert_policies_for_memory_and_failover(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    _, config, run = deployed
    channels = section(config, "gcp").get("notificationChannels", [])
    redis = instance(run)
    policies = run.of_type(ALERT)
    assert len(policies) == 2, f"{len(policies)} alert policies"
    filters = {}
    for policy in policies:
        assert policy.inputs["notificationChannels"] == channels, f"{policy}: channels"
        (condition,) = policy.inputs["conditions"]
        threshold = condition["conditionThreshold"]
        assert f'instance_id = "{redis.name}-id"' in threshold["filter"], f"{policy}: filter"
        assert threshold["comparison"] == "COMPARISON_GT"
        metric = threshold["filter"].rsplit('metric.type = "', 1)[1].rstrip('"')
        filters[metric] = threshold
    memory = filters["redis.googleapis.com/stats/memory/usage_ratio"]
    assert memory["thresholdValue"] == 0.9, f"memory threshold {memory['thresholdValue']}"
    role = filters["redis.googleapis.com/replication/role"]
    assert role["thresholdValue"] == 0
    assert role["aggregations"][0]["perSeriesAligner"] == "ALIGN_STDDEV"


def test_ca_output_holds_every_server_ca_certificate(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    run = deployed[2]
    pem = run.outputs[CA_PEM_OUTPUT]
    assert not pem.secret, "the CA bundle is public"
    assert pem.value == "".join(CA_CERTS), f"CA bundle {pem.value!r}"
    assert pem.value.count("BEGIN CERTIFICATE") == len(CA_CERTS) == 2


def test_outputs_round_trip_through_the_client(deployed: tuple[str, dict[str, Any], Run]) -> None:
    env, settings = client_view(deployed[2], CA_PEM_OUTPUT)
    assert settings.mode == "standalone"
    assert settings.ssl
    assert settings.ssl_cert_reqs == "required"
    # Host and port come from the instance: 6378 with TLS, not 6379.
    assert (settings.host, settings.port) == (HOST, TLS_PORT)
    assert settings.password is not None
    assert settings.password.get_secret_value() == FAKE_AUTH_STRING
    assert "ARAGORA_REDIS_SSL_CA_CERTS" not in env, "a file path, written by the deployer"
    assert env["ARAGORA_REDIS_URL"] == env["REDIS_URL"]
    assert env["REDIS_URL"].startswith("rediss://")
    assert RedisSettings.from_env({"REDIS_URL": env["REDIS_URL"]}).port == TLS_PORT


def test_credential_outputs_are_secret_and_the_rest_are_not(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    run = deployed[2]
    assert misflagged_outputs(run) == []
    assert {"ARAGORA_REDIS_PASSWORD", "ARAGORA_REDIS_URL", "REDIS_URL"} <= run.outputs.keys()


def test_env_published_to_secret_manager(deployed: tuple[str, dict[str, Any], Run]) -> None:
    _, config, run = deployed
    secret_id = section(config, "gcp").get("secretId")
    if secret_id is None:
        assert not run.of_type(SECRET)
        return
    secret = run.one(SECRET)
    assert secret.inputs["secretId"] == secret_id, f"{secret}"
    version = run.one(VERSION)
    payload = version.inputs["secretData"]
    assert isinstance(payload, Secret), f"{version}: secret data not secret"
    assert json.loads(payload.value) == run.outputs[ENV_MAP_OUTPUT].value
