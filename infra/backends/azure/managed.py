"""The ``azure-managed`` backend: Azure Managed Redis, the successor of Azure Cache for Redis.

A ``redisenterprise`` cluster (high availability on, TLS 1.2 at least, public
access disabled, a private endpoint in ``privatelink.redis.azure.net``) and its
one ``default`` database on TLS port 10000 with access-key authentication on
(the client logs in with the key, which is read with ``listDatabaseKeys`` and
is only ever a secret output). No ``zones``: the API refuses them for every
SKU, and a highly available cluster spreads over the region's zones itself.

The clustering policy decides the contract mode. ``NoCluster`` (the default,
SKUs of 25 GB or less) is one unsharded Redis: every command and script works,
so the mode is ``standalone``. ``EnterpriseCluster`` puts a proxy in front of
the shards: one endpoint, ``standalone`` too, but only DEL, MSET, MGET, EXISTS,
UNLINK and TOUCH may span hash slots, and the proxy reports no cluster mode, so
the contract says ``ARAGORA_REDIS_SHARDED=true`` (the client's rate limiter then
keeps each script call to one slot). ``OSSCluster`` exposes the shards to
cluster-aware clients, so the mode is ``cluster`` with the cluster host as the
seed node. Changing the policy recreates the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pulumi
from pulumi_azure_native import redisenterprise

from ...endpoint import RedisEndpoint
from ...outputs import contract_env
from ...settings import StackConfig
from ..common import BackendComponent, CloudArgs, Outputs, primary_or_cluster, warn_unnotified
from .common import MANAGED, Site, publish_env, surround
from .managed_ready import running_name
from .managed_settings import AzureManagedSettings

PORT = 10000
DATABASE = "default"
#: maxmemory-policy names as Azure Managed Redis spells them.
EVICTION_POLICIES: Mapping[str, str] = {
    "volatile-ttl": "VolatileTTL",
    "volatile-lru": "VolatileLRU",
    "volatile-lfu": "VolatileLFU",
    "volatile-random": "VolatileRandom",
    "allkeys-lru": "AllKeysLRU",
    "allkeys-lfu": "AllKeysLFU",
    "allkeys-random": "AllKeysRandom",
    "noeviction": "NoEviction",
}


@dataclass(frozen=True)
class AzureManagedRedisArgs(CloudArgs[AzureManagedSettings]):
    """What :class:`AzureManagedRedis` builds from (see :class:`CloudArgs`).

    ``protect`` guards the cluster and its database and adds a CanNotDelete lock
    (prod); ``client`` is rendered into the Key Vault secret when ``keyVault`` is set.
    """


class AzureManagedRedis(BackendComponent[AzureManagedRedisArgs]):
    """An Azure Managed Redis cluster, its database, private endpoint, alerts and lock."""

    TYPE = "aragora-redis:azure-managed:AzureManagedRedis"
    cluster: redisenterprise.RedisEnterprise
    database: redisenterprise.Database

    def _declare(self, name: str, args: AzureManagedRedisArgs) -> Outputs:
        s, tags = args.settings, args.tags
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        cluster = redisenterprise.RedisEnterprise(
            name,
            cluster_name=name,
            resource_group_name=s.resource_group_name,
            location=s.location,
            sku=redisenterprise.SkuArgs(name=s.sku),
            high_availability="Enabled" if s.high_availability else "Disabled",
            minimum_tls_version=s.minimum_tls_version,
            public_network_access="Enabled" if s.public_network_access else "Disabled",
            tags=tags,
            opts=stateful,
        )
        database = redisenterprise.Database(
            f"{name}-db",
            cluster_name=running_name(
                cluster,
                s.resource_group_name,
                timeout_seconds=s.ready_timeout_seconds,
                poll_seconds=s.ready_poll_seconds,
            ),
            database_name=DATABASE,
            resource_group_name=s.resource_group_name,
            client_protocol="Encrypted",
            port=PORT,
            clustering_policy=s.clustering_policy,
            eviction_policy=EVICTION_POLICIES[s.maxmemory_policy],
            # New databases default to Entra ID only; the client logs in with the key.
            access_keys_authentication="Enabled",
            persistence=(
                redisenterprise.PersistenceArgs(rdb_enabled=True, rdb_frequency=s.rdb_persistence)
                if s.rdb_persistence
                else None
            ),
            opts=stateful,
        )
        site = Site(name, s, tags, self)
        surround(site, cluster.id, MANAGED, protect=args.protect)
        keys = redisenterprise.list_database_keys_output(
            cluster_name=cluster.name,
            database_name=database.name,
            resource_group_name=s.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        password: pulumi.Output[str] = pulumi.Output.secret(keys.primary_key)
        self.cluster, self.database = cluster, database
        self.endpoint = _endpoint(cluster, database, s, password)
        publish_env(site, contract_env(self.endpoint, args.client))
        return {"clusterId": cluster.id, "host": self.endpoint.host, "port": self.endpoint.port}


def _endpoint(
    cluster: redisenterprise.RedisEnterprise,
    database: redisenterprise.Database,
    s: AzureManagedSettings,
    password: pulumi.Output[str],
) -> RedisEndpoint:
    port = database.port.apply(lambda p: p or PORT)
    cluster_mode = s.clustering_policy == "OSSCluster"
    endpoint = primary_or_cluster(cluster.host_name, port, password, cluster=cluster_mode)
    # The Enterprise proxy looks like one unsharded server (cluster_enabled:0) but
    # answers CROSSSLOT to a script whose keys span slots: the contract has to say so.
    return replace(endpoint, sharded=s.clustering_policy == "EnterpriseCluster")


def deploy(config: StackConfig, settings: AzureManagedSettings) -> RedisEndpoint:
    """Declare the :class:`AzureManagedRedis` of the stack."""
    warn_unnotified(
        config, "azure-managed", "alertActionGroupId", settings.alert_action_group_id, "alerts"
    )
    args = AzureManagedRedisArgs.of(config, settings)
    return AzureManagedRedis(config.stack.name, args).endpoint
