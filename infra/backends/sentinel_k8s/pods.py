"""Pieces every pod of the topology shares: security contexts, placement, probes, env, volumes.

I/O-free builders of the Kubernetes objects' input dictionaries (the SDK's
``...ArgsDict`` types, snake_case keys), so the workloads read as a list of
parts and each rule (non-root, read-only root, no capabilities, spread) is
written once.
"""

from __future__ import annotations

import hashlib

import pulumi_kubernetes as k8s

from .conf import REDIS_PASSWORD_KEY, SENTINEL_PASSWORD_KEY, Topology
from .names import (
    AUTH_MOUNT,
    CONFIG_MOUNT,
    EXPORTER_PORT,
    TLS_CA,
    TLS_MOUNT,
    Component,
)

core = k8s.core.v1
#: The ``redis`` user of the official image; the exporter runs as it too.
REDIS_UID = 999
#: The ``haproxy`` user of the official image.
HAPROXY_UID = 99
PROBE_SCRIPT = f"{CONFIG_MOUNT}/probe.sh"


def pod_security(uid: int) -> core.PodSecurityContextArgsDict:
    """Pod level: non-root, one uid/gid, volumes group-owned by it, seccomp RuntimeDefault."""
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "fs_group": uid,
        "fs_group_change_policy": "OnRootMismatch",
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def container_security() -> core.SecurityContextArgsDict:
    """Container level: read-only root filesystem, no privilege escalation, no capabilities."""
    return {
        "run_as_non_root": True,
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def placement(
    t: Topology, component: Component
) -> tuple[core.AffinityArgsDict, list[core.TopologySpreadConstraintArgsDict]]:
    """Anti-affinity across nodes (hard or soft) and the optional spread across zones."""
    selector: k8s.meta.v1.LabelSelectorArgsDict = {"match_labels": t.names.selector(component)}
    term: core.PodAffinityTermArgsDict = {
        "label_selector": selector,
        "topology_key": "kubernetes.io/hostname",
    }
    anti: core.PodAntiAffinityArgsDict
    if t.settings.pod_anti_affinity == "required":
        anti = {"required_during_scheduling_ignored_during_execution": [term]}
    else:
        anti = {
            "preferred_during_scheduling_ignored_during_execution": [
                {"weight": 100, "pod_affinity_term": term}
            ]
        }
    spread: list[core.TopologySpreadConstraintArgsDict] = []
    if t.settings.zone_spread != "off":
        unsatisfiable = (
            "DoNotSchedule" if t.settings.zone_spread == "required" else "ScheduleAnyway"
        )
        spread.append(
            {
                "max_skew": 1,
                "topology_key": "topology.kubernetes.io/zone",
                "when_unsatisfiable": unsatisfiable,
                "label_selector": selector,
            }
        )
    return {"pod_anti_affinity": anti}, spread


def exec_probe(
    *args: str, period: int = 10, failures: int = 3, delay: int = 5
) -> core.ProbeArgsDict:
    """A probe that runs ``probe.sh <args>`` in the container."""
    return {
        "exec_": {"command": ["sh", PROBE_SCRIPT, *args]},
        "initial_delay_seconds": delay,
        "period_seconds": period,
        "timeout_seconds": 5,
        "failure_threshold": failures,
    }


def http_probe(path: str, port: int) -> core.ProbeArgsDict:
    """A probe that GETs ``path`` on ``port``."""
    return {
        "http_get": {"path": path, "port": port},
        "initial_delay_seconds": 5,
        "period_seconds": 10,
        "timeout_seconds": 5,
        "failure_threshold": 3,
    }


def add_ca_volume(
    t: Topology, mounts: list[core.VolumeMountArgsDict], volumes: list[core.VolumeArgsDict]
) -> None:
    """With TLS, the Secret's ``ca.crt`` alone at ``TLS_MOUNT`` (the server key stays out)."""
    if not t.tls:
        return
    mounts.append({"name": "tls", "mount_path": TLS_MOUNT, "read_only": True})
    volumes.append(
        {
            "name": "tls",
            "secret": {
                "secret_name": t.settings.tls_secret_name or "",
                "items": [{"key": TLS_CA, "path": TLS_CA}],
                "default_mode": 0o444,
            },
        }
    )


def secret_env(t: Topology, name: str, key: str) -> core.EnvVarArgsDict:
    """An environment variable read from the topology's Secret."""
    return {"name": name, "value_from": {"secret_key_ref": {"name": t.names.auth, "key": key}}}


def password_env(t: Topology) -> list[core.EnvVarArgsDict]:
    """``POD_NAME`` and both passwords, as the scripts expect them."""
    return [
        {"name": "POD_NAME", "value_from": {"field_ref": {"field_path": "metadata.name"}}},
        secret_env(t, "REDIS_PASSWORD", REDIS_PASSWORD_KEY),
        secret_env(t, "SENTINEL_PASSWORD", SENTINEL_PASSWORD_KEY),
    ]


def exporter(t: Topology, target_host: str, port: int, password_key: str) -> core.ContainerArgsDict:
    """The ``redis_exporter`` sidecar scraping ``target_host:port`` (a pod's own DNS name)."""
    scheme = "rediss" if t.tls else "redis"
    env: list[core.EnvVarArgsDict] = [
        {"name": "POD_NAME", "value_from": {"field_ref": {"field_path": "metadata.name"}}},
        {"name": "REDIS_ADDR", "value": f"{scheme}://{target_host}:{port}"},
        secret_env(t, "REDIS_PASSWORD", password_key),
    ]
    mounts: list[core.VolumeMountArgsDict] = []
    if t.tls:
        env.append({"name": "REDIS_EXPORTER_TLS_CA_CERT_FILE", "value": f"{TLS_MOUNT}/ca.crt"})
        mounts.append({"name": "tls", "mount_path": TLS_MOUNT, "read_only": True})
    return {
        "name": "exporter",
        "image": t.settings.exporter_image,
        "image_pull_policy": "IfNotPresent",
        "env": env,
        "ports": [{"name": "metrics", "container_port": EXPORTER_PORT}],
        "resources": t.settings.resources.exporter.as_k8s(),
        "security_context": container_security(),
        "readiness_probe": http_probe("/health", EXPORTER_PORT),
        "liveness_probe": http_probe("/health", EXPORTER_PORT),
        "volume_mounts": mounts,
    }


def common_volumes(t: Topology, auth_file: str) -> list[core.VolumeArgsDict]:
    """The ConfigMap, the Secret's password lines (``auth_file``) and the TLS Secret."""
    volumes: list[core.VolumeArgsDict] = [
        {"name": "config", "config_map": {"name": t.names.config, "default_mode": 0o444}},
        {
            "name": "auth",
            "secret": {
                "secret_name": t.names.auth,
                "items": [{"key": auth_file, "path": auth_file}],
                "default_mode": 0o440,
            },
        },
    ]
    if t.tls:
        volumes.append(
            {
                "name": "tls",
                "secret": {"secret_name": _tls_secret(t), "default_mode": 0o440},
            }
        )
    return volumes


def common_mounts(t: Topology) -> list[core.VolumeMountArgsDict]:
    """The ConfigMap, the password lines and the certificates, all read-only."""
    mounts: list[core.VolumeMountArgsDict] = [
        {"name": "config", "mount_path": CONFIG_MOUNT, "read_only": True},
        {"name": "auth", "mount_path": AUTH_MOUNT, "read_only": True},
    ]
    if t.tls:
        mounts.append({"name": "tls", "mount_path": TLS_MOUNT, "read_only": True})
    return mounts


def memory_volume(name: str) -> core.VolumeArgsDict:
    """A small in-memory emptyDir: the writable configs hold passwords, so not on disk."""
    return {"name": name, "empty_dir": {"medium": "Memory", "size_limit": "16Mi"}}


def checksum(*texts: str) -> str:
    """A digest of the rendered files: a pod annotation, so a config change rolls the pods."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _tls_secret(t: Topology) -> str:
    name = t.settings.tls_secret_name
    if name is None:  # the settings model requires it with TLS
        raise ValueError("TLS is on but aragora-redis:sentinel-k8s.tlsSecretName is not set")
    return name
