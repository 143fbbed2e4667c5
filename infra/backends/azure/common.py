"""What both Azure backends put around their Redis.

A private endpoint in the given subnet with its private DNS zone, the zone's
link to the subnet's virtual network and the endpoint's zone group (so the
service's public host name resolves to the private address inside the
network); metric alerts (used memory, server load, errors) to an optional
action group; a CanNotDelete lock in prod; and the optional Key Vault secret
holding the env map.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, keyvault, monitor, network, privatedns

from ..common import env_json
from .managed_settings import AzureManagedSettings
from .settings import AzureCommonSettings, AzureSettings
from .values import virtual_network_id


@dataclass(frozen=True)
class Service:
    """An Azure Redis service: its private link DNS zone and sub-resource, its metrics."""

    zone: str
    group_id: str
    metric_namespace: str


#: Azure Cache for Redis and Azure Managed Redis.
CACHE = Service(AzureSettings.PRIVATE_DNS_ZONE, "redisCache", "Microsoft.Cache/redis")
MANAGED = Service(
    AzureManagedSettings.PRIVATE_DNS_ZONE, "redisEnterprise", "Microsoft.Cache/redisEnterprise"
)


@dataclass(frozen=True)
class Site:
    """Where an Azure backend declares what surrounds its Redis.

    ``name`` (the stack's) prefixes every resource name, ``settings`` is the
    backend's section, ``tags`` go on every resource that takes tags, and
    ``parent`` is the backend's component.
    """

    name: str
    settings: AzureCommonSettings
    tags: dict[str, str]
    parent: pulumi.Resource


def surround(
    site: Site, target_id: pulumi.Output[str], service: Service, *, protect: bool
) -> network.PrivateEndpoint:
    """The private endpoint to ``target_id``, its metric alerts and, with ``protect``, its lock."""
    endpoint = private_endpoint(site, target_id, service)
    alerts(site, target_id, service.metric_namespace)
    if protect:
        delete_lock(site, target_id, endpoint)
    return endpoint


def private_endpoint(
    site: Site, target_id: pulumi.Output[str], service: Service
) -> network.PrivateEndpoint:
    """The private endpoint to ``target_id``, its DNS zone, the zone's VNet link and zone group.

    With ``privateDnsZoneId`` the existing zone is used (its link to the network is
    its owner's): a second zone of the same name linked to the same network fails.
    """
    name, s, tags, parent = site.name, site.settings, site.tags, site.parent
    zone_id = (
        pulumi.Output.from_input(s.private_dns_zone_id)
        if s.private_dns_zone_id
        else _zone_and_link(site, service)
    )
    endpoint = network.PrivateEndpoint(
        f"{name}-pe",
        resource_group_name=s.resource_group_name,
        location=s.location,
        subnet=network.SubnetArgs(id=s.private_endpoint_subnet_id),
        private_link_service_connections=[
            network.PrivateLinkServiceConnectionArgs(
                name=f"{name}-pe",
                private_link_service_id=target_id,
                group_ids=[service.group_id],
            )
        ],
        tags=tags,
        # Replaced only after the cache's delete lock is removed (docs/runbook.md): the old
        # endpoint must be gone before the lock, which waits for the new one, comes back.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )
    network.PrivateDnsZoneGroup(
        f"{name}-pe-dns",
        resource_group_name=s.resource_group_name,
        private_endpoint_name=endpoint.name,
        private_dns_zone_group_name="default",
        private_dns_zone_configs=[
            network.PrivateDnsZoneConfigArgs(name=service.zone, private_dns_zone_id=zone_id)
        ],
        opts=pulumi.ResourceOptions(parent=endpoint),
    )
    return endpoint


def _zone_and_link(site: Site, service: Service) -> pulumi.Output[str]:
    name, s, tags = site.name, site.settings, site.tags
    zone = privatedns.PrivateZone(
        f"{name}-dns",
        private_zone_name=service.zone,
        resource_group_name=s.resource_group_name,
        location="global",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=site.parent),
    )
    privatedns.VirtualNetworkLink(
        f"{name}-dns-link",
        private_zone_name=zone.name,
        resource_group_name=s.resource_group_name,
        location="global",
        virtual_network=privatedns.SubResourceArgs(
            id=virtual_network_id(s.private_endpoint_subnet_id)
        ),
        registration_enabled=False,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=zone),
    )
    return zone.id


@dataclass(frozen=True)
class AlertSpec:
    """One metric alert: the metric, how it is aggregated, and its threshold's key."""

    slug: str
    metric: str
    aggregation: str
    description: str


#: The metric alerts of both Azure backends (same metric names in both namespaces).
ALERTS = (
    AlertSpec("memory", "usedmemorypercentage", "Maximum",
              "used memory near maxmemory: evictions or write errors next"),
    AlertSpec("server-load", "serverLoad", "Maximum", "Redis server busy: latency rises"),
    AlertSpec("errors", "errors", "Total", "failed operations (failover, timeouts, OOM)"),
)  # fmt: skip


def alerts(site: Site, target_id: pulumi.Output[str], namespace: str) -> list[monitor.MetricAlert]:
    """The metric alerts on ``target_id``, notifying ``alertActionGroupId`` when set."""
    name, s = site.name, site.settings
    thresholds = {
        "memory": s.alerts.used_memory_percent,
        "server-load": s.alerts.server_load_percent,
        "errors": float(s.alerts.errors),
    }
    actions = (
        [monitor.MetricAlertActionArgs(action_group_id=s.alert_action_group_id)]
        if s.alert_action_group_id
        else []
    )
    return [
        monitor.MetricAlert(
            f"{name}-{spec.slug}",
            resource_group_name=s.resource_group_name,
            location="global",
            description=f"{name}: {spec.description}",
            severity=2,
            enabled=True,
            scopes=[target_id],
            evaluation_frequency="PT1M",
            window_size="PT5M",
            auto_mitigate=True,
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name=spec.slug,
                        metric_name=spec.metric,
                        metric_namespace=namespace,
                        operator="GreaterThan",
                        threshold=thresholds[spec.slug],
                        time_aggregation=spec.aggregation,
                    )
                ],
            ),
            actions=actions,
            tags=site.tags,
            opts=pulumi.ResourceOptions(parent=site.parent),
        )
        for spec in ALERTS
    ]


def delete_lock(
    site: Site, target_id: pulumi.Output[str], endpoint: network.PrivateEndpoint
) -> authorization.ManagementLockByScope:
    """A CanNotDelete lock on ``target_id`` (prod): deleting needs the lock removed first.

    The lock also covers the target's private endpoint connections (children inherit
    locks; no lock scope covers the cache without them), so deleting ``endpoint`` fails
    while it exists: the lock is created after the endpoint, and a plan that replaces
    the endpoint needs the lock destroyed first (scripts/preview_guard.py says so).
    """
    return authorization.ManagementLockByScope(
        f"{site.name}-lock",
        scope=target_id,
        lock_name=f"{site.name}-do-not-delete",
        level="CanNotDelete",
        notes="Aragora's Redis: remove this lock deliberately before deleting.",
        opts=pulumi.ResourceOptions(parent=site.parent, depends_on=[endpoint]),
    )


def publish_env(site: Site, env: pulumi.Output[dict[str, str]]) -> keyvault.Secret | None:
    """The env map as one JSON Key Vault secret, when ``keyVault`` is set."""
    name, s = site.name, site.settings
    if s.key_vault is None:
        return None
    target = s.key_vault
    payload = env_json(env)
    return keyvault.Secret(
        f"{name}-env",
        resource_group_name=target.resource_group_name or s.resource_group_name,
        vault_name=target.vault_name,
        secret_name=target.secret_name_for(name),
        properties=keyvault.SecretPropertiesArgs(value=payload, content_type="application/json"),
        tags=site.tags,
        opts=pulumi.ResourceOptions(parent=site.parent, additional_secret_outputs=["properties"]),
    )
