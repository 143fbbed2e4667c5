"""The two StatefulSets: the data nodes (AOF on PersistentVolumeClaims) and the Sentinels.

Data pods start in order (``OrderedReady``): pod 0 is the first master, each
later pod asks the Sentinels for the current master before it starts
(``start-redis.sh``). Sentinels get a writable copy of their config, written by
an init container that also points it at the current master.
"""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from .conf import (
    REDIS_AUTH_FILE,
    REDIS_PASSWORD_KEY,
    SENTINEL_AUTH_FILE,
    SENTINEL_PASSWORD_KEY,
    Topology,
)
from .names import CONF_DIR, CONFIG_MOUNT, DATA_DIR, REDIS_PORT, SENTINEL_PORT
from .pods import (
    REDIS_UID,
    checksum,
    common_mounts,
    common_volumes,
    container_security,
    exec_probe,
    exporter,
    memory_volume,
    password_env,
    placement,
    pod_security,
)

core = k8s.core.v1
meta = k8s.meta.v1
#: Long enough for a master to finish an AOF fsync and for Sentinel to notice it left.
TERMINATION_GRACE_S = 30


def redis_statefulset(
    t: Topology, labels: dict[str, str], config_digest: str, opts: pulumi.ResourceOptions
) -> k8s.apps.v1.StatefulSet:
    """The data StatefulSet: ``replicas + 1`` pods, each with a Redis and an exporter."""
    s, n = t.settings, t.names
    conf: core.VolumeMountArgsDict = {"name": "conf", "mount_path": CONF_DIR}
    redis: core.ContainerArgsDict = {
        "name": "redis",
        "image": s.redis_image,
        "image_pull_policy": "IfNotPresent",
        "command": ["sh", f"{CONFIG_MOUNT}/start-redis.sh"],
        "env": password_env(t),
        "ports": [{"name": "redis", "container_port": REDIS_PORT}],
        "resources": s.resources.redis.as_k8s(),
        "security_context": container_security(),
        "readiness_probe": exec_probe("redis-ready", period=5),
        "liveness_probe": exec_probe("redis-alive", delay=15),
        "volume_mounts": [
            *common_mounts(t),
            conf,
            {"name": "data", "mount_path": DATA_DIR},
        ],
    }
    self_host = f"$(POD_NAME).{n.service_host(n.redis_headless)}"
    claim: core.PersistentVolumeClaimArgsDict = {
        "metadata": {"name": "data", "labels": n.selector("redis")},
        "spec": {
            "access_modes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": s.storage_size}},
            **({"storage_class_name": s.storage_class_name} if s.storage_class_name else {}),
        },
    }
    return k8s.apps.v1.StatefulSet(
        n.redis,
        metadata={"name": n.redis, "namespace": n.namespace, "labels": labels},
        spec={
            "service_name": n.redis_headless,
            "replicas": s.data_nodes,
            "pod_management_policy": "OrderedReady",
            "selector": {"match_labels": n.selector("redis")},
            "update_strategy": {"type": "RollingUpdate"},
            "persistent_volume_claim_retention_policy": {
                "when_deleted": "Retain",
                "when_scaled": "Retain",
            },
            "template": _pod_template(
                t,
                "redis",
                labels,
                config_digest,
                conf,
                [redis, exporter(t, self_host, REDIS_PORT, REDIS_PASSWORD_KEY)],
                [*common_volumes(t, REDIS_AUTH_FILE), memory_volume("conf")],
            ),
            "volume_claim_templates": [claim],
        },
        opts=opts,
    )


def sentinel_statefulset(
    t: Topology, labels: dict[str, str], config_digest: str, opts: pulumi.ResourceOptions
) -> k8s.apps.v1.StatefulSet:
    """The Sentinel StatefulSet: stable DNS names to announce, a writable config each."""
    s, n = t.settings, t.names
    writable: core.VolumeMountArgsDict = {"name": "sentinel", "mount_path": DATA_DIR}
    sentinel: core.ContainerArgsDict = {
        "name": "sentinel",
        "image": s.redis_image,
        "image_pull_policy": "IfNotPresent",
        "command": ["redis-server", f"{DATA_DIR}/sentinel.conf", "--sentinel"],
        "env": password_env(t),
        "ports": [{"name": "sentinel", "container_port": SENTINEL_PORT}],
        "resources": s.resources.sentinel.as_k8s(),
        "security_context": container_security(),
        "readiness_probe": exec_probe("sentinel", period=5),
        "liveness_probe": exec_probe("sentinel", delay=15),
        "volume_mounts": [*common_mounts(t), writable],
    }
    self_host = f"$(POD_NAME).{n.service_host(n.sentinel_headless)}"
    return k8s.apps.v1.StatefulSet(
        n.sentinel,
        metadata={"name": n.sentinel, "namespace": n.namespace, "labels": labels},
        spec={
            "service_name": n.sentinel_headless,
            "replicas": s.sentinels,
            # Sentinels find each other through the master; none waits for another.
            "pod_management_policy": "Parallel",
            "selector": {"match_labels": n.selector("sentinel")},
            "update_strategy": {"type": "RollingUpdate"},
            "template": _pod_template(
                t,
                "sentinel",
                labels,
                config_digest,
                writable,
                [sentinel, exporter(t, self_host, SENTINEL_PORT, SENTINEL_PASSWORD_KEY)],
                [*common_volumes(t, SENTINEL_AUTH_FILE), memory_volume("sentinel")],
            ),
        },
        opts=opts,
    )


def _pod_template(
    t: Topology,
    component: Literal["redis", "sentinel"],
    labels: dict[str, str],
    config_digest: str,
    config_mount: core.VolumeMountArgsDict,
    containers: list[core.ContainerArgsDict],
    volumes: list[core.VolumeArgsDict],
) -> core.PodTemplateSpecArgsDict:
    """A pod of ``component`` (redis or sentinel): placement, security, its config's checksum,
    and the init container ``init-<component>.sh`` that writes the config into ``config_mount``."""
    affinity, spread = placement(t, component)
    init: core.ContainerArgsDict = {
        "name": "config",
        "image": t.settings.redis_image,
        "command": ["sh", f"{CONFIG_MOUNT}/init-{component}.sh"],
        "env": password_env(t),
        "resources": t.settings.resources.sentinel.as_k8s(),
        "security_context": container_security(),
        "volume_mounts": [*common_mounts(t), config_mount],
    }
    metadata: meta.ObjectMetaArgsDict = {
        "labels": {**labels, **t.names.selector(component)},
        "annotations": {"checksum/config": config_digest},
    }
    return {
        "metadata": metadata,
        "spec": {
            "automount_service_account_token": False,
            "enable_service_links": False,
            "termination_grace_period_seconds": TERMINATION_GRACE_S,
            "security_context": pod_security(REDIS_UID),
            "affinity": affinity,
            "topology_spread_constraints": spread,
            "init_containers": [init],
            "containers": containers,
            "volumes": volumes,
        },
    }


def digest_of(files: dict[str, str], *names: str) -> str:
    """The checksum of the named ConfigMap files (what a workload's pods read)."""
    return checksum(*(files[name] for name in sorted(names)))
