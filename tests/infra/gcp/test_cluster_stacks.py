"""The gcp cluster option under mocks: Redis Cluster and Valkey, every default on the resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aragora_redis import HostPort, RedisSettings
from infra.backends.gcp.cluster_settings import SERVICE_CLASS
from infra.outputs import CA_PEM_OUTPUT, ENV_MAP_OUTPUT

from ..gcp_mocks import (
    CLUSTER_CA_CERTS,
    CLUSTER_HOST,
    DISCOVERY_PORT,
    INSTANCE,
    OWN_POLICY,
    REDIS_CLUSTER,
    VALKEY,
    VALKEY_HOST,
    cluster_stack,
    run_gcp,
)
from ..harness import Declared, Run, Secret, evaluated, misflagged_outputs
from ..stack_config import section, stack_file
from ..stacks import check_run, run_stack, stack_names

STACK = "prod-gcp-cluster"
COMPONENT = "aragora-redis:gcp:GcpClusterRedis"
POLICY = "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
SECRET = "gcp:secretmanager/secret:Secret"
VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
OWN_KEYS = {f"gcp.cluster.{k}": v for k, v in OWN_POLICY.items()}
ENGINES = {"redis": (REDIS_CLUSTER, CLUSTER_HOST), "valkey": (VALKEY, VALKEY_HOST)}


@pytest.fixture(scope="module", params=list(ENGINES))
def deployed(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Run]:
    engine: str = request.param
    config = cluster_stack({"gcp.cluster.engine": engine})
    return engine, config, evaluated(run_gcp(config, STACK), engine)


def memorystore(engine: str, run: Run) -> Declared:
    return run.one(ENGINES[engine][0])


def test_the_cluster_replaces_the_instance_under_one_component(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    run = deployed[2]
    assert not run.of_type(INSTANCE)
    outside = run.not_under(COMPONENT)
    assert outside == [], f"not under the component: {outside}"


def test_shards_replicas_zones_and_node_type(deployed: tuple[str, dict[str, Any], Run]) -> None:
    engine, config, run = deployed
    cluster = section(config, "gcp")["cluster"]
    m = memorystore(engine, run)
    assert m.inputs["shardCount"] == cluster["shardCount"]
    assert m.inputs["replicaCount"] == cluster["replicasPerShard"] >= 1, f"{m}: no replica"
    assert m.inputs["zoneDistributionConfig"] == {"mode": "MULTI_ZONE"}
    prefix = "REDIS_" if engine == "redis" else ""
    assert m.inputs["nodeType"] == prefix + cluster["nodeType"].upper().replace("-", "_")
    if engine == "valkey":
        assert m.inputs["mode"] == "CLUSTER"
        assert m.inputs["engineVersion"] == "VALKEY_8_0"


def test_iam_auth_tls_and_deletion_protection(deployed: tuple[str, dict[str, Any], Run]) -> None:
    engine, _, run = deployed
    m = memorystore(engine, run)
    if engine == "redis":
        assert m.inputs["authorizationMode"] == "AUTH_MODE_IAM_AUTH"
        assert m.inputs["transitEncryptionMode"] == "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"
    else:
        assert m.inputs["authorizationMode"] == "IAM_AUTH"
        assert m.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert m.inputs["deletionProtectionEnabled"] is True


def test_private_service_connect_through_the_network_stacks_policy(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    engine, config, run = deployed
    gcp = section(config, "gcp")
    m = memorystore(engine, run)
    if engine == "redis":
        assert m.inputs["pscConfigs"] == [{"network": gcp["network"]}]
    else:
        assert m.inputs["desiredAutoCreatedEndpoints"] == [
            {"network": gcp["network"], "projectId": gcp["network"].split("/")[1]}
        ]
    # One policy per network, region and service class: by default the existing one.
    assert not run.of_type(POLICY)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_stack_that_owns_the_policy_creates_it_first(engine: str) -> None:
    config = cluster_stack({"gcp.cluster.engine": engine, **OWN_KEYS})
    run = run_gcp(config, STACK)
    assert run.error is None, repr(run.error)
    gcp = section(config, "gcp")
    policy = run.one(POLICY)
    expected_class = "gcp-memorystore-redis" if engine == "redis" else "gcp-memorystore"
    assert policy.inputs["serviceClass"] == expected_class
    assert policy.inputs["network"] == gcp["network"]
    assert policy.inputs["location"] == gcp["region"]
    assert policy.inputs["pscConfig"]["subnetworks"] == [OWN_POLICY["subnetwork"]]


def test_persistence_maintenance_key_and_configs(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    engine, config, run = deployed
    gcp = section(config, "gcp")
    m = memorystore(engine, run)
    persistence = m.inputs["persistenceConfig"]
    assert persistence["mode"] == "RDB"
    assert persistence["rdbConfig"]["rdbSnapshotPeriod"] == gcp["snapshotPeriod"]
    windows = m.inputs["maintenancePolicy"]["weeklyMaintenanceWindows"]
    assert [(w["day"], w["startTime"]["hours"]) for w in windows] == [
        (gcp["maintenanceDay"], gcp["maintenanceHour"])
    ]
    assert m.inputs["kmsKey"] == gcp["customerManagedKey"]
    configs = m.inputs["redisConfigs" if engine == "redis" else "engineConfigs"]
    assert configs == {"maxmemory-policy": gcp["maxmemoryPolicy"]}


def test_prod_protects_its_stateful_resources(deployed: tuple[str, dict[str, Any], Run]) -> None:
    engine, _, run = deployed
    assert memorystore(engine, run).protect
    assert run.one(SECRET).protect
    assert not run.one(VERSION).protect, "a protected version could not be replaced"


def test_memory_alert_on_the_cluster(deployed: tuple[str, dict[str, Any], Run]) -> None:
    engine, config, run = deployed
    gcp = section(config, "gcp")
    (policy,) = run.of_type(ALERT)
    assert policy.inputs["notificationChannels"] == gcp["notificationChannels"]
    threshold = policy.inputs["conditions"][0]["conditionThreshold"]
    assert threshold["thresholdValue"] == gcp["alerts"]["memoryUsageRatio"]
    assert threshold["comparison"] == "COMPARISON_GT"
    name = memorystore(engine, run).name
    if engine == "redis":
        expected = (
            'resource.type = "redis.googleapis.com/Cluster" AND resource.labels.cluster_id = '
            f'"{name}" AND metric.type = "redis.googleapis.com/cluster/memory/maximum_utilization"'
        )
    else:
        expected = (
            'resource.type = "memorystore.googleapis.com/Instance" AND resource.labels.instance_id'
            f' = "{name}" AND metric.type = '
            '"memorystore.googleapis.com/instance/memory/maximum_utilization"'
        )
    assert threshold["filter"] == expected


def test_ca_output_holds_every_managed_certificate(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    pem = deployed[2].outputs[CA_PEM_OUTPUT]
    assert not pem.secret, "the CA bundle is public"
    assert pem.value == "".join(CLUSTER_CA_CERTS)
    assert pem.value.count("BEGIN CERTIFICATE") == 3


def test_outputs_round_trip_as_a_cluster_with_iam_auth(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    engine, _, run = deployed
    env = run.outputs[ENV_MAP_OUTPUT].value
    variables = {
        k: v.value for k, v in run.outputs.items() if k not in (ENV_MAP_OUTPUT, CA_PEM_OUTPUT)
    }
    assert variables == env
    settings = RedisSettings.from_env(env)
    assert settings.to_env() == env
    host = ENGINES[engine][1]
    assert settings.mode == "cluster"
    assert settings.auth == "gcp-iam"
    assert settings.cluster_nodes == (HostPort(host, DISCOVERY_PORT),)
    assert (settings.host, settings.port) == (host, DISCOVERY_PORT)
    assert settings.ssl
    assert settings.ssl_cert_reqs == "required"
    assert settings.password is None
    assert settings.username is None
    assert env["ARAGORA_REDIS_AUTH"] == "gcp-iam"
    assert "ARAGORA_REDIS_PASSWORD" not in env
    assert env["REDIS_URL"] == f"rediss://{host}:{DISCOVERY_PORT}/0"


def test_credential_outputs_are_secret_and_the_rest_are_not(
    deployed: tuple[str, dict[str, Any], Run],
) -> None:
    run = deployed[2]
    assert misflagged_outputs(run) == []


def test_env_published_to_secret_manager(deployed: tuple[str, dict[str, Any], Run]) -> None:
    _, config, run = deployed
    assert run.one(SECRET).inputs["secretId"] == section(config, "gcp")["secretId"]
    payload = run.one(VERSION).inputs["secretData"]
    assert isinstance(payload, Secret)
    assert json.loads(payload.value) == run.outputs[ENV_MAP_OUTPUT].value


@pytest.mark.parametrize(
    ("engine", "role"),
    [("redis", "roles/redis.dbConnectionUser"), ("valkey", "roles/memorystore.dbConnectionUser")],
)
def test_connection_members_get_the_engine_db_connection_role(engine: str, role: str) -> None:
    members = ["serviceAccount:aragora@aragora-prod-4821.iam.gserviceaccount.com", "user:a@b.org"]
    config = cluster_stack({"gcp.cluster.engine": engine, "gcp.cluster.connectionMembers": members})
    run = run_gcp(config, STACK)
    assert run.error is None, repr(run.error)
    bindings = run.of_type(IAM_MEMBER)
    granted = sorted((b.inputs["member"], b.inputs["role"]) for b in bindings)
    assert granted == sorted((m, role) for m in members)
    assert {b.inputs["project"] for b in bindings} == {"aragora-prod-4821"}
    staging = {"environment": "staging", "gcp.cluster.connectionMembers": None}
    assert not run_gcp(cluster_stack(staging), STACK).of_type(IAM_MEMBER), "none unless asked"
    # Reordering the list must not rename (and so replace) a binding.
    reordered = cluster_stack(
        {"gcp.cluster.engine": engine, "gcp.cluster.connectionMembers": members[::-1]}
    )
    names = {b.name: b.inputs["member"] for b in bindings}
    assert {
        b.name: b.inputs["member"] for b in run_gcp(reordered, STACK).of_type(IAM_MEMBER)
    } == names


@pytest.mark.parametrize("engine", list(ENGINES))
def test_the_policy_pack_passes_both_engines(engine: str) -> None:
    # prod-gcp's mocks and name, with the cluster config (the pack's rules for both types).
    run = run_stack("prod-gcp", cluster_stack({"gcp.cluster.engine": engine}))
    assert run.error is None, repr(run.error)
    assert check_run(run) == []


def test_dev_defaults_and_an_existing_connection_policy() -> None:
    config = cluster_stack(
        {
            "environment": "dev",
            "gcp.customerManagedKey": None,
            "gcp.cluster": {"createServiceConnectionPolicy": False},
        },
    )
    run = run_gcp(config, "dev-gcp-cluster")
    assert run.error is None, repr(run.error)
    cluster = run.one(REDIS_CLUSTER)
    assert cluster.inputs["nodeType"] == "REDIS_SHARED_CORE_NANO"
    assert (cluster.inputs["shardCount"], cluster.inputs["replicaCount"]) == (3, 1)
    assert cluster.inputs["deletionProtectionEnabled"] is True
    assert not cluster.protect, "only prod protects"
    assert not run.of_type(POLICY)


def test_no_two_stack_files_create_the_same_connection_policy() -> None:
    # Google allows one policy per network, region and service class: a second fails on create.
    owners: dict[tuple[str, str, str], str] = {}
    for name in stack_names():
        gcp = stack_file(name).get("aragora-redis:gcp") or {}
        cluster = gcp.get("cluster") or {}
        if not cluster.get("createServiceConnectionPolicy"):
            continue
        engine = cluster.get("engine", "redis")
        slot = (gcp["network"], gcp["region"], SERVICE_CLASS[engine])
        assert slot not in owners, f"{name} and {owners[slot]} both create the policy {slot}"
        owners[slot] = name
