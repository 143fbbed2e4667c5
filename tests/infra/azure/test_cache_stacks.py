"""The ``azure`` backend (Azure Cache for Redis): the prod stack file evaluates under mocks,
every secure and HA default holds, the access key is secret everywhere, and bad configs
give named errors before any resource is declared."""

from __future__ import annotations

from typing import Any

import pytest

from aragora_redis import RedisSettings
from infra.outputs import ENV_MAP_OUTPUT

from ..azure_mocks import (
    FAKE_PRIMARY_KEY,
    PRINCIPAL_ID,
    AzureMocks,
    key_in_clear,
    run_azure,
)
from ..harness import Declared, Run, Secret, case_ids, evaluated, misflagged_outputs
from ..harness import ErrorCase as Case
from ..stack_config import changed, stack_file

STACK = "prod-azure"
COMPONENT = "aragora-redis:azure:AzureCacheRedis"
CACHE = "azure-native:redis:Redis"
ZONE = "azure-native:privatedns:PrivateZone"
PE = "azure-native:network:PrivateEndpoint"
ALERT = "azure-native:monitor:MetricAlert"
LOCK = "azure-native:authorization:ManagementLockByScope"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE = "azure-native:authorization:RoleAssignment"


@pytest.fixture(scope="module")
def prod() -> Run:
    return evaluated(run_azure(stack_file(STACK), STACK))


def azure(**changes: Any) -> dict[str, Any]:
    """Changes to keys of the ``aragora-redis:azure`` section (``None`` deletes)."""
    return {f"azure.{k}": v for k, v in changes.items()}


def cache(run: Run) -> Declared:
    return run.one(CACHE)


def test_every_resource_is_a_descendant_of_the_component(prod: Run) -> None:
    outside = prod.not_under(COMPONENT)
    assert outside == [], f"outside the component: {outside}"


def test_premium_across_three_zones_with_a_replica_per_extra_zone(prod: Run) -> None:
    c = cache(prod)
    assert c.inputs["sku"] == {"name": "Premium", "family": "P", "capacity": 1}, f"{c}"
    assert c.inputs["zones"] == ["1", "2", "3"], f"{c}"
    assert c.inputs["replicasPerPrimary"] >= 2, f"{c}"


def test_tls_only_and_private_only(prod: Run) -> None:
    c = cache(prod)
    assert c.inputs["enableNonSslPort"] is False, f"{c}: non-TLS port on"
    assert c.inputs["minimumTlsVersion"] == "1.2", f"{c}"
    assert c.inputs["publicNetworkAccess"] == "Disabled", f"{c}"
    assert c.inputs["disableAccessKeyAuthentication"] is False, f"{c}: the client needs the key"


def test_maxmemory_policy_and_patch_schedule(prod: Run) -> None:
    assert cache(prod).inputs["redisConfiguration"]["maxmemoryPolicy"] == "volatile-ttl"
    schedule = prod.one("azure-native:redis:PatchSchedule")
    assert schedule.inputs["name"] == cache(prod).inputs["name"]
    assert schedule.inputs["scheduleEntries"] == [
        {"dayOfWeek": "Sunday", "startHourUtc": 4, "maintenanceWindow": "PT5H"}
    ]


def test_private_endpoint_with_its_dns_zone_link_and_zone_group(prod: Run) -> None:
    subnet = stack_file(STACK)["aragora-redis:azure"]["privateEndpointSubnetId"]
    pe = prod.one(PE)
    assert pe.inputs["subnet"]["id"] == subnet, f"{pe}"
    (connection,) = pe.inputs["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["redisCache"]
    assert connection["privateLinkServiceId"].endswith("/contoso-aragora-prod")
    zone = prod.one(ZONE)
    assert zone.inputs["privateZoneName"] == "privatelink.redis.cache.windows.net"
    link = prod.one("azure-native:privatedns:VirtualNetworkLink")
    assert link.inputs["virtualNetwork"] == {"id": subnet.rsplit("/subnets/", 1)[0]}
    assert link.inputs["registrationEnabled"] is False
    group = prod.one("azure-native:network:PrivateDnsZoneGroup")
    (config,) = group.inputs["privateDnsZoneConfigs"]
    assert config["privateDnsZoneId"].endswith("/privatelink.redis.cache.windows.net")
    assert group.inputs["privateEndpointName"].startswith("contoso-aragora-prod-pe")


def test_rdb_backups_are_written_by_an_identity_that_holds_its_role_first(prod: Run) -> None:
    rdb = stack_file(STACK)["aragora-redis:azure"]["rdbBackup"]
    c = cache(prod)
    identity = prod.one(IDENTITY)
    assert identity.inputs["resourceName"] == "contoso-aragora-prod-redis-backup"
    # Only this identity: Azure would prefer a system-assigned one for persistence.
    assert c.inputs["identity"]["type"] == "UserAssigned", f"{c}"
    (used,) = c.inputs["identity"]["userAssignedIdentities"]
    assert used.endswith("/contoso-aragora-prod-redis-backup"), used
    config = c.inputs["redisConfiguration"]
    assert config["rdbBackupEnabled"] == "true"
    assert config["rdbBackupFrequency"] == str(rdb["frequencyMinutes"])
    assert config["preferredDataPersistenceAuthMethod"] == "ManagedIdentity"
    assert config["rdbStorageConnectionString"] == (
        "BlobEndpoint=https://stararagoraredisprod.blob.core.windows.net"
    ), "no account key in the connection string"
    role = prod.one("azure-native:authorization:RoleAssignment")
    assert role.inputs["scope"] == rdb["storageAccountId"]
    assert role.inputs["principalId"] == PRINCIPAL_ID
    assert role.inputs["roleDefinitionId"].endswith("/ba92f5b4-2d11-453d-a403-e96b0029c9fe")


EXISTING_ZONE = (
    "/subscriptions/3f2b8c1d-6a4e-4f70-9b2c-1d8e7f6a5b40/resourceGroups/rg-aragora-network"
    "/providers/Microsoft.Network/privateDnsZones/privatelink.redis.cache.windows.net"
)


def test_an_existing_private_dns_zone_is_used_by_id_without_a_new_zone_or_link() -> None:
    run = run_azure(changed(STACK, azure(privateDnsZoneId=EXISTING_ZONE)), STACK)
    assert run.error is None, repr(run.error)
    assert not run.of_type(ZONE)
    assert not run.of_type("azure-native:privatedns:VirtualNetworkLink")
    group = run.one("azure-native:network:PrivateDnsZoneGroup")
    (config,) = group.inputs["privateDnsZoneConfigs"]
    assert config == {
        "name": "privatelink.redis.cache.windows.net",
        "privateDnsZoneId": EXISTING_ZONE,
    }


def test_identity_then_role_then_the_cache_with_persistence() -> None:
    mocks = AzureMocks()
    run = run_azure(stack_file(STACK), STACK, mocks)
    assert run.error is None, repr(run.error)
    order = [t for t in mocks.created if t in (IDENTITY, ROLE, CACHE)]
    assert order == [IDENTITY, ROLE, CACHE], "Microsoft's order: identity, role, persistence"
    # The lock also blocks deleting the endpoint's connection: it comes after the endpoint.
    assert mocks.created.index(PE) < mocks.created.index(LOCK)


def test_no_backup_no_identity() -> None:
    run = run_azure(changed(STACK, azure(rdbBackup=None)), STACK)
    assert run.error is None, repr(run.error)
    assert "identity" not in cache(run).inputs
    assert "rdbBackupEnabled" not in cache(run).inputs["redisConfiguration"]
    assert not run.of_type("azure-native:authorization:RoleAssignment")
    assert not run.of_type(IDENTITY)


def test_prod_is_protected_and_locked(prod: Run) -> None:
    assert cache(prod).protect, "prod cache not protected"
    lock = prod.one(LOCK)
    assert lock.inputs["level"] == "CanNotDelete"
    assert lock.inputs["scope"].endswith("/contoso-aragora-prod")


def test_three_alerts_to_the_action_group(prod: Run) -> None:
    group = stack_file(STACK)["aragora-redis:azure"]["alertActionGroupId"]
    alerts = prod.of_type(ALERT)
    metrics = {a.inputs["criteria"]["allOf"][0]["metricName"] for a in alerts}
    assert metrics == {"usedmemorypercentage", "serverLoad", "errors"}
    for alert in alerts:
        assert alert.inputs["actions"] == [{"actionGroupId": group}], f"{alert}"
        assert alert.inputs["criteria"]["allOf"][0]["metricNamespace"] == "Microsoft.Cache/redis"
    load = next(a for a in alerts if a.name.endswith("server-load"))
    assert load.inputs["criteria"]["allOf"][0]["threshold"] == 75


def test_the_access_key_is_secret_everywhere(prod: Run) -> None:
    for resource in prod.resources:
        assert not key_in_clear(resource.inputs), f"{resource}: key in clear"
    for name, output in prod.outputs.items():
        if key_in_clear(output.value):
            assert output.secret, f"output {name} holds the key but is not secret"
    secret = prod.one("azure-native:keyvault:Secret")
    assert isinstance(secret.inputs["properties"], Secret), f"{secret}: env map in clear"
    assert secret.inputs["secretName"] == "contoso-aragora-prod-env", "not this stack's own"


def test_credential_outputs_are_secret_and_the_rest_are_not(prod: Run) -> None:
    assert misflagged_outputs(prod) == []


def test_outputs_round_trip_through_the_client(prod: Run) -> None:
    env = prod.outputs[ENV_MAP_OUTPUT].value
    settings = RedisSettings.from_env(env)
    assert settings.mode == "standalone"
    assert (settings.host, settings.port) == ("contoso-aragora-prod.redis.cache.windows.net", 6380)
    assert settings.ssl
    assert settings.ssl_ca_certs is None, "Azure uses public CAs"
    assert settings.password is not None
    assert settings.password.get_secret_value() == FAKE_PRIMARY_KEY
    assert env["ARAGORA_REDIS_URL"].startswith("rediss://")
    assert RedisSettings.from_env({"ARAGORA_REDIS_URL": env["ARAGORA_REDIS_URL"]}).port == 6380
    for name, value in env.items():
        assert prod.outputs[name].value == value


def test_dev_may_use_standard_without_zones_protection_or_lock() -> None:
    standard = azure(sku="Standard", zones=None, replicasPerPrimary=None, rdbBackup=None)
    config = changed(STACK, {"environment": "dev", **standard})
    run = run_azure(config, "dev-azure")
    assert run.error is None, repr(run.error)
    c = cache(run)
    assert c.inputs["sku"] == {"name": "Standard", "family": "C", "capacity": 1}
    assert "zones" not in c.inputs
    assert "replicasPerPrimary" not in c.inputs
    assert not any(r.protect for r in run.resources)
    assert not run.of_type(LOCK)


def test_staging_may_open_public_access_and_skip_key_vault() -> None:
    changes = {"environment": "staging", **azure(publicNetworkAccess=True, keyVault=None)}
    run = run_azure(changed(STACK, changes), "staging-azure")
    assert run.error is None, repr(run.error)
    assert cache(run).inputs["publicNetworkAccess"] == "Enabled"
    assert run.of_type(PE), "the private endpoint stays"
    assert not run.of_type("azure-native:keyvault:Secret")


def test_premium_clustering_gives_cluster_mode() -> None:
    run = run_azure(changed(STACK, azure(shardCount=2)), STACK)
    assert run.error is None, repr(run.error)
    assert cache(run).inputs["shardCount"] == 2
    settings = RedisSettings.from_env(run.outputs[ENV_MAP_OUTPUT].value)
    assert settings.mode == "cluster"
    assert [(n.host, n.port) for n in settings.cluster_nodes] == [
        ("contoso-aragora-prod.redis.cache.windows.net", 6380)
    ]


def test_entra_id_keeps_access_keys_for_the_client() -> None:
    run = run_azure(changed(STACK, azure(entraId=True)), STACK)
    assert run.error is None, repr(run.error)
    assert cache(run).inputs["redisConfiguration"]["aadEnabled"] == "true"
    assert cache(run).inputs["disableAccessKeyAuthentication"] is False


def test_prod_without_an_action_group_warns() -> None:
    run = run_azure(changed(STACK, azure(alertActionGroupId=None)), STACK)
    assert run.error is None, repr(run.error)
    assert any("alertActionGroupId" in w for w in run.warnings), run.warnings
    assert all(a.inputs.get("actions", []) == [] for a in run.of_type(ALERT))


ERRORS = [
    ("Basic SKU in prod", {"environment": "prod", **azure(sku="Basic", zones=None,
                                                         replicasPerPrimary=None)},
     "aragora-redis:azure.sku", ("'Basic'", "Premium in prod")),
    ("Standard SKU in prod", azure(sku="Standard", zones=None, replicasPerPrimary=None),
     "aragora-redis:azure.sku", ("'Standard'", "Premium in prod")),
    ("public access in prod", azure(publicNetworkAccess=True),
     "aragora-redis:azure.publicNetworkAccess", ("True", "false in prod")),
    ("TLS 1.0", azure(minimumTlsVersion="1.0"),
     "aragora-redis:azure.minimumTlsVersion", ("'1.0'", "1.2")),
    ("TLS off", {"tls": "false"}, "aragora-redis:tls", ("False", "true")),
    ("the managed zone for a cache", azure(privateDnsZoneId=EXISTING_ZONE.replace(
        "redis.cache.windows.net", "redis.azure.net")),
     "aragora-redis:azure.privateDnsZoneId", ("privatelink.redis.azure.net'",
                                              "a zone named privatelink.redis.cache.windows.net")),
    ("a zone id that is no id", azure(privateDnsZoneId="privatelink.redis.cache.windows.net"),
     "aragora-redis:azure.privateDnsZoneId", ("'privatelink", "a private DNS zone id")),
    ("generic global name in prod", {"name": None},
     "aragora-redis:name", ("'aragora-prod'", "NameNotAvailable")),
    ("one replica for three zones", azure(replicasPerPrimary=1),
     "aragora-redis:azure.replicasPerPrimary", ("got 1", "2 to 3")),
    ("no zones in prod", azure(zones=[]), "aragora-redis:azure.zones", ("got []", "2 or 3")),
    ("zone 4", azure(zones=["1", "4"]), "aragora-redis:azure.zones", ("'4'", "1, 2 and 3")),
    ("bad subnet id", azure(privateEndpointSubnetId="snet-data"),
     "aragora-redis:azure.privateEndpointSubnetId", ("'snet-data'", "a subnet id")),
    ("P6", azure(capacity=6), "aragora-redis:azure.capacity", ("got 6", "1 to 5")),
    ("RDB every 5 minutes", {"azure.rdbBackup.frequencyMinutes": 5},
     "aragora-redis:azure.rdbBackup.frequencyMinutes", ("got 5", "15")),
    ("RDB on Standard", {"environment": "staging", **azure(sku="Standard", zones=None,
                                                           replicasPerPrimary=None)},
     "aragora-redis:azure.rdbBackup", ("stararagoraredisprod", "only sku Premium")),
    ("unknown key", azure(sslPort=6379), "aragora-redis:azure", ("sslPort", "only these keys")),
]  # fmt: skip


CASES = [Case(*error) for error in ERRORS]


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_invalid_config_gives_a_named_error_before_any_resource(case: Case) -> None:
    case.check(run_azure(changed(STACK, case.changes), STACK), outputs=False)
