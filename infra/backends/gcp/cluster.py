"""The GCP backend's ``cluster`` option: Memorystore for Redis Cluster or for Valkey.

Shards with at least one replica each, spread over zones (``MULTI_ZONE``), TLS
with ``SERVER_AUTHENTICATION``, IAM authentication (there is no AUTH string:
clients send an IAM access token, see :mod:`aragora_redis.iam`), reachable
only through Private Service Connect in the stack's VPC (with the service
connection policy that lets Memorystore create its endpoints), RDB
persistence, a weekly maintenance window, an optional customer-managed key,
deletion protection, a memory alert, and optionally the DB connection role
for the clients' principals. The contract's mode is ``cluster`` on
the discovery endpoint, ``ARAGORA_REDIS_AUTH=gcp-iam``, and the CA bundle holds
every certificate of the managed server CAs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from aragora_redis import HostPort

from ...endpoint import RedisEndpoint
from ...outputs import contract_env
from ..common import BackendComponent, Outputs
from .cluster_settings import GcpCluster
from .cluster_values import ca_bundle, redis_discovery, valkey_discovery
from .common import GcpRedisArgs, maintenance_policy, publish_env
from .kms import MEMORYSTORE_AGENT, REDIS_AGENT, key_access
from .monitoring import Alert, threshold_policy
from .settings import GcpSettings


@dataclass(frozen=True)
class MemoryMetric:
    """Where Cloud Monitoring keeps an engine's memory usage (0 to 1)."""

    resource_type: str
    id_label: str
    metric: str


MEMORY: dict[str, MemoryMetric] = {
    "redis": MemoryMetric(
        "redis.googleapis.com/Cluster",
        "cluster_id",
        "redis.googleapis.com/cluster/memory/maximum_utilization",
    ),
    "valkey": MemoryMetric(
        "memorystore.googleapis.com/Instance",
        "instance_id",
        "memorystore.googleapis.com/instance/memory/maximum_utilization",
    ),
}


class GcpClusterRedis(BackendComponent[GcpRedisArgs]):
    """A sharded, highly available Memorystore (Redis Cluster or Valkey) with IAM auth over PSC.

    ``endpoint`` is the shared :class:`RedisEndpoint` (mode ``cluster``, auth
    ``gcp-iam``); ``cluster`` is the Memorystore resource.
    """

    TYPE = "aragora-redis:gcp:GcpClusterRedis"
    cluster: gcp.redis.Cluster | gcp.memorystore.Instance

    def _declare(self, name: str, args: GcpRedisArgs) -> Outputs:
        s = args.settings
        c = s.cluster
        if c is None:
            raise TypeError("GcpClusterRedis needs settings with cluster")
        after: list[pulumi.Resource] = []
        if c.create_service_connection_policy:
            after.append(_connection_policy(name, s, c, args.labels, self))
        agent = REDIS_AGENT if c.engine == "redis" else MEMORYSTORE_AGENT
        after += key_access(name, s, agent, self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=after)
        discovery: pulumi.Output[HostPort]
        if c.engine == "redis":
            shared = _shared(s, c, args.labels, REDIS_SDK, stateful)
            redis_cluster = _redis_cluster(name, s, shared)
            discovery = redis_cluster.discovery_endpoints.apply(redis_discovery)
            ca_pem = redis_cluster.managed_server_cas.apply(ca_bundle)
            self.cluster = redis_cluster
        else:
            shared = _shared(s, c, args.labels, VALKEY_SDK, stateful)
            valkey = _valkey_instance(name, s, c.valkey_version, shared)
            discovery = valkey.endpoints.apply(valkey_discovery)
            ca_pem = valkey.managed_server_cas.apply(ca_bundle)
            self.cluster = valkey
        _memory_alert(name, c, s, args.labels, self)
        for member in c.connection_members:
            gcp.projects.IAMMember(
                # Named by the member, not its position: reordering the list replaces nothing.
                f"{name}-connect-{re.sub(r'[^a-z0-9]+', '-', member.lower())}",
                project=s.project,
                role=c.connection_role,
                member=member,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.endpoint = RedisEndpoint(
            "cluster",
            discovery.apply(lambda node: node.host),
            discovery.apply(lambda node: node.port),
            tls=True,
            cluster_nodes=discovery.apply(lambda node: [node]),
            ca_pem=ca_pem,
            auth="gcp-iam",
        )
        if s.secret_id is not None:
            publish_env(self, name, s.secret_id, contract_env(self.endpoint, args.client), args)
        return {
            "clusterId": self.cluster.id,
            "host": self.endpoint.host,
            "port": self.endpoint.port,
        }


def network_project(s: GcpSettings) -> str:
    """The project that owns the VPC (``projects/<p>/global/networks/<n>``)."""
    return s.network.split("/")[1]


def _connection_policy(
    name: str, s: GcpSettings, c: GcpCluster, labels: dict[str, str], parent: pulumi.Resource
) -> gcp.networkconnectivity.ServiceConnectionPolicy:
    return gcp.networkconnectivity.ServiceConnectionPolicy(
        f"{name}-psc",
        name=f"{name}-{c.engine}-psc",
        project=network_project(s),
        location=s.region,
        service_class=c.service_class,
        network=s.network,
        description=f"Private Service Connect for the Memorystore {c.engine} cluster {name}",
        psc_config=gcp.networkconnectivity.ServiceConnectionPolicyPscConfigArgs(
            subnetworks=[c.subnetwork] if c.subnetwork else []
        ),
        labels=labels,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _shared(
    s: GcpSettings,
    c: GcpCluster,
    labels: dict[str, str],
    sdk: ClusterSdk,
    opts: pulumi.ResourceOptions,
) -> dict[str, Any]:
    """The arguments Redis Cluster and the Valkey instance take alike, from ``sdk``'s classes."""
    return {
        "project": s.project,
        "shard_count": c.shard_count,
        "replica_count": c.replicas_per_shard,
        "node_type": c.memorystore_node_type,
        "zone_distribution_config": sdk.zones(mode="MULTI_ZONE"),
        "persistence_config": sdk.persistence(
            mode="RDB", rdb_config=sdk.rdb(rdb_snapshot_period=s.snapshot_period)
        ),
        "maintenance_policy": maintenance_policy(s, *sdk.maintenance),
        "kms_key": s.customer_managed_key,
        "deletion_protection_enabled": c.deletion_protection,
        "labels": labels,
        "authorization_mode": sdk.modes[0],
        "transit_encryption_mode": sdk.modes[1],
        "opts": opts,
    }


@dataclass(frozen=True)
class ClusterSdk:
    """One SDK's argument classes for what both cluster flavours configure."""

    zones: Callable[..., Any]
    persistence: Callable[..., Any]
    rdb: Callable[..., Any]
    #: The maintenance policy, its weekly window and the window's start time.
    maintenance: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]
    #: How the API spells IAM authentication and server-authenticated TLS.
    modes: tuple[str, str]


REDIS_SDK = ClusterSdk(
    gcp.redis.ClusterZoneDistributionConfigArgs,
    gcp.redis.ClusterPersistenceConfigArgs,
    gcp.redis.ClusterPersistenceConfigRdbConfigArgs,
    (
        gcp.redis.ClusterMaintenancePolicyArgs,
        gcp.redis.ClusterMaintenancePolicyWeeklyMaintenanceWindowArgs,
        gcp.redis.ClusterMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs,
    ),
    ("AUTH_MODE_IAM_AUTH", "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"),
)
VALKEY_SDK = ClusterSdk(
    gcp.memorystore.InstanceZoneDistributionConfigArgs,
    gcp.memorystore.InstancePersistenceConfigArgs,
    gcp.memorystore.InstancePersistenceConfigRdbConfigArgs,
    (
        gcp.memorystore.InstanceMaintenancePolicyArgs,
        gcp.memorystore.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs,
        gcp.memorystore.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs,
    ),
    ("IAM_AUTH", "SERVER_AUTHENTICATION"),
)


def _redis_cluster(name: str, s: GcpSettings, shared: dict[str, Any]) -> gcp.redis.Cluster:
    return gcp.redis.Cluster(
        name,
        name=name,
        region=s.region,
        psc_configs=[gcp.redis.ClusterPscConfigArgs(network=s.network)],
        redis_configs=s.redis_configs,
        **shared,
    )


def _valkey_instance(
    name: str, s: GcpSettings, version: str | None, shared: dict[str, Any]
) -> gcp.memorystore.Instance:
    return gcp.memorystore.Instance(
        name,
        instance_id=name,
        location=s.region,
        mode="CLUSTER",
        engine_version=version,
        desired_auto_created_endpoints=[
            gcp.memorystore.InstanceDesiredAutoCreatedEndpointArgs(
                network=s.network, project_id=network_project(s)
            )
        ],
        engine_configs=s.redis_configs,
        **shared,
    )


def _memory_alert(
    name: str, c: GcpCluster, s: GcpSettings, labels: dict[str, str], parent: pulumi.Resource
) -> gcp.monitoring.AlertPolicy:
    m = MEMORY[c.engine]
    metric_filter = (
        f'resource.type = "{m.resource_type}" AND resource.labels.{m.id_label} = "{name}"'
        f' AND metric.type = "{m.metric}"'
    )
    return threshold_policy(
        f"{name}-memory",
        f"Redis {name}: memory usage above {s.alerts.memory_usage_ratio} on a node",
        pulumi.Output.from_input(metric_filter),
        threshold=s.alerts.memory_usage_ratio,
        duration=f"{s.alerts.duration_seconds}s",
        # The fullest node over a minute: eviction starts there.
        aggregations=[Alert(alignment_period="60s", per_series_aligner="ALIGN_MAX")],
        s=s,
        labels=labels,
        parent=parent,
    )
