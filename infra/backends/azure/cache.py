"""The ``azure`` backend: Azure Cache for Redis (Premium, zone-redundant, private endpoint).

Azure retires Azure Cache for Redis (Basic/Standard/Premium) on 2028-09-30;
``azure-managed`` (:mod:`infra.backends.azure.managed`) is its successor. The
cache listens on TLS port 6380 only, takes TLS 1.2 at least, and is reached
through a private endpoint. Its host name follows failovers, so the contract
mode is ``standalone`` (or ``cluster`` with Premium clustering). The access key
is read with ``listRedisKeys`` and is only ever a secret output. Azure's
certificates chain to public CAs, so no CA bundle is exported.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, managedidentity, redis

from ...endpoint import RedisEndpoint
from ...outputs import contract_env
from ...settings import StackConfig
from ..common import BackendComponent, CloudArgs, Outputs, primary_or_cluster, warn_unnotified
from .common import CACHE, Site, publish_env, surround
from .settings import AzureSettings, RdbBackup

TLS_PORT = 6380
#: The built-in role that lets the cache's identity write RDB snapshots.
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@dataclass(frozen=True)
class AzureCacheRedisArgs(CloudArgs[AzureSettings]):
    """What :class:`AzureCacheRedis` builds from (see :class:`CloudArgs`).

    ``protect`` also adds a CanNotDelete lock (prod); ``client`` is rendered into
    the Key Vault secret when ``keyVault`` is set.
    """


class AzureCacheRedis(BackendComponent[AzureCacheRedisArgs]):
    """An Azure Cache for Redis with its private endpoint, alerts, lock and schedule."""

    TYPE = "aragora-redis:azure:AzureCacheRedis"
    cache: redis.Redis

    def _declare(self, name: str, args: AzureCacheRedisArgs) -> Outputs:
        s, tags = args.settings, args.tags
        site = Site(name, s, tags, self)
        premium = s.sku == "Premium"
        rdb = s.rdb_backup
        backup = _backup_writer(site, rdb) if rdb is not None else None
        cache = redis.Redis(
            name,
            name=name,
            resource_group_name=s.resource_group_name,
            location=s.location,
            sku=redis.SkuArgs(name=s.sku, family=s.sku_family, capacity=s.capacity),
            redis_version=s.redis_version,
            enable_non_ssl_port=False,
            minimum_tls_version=s.minimum_tls_version,
            public_network_access="Enabled" if s.public_network_access else "Disabled",
            zones=list(s.zones) if premium and s.zones else None,
            replicas_per_primary=s.replicas if premium else None,
            shard_count=s.shard_count,
            # The client authenticates with the access key, so keys stay on even with Entra ID.
            disable_access_key_authentication=False,
            identity=(
                redis.ManagedServiceIdentityArgs(
                    type="UserAssigned", user_assigned_identities=[backup.identity.id]
                )
                if backup
                else None
            ),
            redis_configuration=_configuration(s),
            update_channel="Stable",
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # Persistence is configured at creation: the identity must hold its role by then.
                depends_on=[backup.role] if backup else None,
            ),
        )
        redis.PatchSchedule(
            f"{name}-patches",
            name=cache.name,
            resource_group_name=s.resource_group_name,
            default="default",
            schedule_entries=[
                redis.ScheduleEntryArgs(
                    day_of_week=redis.DayOfWeek(s.patch_day),
                    start_hour_utc=s.patch_start_hour_utc,
                    maintenance_window=f"PT{s.patch_window_hours}H",
                )
            ],
            opts=pulumi.ResourceOptions(parent=cache),
        )
        surround(site, cache.id, CACHE, protect=args.protect)
        keys = redis.list_redis_keys_output(
            name=cache.name,
            resource_group_name=s.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        password: pulumi.Output[str] = pulumi.Output.secret(keys.primary_key)
        self.cache = cache
        self.endpoint = _endpoint(cache, s, password)
        publish_env(site, contract_env(self.endpoint, args.client))
        return {"cacheId": cache.id, "host": self.endpoint.host, "port": self.endpoint.port}


def _configuration(s: AzureSettings) -> redis.RedisCommonPropertiesRedisConfigurationArgs:
    rdb = s.rdb_backup
    return redis.RedisCommonPropertiesRedisConfigurationArgs(
        maxmemory_policy=s.maxmemory_policy,
        aad_enabled="true" if s.entra_id else None,
        rdb_backup_enabled="true" if rdb else None,
        rdb_backup_frequency=str(rdb.frequency_minutes) if rdb else None,
        rdb_backup_max_snapshot_count=str(rdb.max_snapshot_count) if rdb else None,
        # No account key: the cache's managed identity writes the snapshots.
        rdb_storage_connection_string=rdb.blob_endpoint if rdb else None,
        preferred_data_persistence_auth_method="ManagedIdentity" if rdb else None,
        storage_subscription_id=rdb.subscription_id if rdb else None,
    )


@dataclass(frozen=True)
class BackupWriter:
    """The identity that writes RDB snapshots and its role on the storage account."""

    identity: managedidentity.UserAssignedIdentity
    role: authorization.RoleAssignment


def _backup_writer(site: Site, rdb: RdbBackup) -> BackupWriter:
    """Identity, then its Storage Blob Data Contributor role, both before the cache exists.

    Microsoft's order for persistence through a managed identity is identity, role,
    then persistence; a system-assigned identity only exists once the cache does, so
    the cache would be created with persistence before its identity may write.
    """
    name, s = site.name, site.settings
    identity = managedidentity.UserAssignedIdentity(
        f"{name}-backup-identity",
        # The SDK's keyword for the identity's name: resource_name is the logical name.
        resource_name_=f"{name}-redis-backup",
        resource_group_name=s.resource_group_name,
        location=s.location,
        tags=site.tags,
        opts=pulumi.ResourceOptions(parent=site.parent),
    )
    role = authorization.RoleAssignment(
        f"{name}-backup-writer",
        scope=rdb.storage_account_id,
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=(
            f"/subscriptions/{rdb.subscription_id}/providers/Microsoft.Authorization"
            f"/roleDefinitions/{STORAGE_BLOB_DATA_CONTRIBUTOR}"
        ),
        description=f"RDB snapshots of {name}",
        opts=pulumi.ResourceOptions(parent=identity),
    )
    return BackupWriter(identity, role)


def _endpoint(cache: redis.Redis, s: AzureSettings, password: pulumi.Output[str]) -> RedisEndpoint:
    port = cache.ssl_port.apply(lambda p: p or TLS_PORT)
    return primary_or_cluster(cache.host_name, port, password, cluster=s.shard_count is not None)


def deploy(config: StackConfig, settings: AzureSettings) -> RedisEndpoint:
    """Declare the :class:`AzureCacheRedis` of the stack."""
    warn_unnotified(config, "azure", "alertActionGroupId", settings.alert_action_group_id, "alerts")
    args = AzureCacheRedisArgs.of(config, settings)
    return AzureCacheRedis(config.stack.name, args).endpoint
