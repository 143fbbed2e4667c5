"""The ``azure-managed`` backend (Azure Managed Redis): the prod stack file evaluates under
mocks, every secure and HA default holds, the database key is secret everywhere, and bad
configs give named errors before any resource is declared."""

from __future__ import annotations

from typing import Any

import pytest

from aragora_redis import RedisSettings
from infra.outputs import CREDENTIAL_VARIABLES, ENV_MAP_OUTPUT

from ..azure_mocks import (
    FAKE_PRIMARY_KEY,
    GET_REDIS_ENTERPRISE,
    LIST_DATABASE_KEYS,
    AzureMocks,
    key_in_clear,
    run_azure,
)
from ..harness import Declared, Run, Secret, case_ids, evaluated
from ..harness import ErrorCase as Case
from ..stack_config import changed, stack_file

STACK = "prod-azure-managed"
COMPONENT = "aragora-redis:azure-managed:AzureManagedRedis"
CLUSTER = "azure-native:redisenterprise:RedisEnterprise"
DATABASE = "azure-native:redisenterprise:Database"
HOST = "contoso-aragora-prod-amr.eastus2.redis.azure.net"


@pytest.fixture(scope="module")
def mocks() -> AzureMocks:
    return AzureMocks()


@pytest.fixture(scope="module")
def prod(mocks: AzureMocks) -> Run:
    return evaluated(run_azure(stack_file(STACK), STACK, mocks))


def managed(**changes: Any) -> dict[str, Any]:
    """Changes to keys of the ``aragora-redis:azure-managed`` section (``None`` deletes)."""
    return {f"azure-managed.{k}": v for k, v in changes.items()}


def cluster(run: Run) -> Declared:
    return run.one(CLUSTER)


def database(run: Run) -> Declared:
    return run.one(DATABASE)


def test_every_resource_is_a_descendant_of_the_component(prod: Run) -> None:
    outside = prod.not_under(COMPONENT)
    assert outside == [], f"outside the component: {outside}"


def test_cluster_is_highly_available_without_a_zone_list_tls_and_private(prod: Run) -> None:
    c = cluster(prod)
    assert c.inputs["sku"] == {"name": "Balanced_B5"}, f"{c}"
    assert c.inputs["highAvailability"] == "Enabled", f"{c}"
    # The API answers 400 to zones on every Azure Managed Redis SKU.
    assert "zones" not in c.inputs, f"{c}"
    assert c.inputs["minimumTlsVersion"] == "1.2", f"{c}"
    assert c.inputs["publicNetworkAccess"] == "Disabled", f"{c}"


def test_database_on_tls_port_10000_with_keys_and_the_policies(prod: Run) -> None:
    db = database(prod)
    assert db.inputs["port"] == 10000, f"{db}"
    assert db.inputs["clientProtocol"] == "Encrypted", f"{db}"
    assert db.inputs["clusteringPolicy"] == "NoCluster", f"{db}: unsharded for standalone"
    assert db.inputs["evictionPolicy"] == "VolatileTTL", f"{db}"
    assert db.inputs["accessKeysAuthentication"] == "Enabled", f"{db}: the client needs the key"
    assert db.inputs["persistence"] == {"rdbEnabled": True, "rdbFrequency": "1h"}, f"{db}"
    assert db.inputs["clusterName"] == "contoso-aragora-prod-amr"


def test_private_endpoint_in_the_managed_redis_zone(prod: Run) -> None:
    pe = prod.one("azure-native:network:PrivateEndpoint")
    (connection,) = pe.inputs["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["redisEnterprise"]
    zone = prod.one("azure-native:privatedns:PrivateZone")
    assert zone.inputs["privateZoneName"] == "privatelink.redis.azure.net"
    group = prod.one("azure-native:network:PrivateDnsZoneGroup")
    (config,) = group.inputs["privateDnsZoneConfigs"]
    assert config["privateDnsZoneId"].endswith("/privatelink.redis.azure.net")
    assert prod.one("azure-native:privatedns:VirtualNetworkLink").inputs["virtualNetwork"]


def test_prod_is_protected_and_locked(prod: Run) -> None:
    assert cluster(prod).protect, "prod cluster not protected"
    assert database(prod).protect, "prod database not protected"
    lock = prod.one("azure-native:authorization:ManagementLockByScope")
    assert lock.inputs["level"] == "CanNotDelete"


def test_alerts_watch_the_cluster(prod: Run) -> None:
    alerts = prod.of_type("azure-native:monitor:MetricAlert")
    assert len(alerts) == 3
    for alert in alerts:
        criterion = alert.inputs["criteria"]["allOf"][0]
        assert criterion["metricNamespace"] == "Microsoft.Cache/redisEnterprise", f"{alert}"
        assert alert.inputs["actions"], f"{alert}: notifies no one"


def test_keys_come_from_the_database_and_stay_secret(prod: Run, mocks: AzureMocks) -> None:
    calls = [args for token, args in mocks.invokes if token == LIST_DATABASE_KEYS]
    assert calls
    assert calls[0]["databaseName"] == "default"
    assert calls[0]["clusterName"] == "contoso-aragora-prod-amr"
    for resource in prod.resources:
        assert not key_in_clear(resource.inputs), f"{resource}: key in clear"
    for name, output in prod.outputs.items():
        secret = name in CREDENTIAL_VARIABLES or name == ENV_MAP_OUTPUT
        assert output.secret is secret, f"output {name}: secret={output.secret}"
        assert output.secret or not key_in_clear(output.value), f"output {name} holds the key"
    kv = prod.one("azure-native:keyvault:Secret")
    assert isinstance(kv.inputs["properties"], Secret), f"{kv}: env map in clear"


def test_outputs_round_trip_through_the_client(prod: Run) -> None:
    env = prod.outputs[ENV_MAP_OUTPUT].value
    settings = RedisSettings.from_env(env)
    assert settings.mode == "standalone"
    assert (settings.host, settings.port) == (HOST, 10000)
    assert settings.ssl
    assert settings.ssl_ca_certs is None, "Azure uses public CAs"
    assert settings.password is not None
    assert settings.password.get_secret_value() == FAKE_PRIMARY_KEY
    url = RedisSettings.from_env({"ARAGORA_REDIS_URL": env["ARAGORA_REDIS_URL"]})
    assert (url.host, url.port, url.ssl) == (HOST, 10000, True)


def test_oss_cluster_policy_gives_cluster_mode() -> None:
    run = run_azure(changed(STACK, managed(clusteringPolicy="OSSCluster")), STACK)
    assert run.error is None, repr(run.error)
    assert database(run).inputs["clusteringPolicy"] == "OSSCluster"
    settings = RedisSettings.from_env(run.outputs[ENV_MAP_OUTPUT].value)
    assert settings.mode == "cluster"
    assert [(n.host, n.port) for n in settings.cluster_nodes] == [(HOST, 10000)]


def test_the_database_waits_until_the_new_cluster_is_running() -> None:
    mocks = AzureMocks(cluster_states=("Creating", "Creating", "Updating"))
    run = run_azure(changed(STACK, managed(readyPollSeconds=0)), STACK, mocks)
    assert run.error is None, repr(run.error)
    polls = [args for token, args in mocks.invokes if token == GET_REDIS_ENTERPRISE]
    assert len(polls) == 3, "asked until Running"
    assert polls[0] == {
        "clusterName": "contoso-aragora-prod-amr",
        "resourceGroupName": "rg-aragora-prod",
    }
    assert database(run).inputs["clusterName"] == "contoso-aragora-prod-amr"


def test_a_cluster_that_fails_stops_the_run_before_its_database() -> None:
    mocks = AzureMocks(cluster_states=("Creating", "Failed"))
    run = run_azure(changed(STACK, managed(readyPollSeconds=0)), STACK, mocks)
    assert "resourceState Failed" in repr(run.error)
    assert not run.of_type(DATABASE)


def test_enterprise_cluster_policy_stays_standalone_on_a_large_sku() -> None:
    changes = managed(clusteringPolicy="EnterpriseCluster", sku="Balanced_B50")
    run = run_azure(changed(STACK, changes), STACK)
    assert run.error is None, repr(run.error)
    assert database(run).inputs["clusteringPolicy"] == "EnterpriseCluster"
    env = run.outputs[ENV_MAP_OUTPUT].value
    # The proxy looks like one unsharded server but refuses scripts across slots.
    assert env["ARAGORA_REDIS_SHARDED"] == "true"
    assert RedisSettings.from_env(env).mode == "standalone"
    assert RedisSettings.from_env(env).sharded


@pytest.mark.parametrize("sku", ["Balanced_B0", "Balanced_B20", "MemoryOptimized_M20",
                                 "ComputeOptimized_X20"])  # fmt: skip
def test_no_cluster_is_the_default_up_to_25_gb(sku: str) -> None:
    run = run_azure(changed(STACK, managed(clusteringPolicy=None, sku=sku)), STACK)
    assert run.error is None, repr(run.error)
    assert database(run).inputs["clusteringPolicy"] == "NoCluster"
    assert "ARAGORA_REDIS_SHARDED" not in run.outputs[ENV_MAP_OUTPUT].value


def test_staging_may_turn_high_availability_off_and_skip_key_vault() -> None:
    changes = {"environment": "staging", **managed(highAvailability=False, keyVault=None)}
    run = run_azure(changed(STACK, changes), "staging-azure-managed")
    assert run.error is None, repr(run.error)
    assert cluster(run).inputs["highAvailability"] == "Disabled"
    assert not run.of_type("azure-native:keyvault:Secret")


def test_dev_defaults_are_small_unprotected_and_unlocked() -> None:
    config = changed(STACK, {"environment": "dev", **managed(sku=None, rdbPersistence=None)})
    run = run_azure(config, "dev-azure-managed")
    assert run.error is None, repr(run.error)
    assert cluster(run).inputs["sku"] == {"name": "Balanced_B1"}
    assert cluster(run).inputs["highAvailability"] == "Enabled"
    assert "persistence" not in database(run).inputs
    assert not any(r.protect for r in run.resources)
    assert not run.of_type("azure-native:authorization:ManagementLockByScope")


ERRORS = [
    ("public access in prod", managed(publicNetworkAccess=True),
     "aragora-redis:azure-managed.publicNetworkAccess", ("True", "false in prod")),
    ("TLS 1.0", managed(minimumTlsVersion="1.0"),
     "aragora-redis:azure-managed.minimumTlsVersion", ("'1.0'", "1.2")),
    ("TLS off", {"tls": "false"}, "aragora-redis:tls", ("False", "true")),
    ("generic global name in prod", {"name": None},
     "aragora-redis:name", ("'aragora-prod'", "NameNotAvailable")),
    ("HA off in prod", managed(highAvailability=False),
     "aragora-redis:azure-managed.highAvailability", ("False", "true in prod")),
    ("retiring Enterprise SKU", managed(sku="Enterprise_E10"),
     "aragora-redis:azure-managed.sku", ("'Enterprise_E10'", "2027-03-31")),
    ("unknown clustering policy", managed(clusteringPolicy="Sharded"),
     "aragora-redis:azure-managed.clusteringPolicy", ("'Sharded'", "NoCluster")),
    ("NoCluster above 25 GB", managed(sku="Balanced_B50"),
     "aragora-redis:azure-managed.clusteringPolicy", ("'NoCluster'", "25 GB or less")),
    ("NoCluster on Flash", managed(sku="FlashOptimized_A250", clusteringPolicy="NoCluster"),
     "aragora-redis:azure-managed.clusteringPolicy", ("'NoCluster'", "OSSCluster")),
    ("a short readiness wait", managed(readyTimeoutSeconds=5),
     "aragora-redis:azure-managed.readyTimeoutSeconds", ("got 5", "60 seconds or more")),
    ("a zone list", managed(zones=["1", "2", "3"]),
     "aragora-redis:azure-managed.zones", ("['1', '2', '3']", "refuses zones")),
    ("RDB every minute", managed(rdbPersistence="1m"),
     "aragora-redis:azure-managed.rdbPersistence", ("'1m'", "'1h'")),
]  # fmt: skip


CASES = [Case(*error) for error in ERRORS]


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_invalid_config_gives_a_named_error_before_any_resource(case: Case) -> None:
    case.check(run_azure(changed(STACK, case.changes), STACK), outputs=False)
