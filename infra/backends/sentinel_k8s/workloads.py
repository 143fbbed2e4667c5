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
    redis = _container(
        t,
        "redis",
        ["sh", f"{CONFIG_MOUNT}/start-redis.sh"],
        REDIS_PORT,
        s.resources.redis.as_k8s(),
        ("redis-ready", "redis-alive"),
        [conf, {"name": "data", "mount_path": DATA_DIR}],
    )
    claim: core.PersistentVolumeClaimArgsDict = {
        "metadata": {"name": "data", "labels": n.selector("redis")},
        "spec": {
            "access_modes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": s.storage_size}},
            **({"storage_class_name": s.storage_class_name} if s.storage_class_name else {}),
        },
    }
    return _statefulset(
        t,
        "redis",
        labels,
        (s.data_nodes, "OrderedReady"),
        _pod_template(
            t,
            "redis",
            labels,
            config_digest,
            conf,
            [redis, exporter(t, _self_host(t, "redis"), REDIS_PORT, REDIS_PASSWORD_KEY)],
            [*common_volumes(t, REDIS_AUTH_FILE), memory_volume("conf")],
        ),
        opts,
        claim,
    )


def sentinel_statefulset(
    t: Topology, labels: dict[str, str], config_digest: str, opts: pulumi.ResourceOptions
) -> k8s.apps.v1.StatefulSet:
    """The Sentinel StatefulSet: stable DNS names to announce, a writable config each."""
    s = t.settings
    writable: core.VolumeMountArgsDict = {"name": "sentinel", "mount_path": DATA_DIR}
    sentinel = _container(
        t,
        "sentinel",
        ["redis-server", f"{DATA_DIR}/sentinel.conf", "--sentinel"],
        SENTINEL_PORT,
        s.resources.sentinel.as_k8s(),
        ("sentinel", "sentinel"),
        [writable],
    )
    return _statefulset(
        t,
        "sentinel",
        labels,
        # Sentinels find each other through the master; none waits for another.
        (s.sentinels, "Parallel"),
        _pod_template(
            t,
            "sentinel",
            labels,
            config_digest,
            writable,
            [
                sentinel,
                exporter(t, _self_host(t, "sentinel"), SENTINEL_PORT, SENTINEL_PASSWORD_KEY),
            ],
            [*common_volumes(t, SENTINEL_AUTH_FILE), memory_volume("sentinel")],
        ),
        opts,
    )


def _self_host(t: Topology, component: Literal["redis", "sentinel"]) -> str:
    """The pod's own name under its headless Service (``$(POD_NAME)`` set by Kubernetes)."""
    n = t.names
    headless = n.redis_headless if component == "redis" else n.sentinel_headless
    return f"$(POD_NAME).{n.service_host(headless)}"


def _container(
    t: Topology,
    name: Literal["redis", "sentinel"],
    command: list[str],
    port: int,
    resources: core.ResourceRequirementsArgsDict,
    probes: tuple[str, str],
    mounts: list[core.VolumeMountArgsDict],
) -> core.ContainerArgsDict:
    """The main container of a data or Sentinel pod; ``probes``: readiness, liveness checks."""
    ready, alive = probes
    return {
        "name": name,
        "image": t.settings.redis_image,
        "image_pull_policy": "IfNotPresent",
        "command": command,
        "env": password_env(t),
        "ports": [{"name": name, "container_port": port}],
        "resources": resources,
        "security_context": container_security(),
        "readiness_probe": exec_probe(ready, period=5),
        "liveness_probe": exec_probe(alive, delay=15),
        "volume_mounts": [*common_mounts(t), *mounts],
    }


def _statefulset(
    t: Topology,
    component: Literal["redis", "sentinel"],
    labels: dict[str, str],
    scale: tuple[int, str],
    template: core.PodTemplateSpecArgsDict,
    opts: pulumi.ResourceOptions,
    claim: core.PersistentVolumeClaimArgsDict | None = None,
) -> k8s.apps.v1.StatefulSet:
    """The StatefulSet of ``component`` under its headless Service, rolling updates.

    ``scale`` is the replicas and the pod management policy; with ``claim`` each pod
    gets that volume, retained when the set is deleted or scaled down.
    """
    n = t.names
    name = n.redis if component == "redis" else n.sentinel
    headless = n.redis_headless if component == "redis" else n.sentinel_headless
    replicas, management = scale
    spec: k8s.apps.v1.StatefulSetSpecArgsDict = {
        "service_name": headless,
        "replicas": replicas,
        "pod_management_policy": management,
        "selector": {"match_labels": n.selector(component)},
        "update_strategy": {"type": "RollingUpdate"},
        "template": template,
    }
    if claim:
        spec["persistent_volume_claim_retention_policy"] = {
            "when_deleted": "Retain",
            "when_scaled": "Retain",
        }
        spec["volume_claim_templates"] = [claim]
    return k8s.apps.v1.StatefulSet(
        name,
        metadata={"name": name, "namespace": n.namespace, "labels": labels},
        spec=spec,
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
