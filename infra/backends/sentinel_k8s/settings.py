"""``aragora-redis:sentinel-k8s``: the validated config section of the self-hosted Sentinel backend.

Everything that would weaken the HA and secure defaults (fewer than three
sentinels, a quorum no majority reaches, no replica outside dev, soft
anti-affinity in prod, TLS without a certificate) is refused here, before any
resource is declared, with an error naming the key.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...settings import Problem, StackSettings
from ..common import BackendSettings, MaxmemoryPolicy
from .values import (
    DnsLabel,
    LabelKey,
    LabelValue,
    Memory,
    ObjectName,
    PinnedImage,
    RedisBytes,
    Resources,
    quantity_bytes,
    redis_bytes,
)

SECTION = "sentinel-k8s"
Placement = Literal["required", "preferred"]
ZoneSpread = Literal["off", "preferred", "required"]
MAX_REPLICAS = 8
MAX_SENTINELS = 9
#: Official images only, pinned (no Bitnami): redis, redis_exporter, haproxy.
REDIS_IMAGE = "redis:7.4.2"
EXPORTER_IMAGE = "oliver006/redis_exporter:v1.67.0"
HAPROXY_IMAGE = "haproxy:3.0.5"


class SentinelK8sSettings(BackendSettings):
    """``aragora-redis:sentinel-k8s``: a Redis Sentinel topology on Kubernetes.

    A StatefulSet of ``replicas + 1`` data nodes (AOF on persistent volumes), a
    StatefulSet of ``sentinels`` Sentinels, an HAProxy Deployment that always
    forwards to the current master, Services, PodDisruptionBudgets, a
    NetworkPolicy and, optionally, a PrometheusRule. TLS (``aragora-redis:tls``)
    uses the existing Secret ``tlsSecretName`` (``tls.crt``, ``tls.key``,
    ``ca.crt``, as cert-manager writes it).
    """

    SECTION = SECTION
    #: The namespace of every object.
    namespace: DnsLabel = "aragora-redis"
    #: Create the namespace; false when it exists already (it must with TLS).
    create_namespace: bool = True
    #: The cluster's DNS domain (pod and Service names end in ``svc.<clusterDomain>``).
    cluster_domain: str = Field("cluster.local", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    #: The Sentinel master name (``ARAGORA_REDIS_SENTINEL_MASTER``).
    master_name: str = Field("aragora-master", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    #: Replicas besides the master (so ``replicas + 1`` data pods); 0 only in dev.
    replicas: int = Field(2, ge=0, le=MAX_REPLICAS)
    sentinels: int = Field(3, ge=1, le=MAX_SENTINELS)
    #: Sentinels that must agree the master is down; at least a majority of ``sentinels``.
    quorum: int = Field(2, ge=1)
    #: How long a master may not answer before a Sentinel thinks it down (charts use 60 s).
    down_after_ms: int = Field(5000, ge=500, le=600000)
    failover_timeout_ms: int = Field(60000, ge=1000, le=3600000)
    parallel_syncs: int = Field(1, ge=1, le=MAX_REPLICAS)
    #: The master refuses writes with fewer connected replicas; None: 1 (0 without replicas).
    min_replicas_to_write: int | None = Field(None, ge=0, le=MAX_REPLICAS)
    min_replicas_max_lag: int = Field(10, ge=1, le=3600)
    #: Redis ``maxmemory``; keep it below ``resources.redis.memoryLimit`` (None: 75% of it).
    maxmemory: RedisBytes | None = None
    maxmemory_policy: MaxmemoryPolicy = "volatile-ttl"
    #: Size of each data node's PersistentVolumeClaim (AOF).
    storage_size: Memory = "8Gi"
    #: StorageClass of the claims; None uses the cluster's default.
    storage_class_name: ObjectName | None = None
    redis_image: PinnedImage = REDIS_IMAGE
    exporter_image: PinnedImage = EXPORTER_IMAGE
    haproxy_image: PinnedImage = HAPROXY_IMAGE
    haproxy_replicas: int = Field(2, ge=1, le=10)
    #: The fencing watcher (one pod): a bare ``SENTINEL FAILOVER`` then loses no acked write.
    fencing: bool = True
    #: Its image: Python with the ``aragora-redis`` client installed, built by the operator
    #: from ``client/`` (none is published; docs/sentinel-k8s.md). Required with ``fencing``.
    fencer_image: PinnedImage | None = None
    #: Pods of one workload on different nodes: ``required`` (hard) or ``preferred``.
    pod_anti_affinity: Placement = "required"
    #: Spread each workload's pods over zones (``topology.kubernetes.io/zone``).
    zone_spread: ZoneSpread = "off"
    #: Namespaces whose pods may connect (with ``allowedPodLabels``, only those pods).
    allowed_namespaces: tuple[DnsLabel, ...] = ()
    #: Labels a client pod must carry; alone, they select pods of ``namespace``.
    allowed_pod_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    #: Namespaces allowed to scrape the metrics ports (Prometheus).
    metrics_namespaces: tuple[DnsLabel, ...] = ()
    #: An existing ``kubernetes.io/tls`` Secret in ``namespace`` (cert-manager Certificate).
    tls_secret_name: ObjectName | None = None
    #: A ConfigMap (key ``ca.crt``, e.g. trust-manager's) to read the CA from instead of the Secret.
    tls_ca_config_map: ObjectName | None = None
    resources: Resources = Field(default_factory=lambda: Resources.model_validate({}))
    #: Declare a PrometheusRule (monitoring.coreos.com/v1) from infra/alerts/redis-rules.yml.
    prometheus_rule: bool = False
    #: Labels the Prometheus operator's ``ruleSelector`` matches, e.g. ``release: prometheus``.
    prometheus_rule_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)

    @property
    def data_nodes(self) -> int:
        """Pods of the data StatefulSet."""
        return self.replicas + 1

    @property
    def effective_min_replicas(self) -> int:
        """``min-replicas-to-write`` of the data nodes."""
        if self.min_replicas_to_write is not None:
            return self.min_replicas_to_write
        return 1 if self.replicas else 0

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """The quorum, replica, anti-affinity, TLS, fencing, memory and reachability rules."""
        env = stack.environment
        bad = self.reporter(problems)
        if self.sentinels < 3:
            bad("sentinels", self.sentinels, "3 or more (a majority must survive one loss)")
        majority = self.sentinels // 2 + 1
        if not majority <= self.quorum <= self.sentinels:
            bad(
                "quorum",
                self.quorum,
                f"{majority} to {self.sentinels} (a majority of sentinels, at most all of them)",
            )
        if env != "dev" and self.replicas < 1:
            bad("replicas", self.replicas, f"1 to {MAX_REPLICAS} in {env} (0 only in dev)")
        if self.effective_min_replicas > self.replicas:
            bad(
                "minReplicasToWrite",
                self.effective_min_replicas,
                f"0 to {self.replicas} (replicas): more would refuse every write",
            )
        elif env == "prod" and self.effective_min_replicas < 1:
            bad("minReplicasToWrite", self.effective_min_replicas, "1 or more in prod")
        if env == "prod" and self.pod_anti_affinity != "required":
            bad("podAntiAffinity", self.pod_anti_affinity, "required in prod")
        self._check_tls(stack, bad)
        if self.fencing and self.fencer_image is None:
            bad(
                "fencerImage",
                None,
                "an image with the aragora-redis client, built from client/ (see"
                " docs/sentinel-k8s.md, no image is published), or fencing: false",
            )
        limit = self.resources.redis.memory_limit
        if self.maxmemory is not None and redis_bytes(self.maxmemory) >= quantity_bytes(limit):
            bad(
                "maxmemory",
                self.maxmemory,
                f"less than resources.redis.memoryLimit ({limit}), with room for the AOF rewrite",
            )
        if not self.allowed_namespaces and not self.allowed_pod_labels:
            bad(
                "allowedNamespaces",
                list(self.allowed_namespaces),
                "at least one namespace, or allowedPodLabels (the NetworkPolicy admits only them)",
            )

    def _check_tls(self, stack: StackSettings, bad: Any) -> None:
        if stack.tls and self.tls_secret_name is None:
            bad(
                "tlsSecretName",
                None,
                "the name of a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt"
                " (e.g. a cert-manager Certificate's) when aragora-redis:tls is true",
            )
        elif stack.tls and self.create_namespace:
            bad(
                "createNamespace",
                self.create_namespace,
                "false with TLS (the TLS Secret must exist before the stack, and its namespace)",
            )
        if not stack.tls and self.tls_secret_name is not None:
            bad("tlsSecretName", self.tls_secret_name, "no value when aragora-redis:tls is false")
        if self.tls_ca_config_map is not None and self.tls_secret_name is None:
            bad("tlsCaConfigMap", self.tls_ca_config_map, "no value without tlsSecretName")
