"""The HAProxy Deployment: one stable address (the HAProxy Service, 6379) for the current master.

Its ``haproxy.cfg`` is rendered by :func:`aragora_redis.haproxy.render_haproxy_cfg`
(the local stack's renderer) into the ConfigMap; the health check reads the
data-node password from ``REDIS_PASSWORD``, set here from the Secret. TLS is
passed through to Redis; the check verifies the nodes against the CA.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .conf import HAPROXY_CFG, REDIS_PASSWORD_KEY, Topology
from .names import HAPROXY_CONF_DIR, HAPROXY_STATS_PORT, REDIS_PORT
from .pods import (
    HAPROXY_UID,
    add_ca_volume,
    container_security,
    http_probe,
    placement,
    pod_security,
    secret_env,
)

core = k8s.core.v1


def haproxy_deployment(
    t: Topology, labels: dict[str, str], config_digest: str, opts: pulumi.ResourceOptions
) -> k8s.apps.v1.Deployment:
    """``haproxyReplicas`` HAProxy pods, spread like the data pods."""
    s, n = t.settings, t.names
    affinity, spread = placement(t, "haproxy")
    mounts: list[core.VolumeMountArgsDict] = [
        {"name": "config", "mount_path": HAPROXY_CONF_DIR, "read_only": True}
    ]
    volumes: list[core.VolumeArgsDict] = [
        {
            "name": "config",
            "config_map": {
                "name": n.config,
                "items": [{"key": HAPROXY_CFG, "path": "haproxy.cfg"}],
                "default_mode": 0o444,
            },
        }
    ]
    add_ca_volume(t, mounts, volumes)
    container: core.ContainerArgsDict = {
        "name": "haproxy",
        "image": s.haproxy_image,
        "image_pull_policy": "IfNotPresent",
        "command": ["haproxy", "-W", "-db", "-f", f"{HAPROXY_CONF_DIR}/haproxy.cfg"],
        "env": [secret_env(t, "REDIS_PASSWORD", REDIS_PASSWORD_KEY)],
        "ports": [
            {"name": "redis", "container_port": REDIS_PORT},
            {"name": "metrics", "container_port": HAPROXY_STATS_PORT},
        ],
        "resources": s.resources.haproxy.as_k8s(),
        "security_context": container_security(),
        "readiness_probe": http_probe("/stats", HAPROXY_STATS_PORT),
        "liveness_probe": {
            "tcp_socket": {"port": REDIS_PORT},
            "initial_delay_seconds": 5,
            "period_seconds": 10,
            "timeout_seconds": 5,
            "failure_threshold": 3,
        },
        "volume_mounts": mounts,
    }
    return k8s.apps.v1.Deployment(
        n.haproxy,
        metadata={"name": n.haproxy, "namespace": n.namespace, "labels": labels},
        spec={
            "replicas": s.haproxy_replicas,
            "selector": {"match_labels": n.selector("haproxy")},
            "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 1}},
            "template": {
                "metadata": {
                    "labels": {**labels, **n.selector("haproxy")},
                    "annotations": {"checksum/config": config_digest},
                },
                "spec": {
                    "automount_service_account_token": False,
                    "enable_service_links": False,
                    "security_context": pod_security(HAPROXY_UID),
                    "affinity": affinity,
                    "topology_spread_constraints": spread,
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
        opts=opts,
    )
