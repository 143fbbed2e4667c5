"""Services, the NetworkPolicy and the PodDisruptionBudgets of the topology.

Headless Services give each data and Sentinel pod a DNS name (published
before the pod is ready, so a replica can reach its master while it starts);
the Sentinel Service (26379) and the HAProxy Service (6379, always the master)
are what clients use. The NetworkPolicy admits the topology's own pods, the
configured application namespaces/labels on the Redis and Sentinel ports, and
the metrics namespaces on the metrics ports.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .conf import Topology
from .names import (
    EXPORTER_PORT,
    HAPROXY_STATS_PORT,
    REDIS_PORT,
    SENTINEL_PORT,
    Component,
)

core = k8s.core.v1
networking = k8s.networking.v1


def _port(name: str, port: int) -> core.ServicePortArgsDict:
    return {"name": name, "port": port, "target_port": port, "protocol": "TCP"}


def services(
    t: Topology, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> list[core.Service]:
    """Both headless Services, the Sentinel Service and the HAProxy Service."""
    n = t.names
    metrics = _port("metrics", EXPORTER_PORT)
    specs: list[tuple[str, Component, bool, list[core.ServicePortArgsDict]]] = [
        (n.redis_headless, "redis", True, [_port("redis", REDIS_PORT), metrics]),
        (n.sentinel_headless, "sentinel", True, [_port("sentinel", SENTINEL_PORT), metrics]),
        (n.sentinel, "sentinel", False, [_port("sentinel", SENTINEL_PORT)]),
        (
            n.haproxy,
            "haproxy",
            False,
            [_port("redis", REDIS_PORT), _port("metrics", HAPROXY_STATS_PORT)],
        ),
    ]
    out = []
    for name, component, headless, ports in specs:
        spec: core.ServiceSpecArgsDict = {
            "selector": n.selector(component),
            "ports": ports,
            "type": "ClusterIP",
        }
        if headless:
            spec |= {"cluster_ip": "None", "publish_not_ready_addresses": True}
        out.append(
            core.Service(
                name,
                metadata={"name": name, "namespace": n.namespace, "labels": labels},
                spec=spec,
                opts=opts,
            )
        )
    return out


def client_peers(t: Topology) -> list[networking.NetworkPolicyPeerArgsDict]:
    """Who may connect as a client: pods of the allowed namespaces, with the allowed labels."""
    s = t.settings
    pods: k8s.meta.v1.LabelSelectorArgsDict = {"match_labels": dict(s.allowed_pod_labels)}
    if not s.allowed_namespaces:
        return [{"pod_selector": pods}]
    return [
        {
            "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": namespace}},
            "pod_selector": pods,
        }
        for namespace in s.allowed_namespaces
    ]


def network_policy(
    t: Topology, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> networking.NetworkPolicy:
    """Ingress to every pod of the topology from itself, the clients and the scrapers only."""
    n = t.names
    client_ports: list[networking.NetworkPolicyPortArgsDict] = [
        {"protocol": "TCP", "port": REDIS_PORT},
        {"protocol": "TCP", "port": SENTINEL_PORT},
    ]
    rules: list[networking.NetworkPolicyIngressRuleArgsDict] = [
        {"from_": [{"pod_selector": {"match_labels": n.instance_selector}}]},
        {"from_": client_peers(t), "ports": client_ports},
    ]
    if t.settings.metrics_namespaces:
        rules.append(
            {
                "from_": [
                    {"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": ns}}}
                    for ns in t.settings.metrics_namespaces
                ],
                "ports": [
                    {"protocol": "TCP", "port": EXPORTER_PORT},
                    {"protocol": "TCP", "port": HAPROXY_STATS_PORT},
                ],
            }
        )
    return networking.NetworkPolicy(
        n.base,
        metadata={"name": n.base, "namespace": n.namespace, "labels": labels},
        spec={
            "pod_selector": {"match_labels": n.instance_selector},
            "policy_types": ["Ingress"],
            "ingress": rules,
        },
        opts=opts,
    )


def disruption_budgets(
    t: Topology, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> list[k8s.policy.v1.PodDisruptionBudget]:
    """One budget per workload: one data pod, one HAProxy at a time; Sentinels keep a majority."""
    n, s = t.names, t.settings
    majority = s.sentinels // 2 + 1
    budgets: list[tuple[str, Component, int]] = [
        (n.redis, "redis", 1),
        (n.sentinel, "sentinel", max(1, s.sentinels - majority)),
        (n.haproxy, "haproxy", 1),
    ]
    return [
        k8s.policy.v1.PodDisruptionBudget(
            name,
            metadata={"name": name, "namespace": n.namespace, "labels": labels},
            spec={"max_unavailable": unavailable, "selector": {"match_labels": n.selector(comp)}},
            opts=opts,
        )
        for name, comp, unavailable in budgets
    ]
