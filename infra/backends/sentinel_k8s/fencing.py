"""The fencing watcher: one pod running ``python -m aragora_redis._fencer_main --env``.

It listens to every Sentinel and, when a failover replaces the master, pauses
writes on the old one (``CLIENT PAUSE ... WRITE``) until it is demoted, and cuts
its plain client connections once the switch is confirmed: a bare ``SENTINEL
FAILOVER`` then loses no acknowledged write (``aragora_redis/_fence.py``).

It reads the ``ARAGORA_REDIS_*`` contract from its environment: the Sentinel pods,
the master name, both passwords from the topology's Secret (``secretKeyRef``,
never in the manifest) and, with TLS, the CA mounted from the TLS Secret (only
``ca.crt``). Its pod carries the topology's instance labels, so the
NetworkPolicy's own-pods rule admits it to the Sentinels (26379) and the data
pods (6379). The image is the operator's (``fencerImage``), built from ``client/``.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from aragora_redis._fencer_main import ENV_FLAG, READY_VARIABLE
from aragora_redis._parse import render_host_list

from .conf import REDIS_PASSWORD_KEY, SENTINEL_PASSWORD_KEY, Topology
from .names import TLS_CA, TLS_MOUNT
from .pods import add_ca_volume, container_security, placement, pod_security, secret_env

core = k8s.core.v1
#: A non-root uid for the operator's image (any uid that can read its Python works).
FENCER_UID = 10001
RUN_DIR = "/run/fencer"
READY_FILE = f"{RUN_DIR}/ready"


def _probe(script: str, delay: int) -> core.ProbeArgsDict:
    return {
        "exec_": {"command": ["sh", "-c", script]},
        "initial_delay_seconds": delay,
        "period_seconds": 10,
        "timeout_seconds": 5,
        "failure_threshold": 3,
    }


def fencer_env(t: Topology) -> list[core.EnvVarArgsDict]:
    """The contract the watcher reads; passwords by reference to the Secret only."""
    s, n = t.settings, t.names
    env: list[core.EnvVarArgsDict] = [
        {"name": "ARAGORA_REDIS_MODE", "value": "sentinel"},
        {
            "name": "ARAGORA_REDIS_SENTINEL_HOSTS",
            "value": render_host_list(n.sentinel_nodes(s.sentinels)),
        },
        {"name": "ARAGORA_REDIS_SENTINEL_MASTER", "value": s.master_name},
        secret_env(t, "ARAGORA_REDIS_PASSWORD", REDIS_PASSWORD_KEY),
        secret_env(t, "ARAGORA_REDIS_SENTINEL_PASSWORD", SENTINEL_PASSWORD_KEY),
        {"name": READY_VARIABLE, "value": READY_FILE},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]
    if t.tls:
        env += [
            {"name": "ARAGORA_REDIS_SSL", "value": "true"},
            {"name": "ARAGORA_REDIS_SSL_CA_CERTS", "value": f"{TLS_MOUNT}/{TLS_CA}"},
        ]
    return env


def fencing_deployment(
    t: Topology, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> k8s.apps.v1.Deployment:
    """One watcher pod (``Recreate``: two at once would only pause twice) and its budget."""
    s, n = t.settings, t.names
    affinity, spread = placement(t, "fencing")
    mounts: list[core.VolumeMountArgsDict] = [{"name": "run", "mount_path": RUN_DIR}]
    volumes: list[core.VolumeArgsDict] = [{"name": "run", "empty_dir": {"medium": "Memory"}}]
    add_ca_volume(t, mounts, volumes)
    container: core.ContainerArgsDict = {
        "name": "fencing",
        "image": s.fencer_image or "",
        "image_pull_policy": "IfNotPresent",
        "command": ["python", "-m", "aragora_redis._fencer_main", ENV_FLAG],
        "env": fencer_env(t),
        "resources": s.resources.fencing.as_k8s(),
        "security_context": container_security(),
        # Ready while it hears at least one Sentinel; alive while its loop runs.
        "readiness_probe": _probe(f"grep -q '^[1-9]' {READY_FILE}", 5),
        "liveness_probe": _probe(f"test -f {READY_FILE}", 20),
        "volume_mounts": mounts,
    }
    k8s.policy.v1.PodDisruptionBudget(
        n.fencing,
        metadata={"name": n.fencing, "namespace": n.namespace, "labels": labels},
        spec={"max_unavailable": 1, "selector": {"match_labels": n.selector("fencing")}},
        opts=opts,
    )
    return k8s.apps.v1.Deployment(
        n.fencing,
        metadata={"name": n.fencing, "namespace": n.namespace, "labels": labels},
        spec={
            "replicas": 1,
            "selector": {"match_labels": n.selector("fencing")},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": {**labels, **n.selector("fencing")}},
                "spec": {
                    "automount_service_account_token": False,
                    "enable_service_links": False,
                    "security_context": pod_security(FENCER_UID),
                    "affinity": affinity,
                    "topology_spread_constraints": spread,
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
        opts=opts,
    )
