"""The sentinel-k8s backend: a self-hosted Redis Sentinel topology on Kubernetes.

A namespace; passwords from ``RandomPassword`` in a Secret; configs rendered
by the local stack's renderers, split into a ConfigMap (no password) and the
Secret; a StatefulSet of data nodes (ordered start, AOF on persistent volumes,
``min-replicas-to-write``), a StatefulSet of Sentinels (quorum, announced
hostnames, writable config), an HAProxy Deployment whose Service always
reaches the master, ``redis_exporter`` sidecars, PodDisruptionBudgets, a
NetworkPolicy, the fencing watcher (on by default) and optionally a
PrometheusRule. TLS uses an existing ``kubernetes.io/tls`` Secret
(cert-manager); the CA is read from it (or from a ConfigMap) for the
``aragoraRedisCaPem`` output.

The contract's mode is ``sentinel``: the URL is the HAProxy Service (so
URL-only clients reach the master), ``ARAGORA_REDIS_SENTINEL_HOSTS`` the
Sentinel pods.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ...endpoint import RedisEndpoint
from ...settings import StackConfig
from ..common import BackendComponent, Outputs, random_password
from .conf import HAPROXY_CFG, Topology, auth_files, config_files
from .fencing import fencing_deployment
from .haproxy import haproxy_deployment
from .monitoring import load_rules, monitoring
from .names import REDIS_PORT, TLS_CA, Names, labels_of
from .network import disruption_budgets, network_policy, services
from .settings import SentinelK8sSettings
from .workloads import digest_of, redis_statefulset, sentinel_statefulset

#: RandomPassword inputs: a change would generate a new password, so they are fixed.
PASSWORD_LENGTH = 32
PASSWORD_SPECIALS = "-_.+=!#%^~"  # noqa: S105 (the allowed characters)


@dataclass(frozen=True)
class SentinelK8sRedisArgs:
    """What :class:`SentinelK8sRedis` builds from.

    ``settings`` is the validated ``aragora-redis:sentinel-k8s`` section;
    ``tls`` is ``aragora-redis:tls``; ``protect`` guards the namespace, the
    Secret and the data StatefulSet (prod); ``labels`` go on every object;
    ``rules`` is the PrometheusRule spec when ``prometheusRule`` is on.
    """

    settings: SentinelK8sSettings
    tls: bool
    protect: bool
    labels: dict[str, str] = field(default_factory=dict)
    rules: dict[str, Any] | None = None


class SentinelK8sRedis(BackendComponent[SentinelK8sRedisArgs]):
    """A Redis Sentinel topology on Kubernetes with a stable master address through HAProxy.

    ``endpoint`` is the shared :class:`RedisEndpoint`; ``names`` the objects'
    names, whose ``certificate_dns_names`` a TLS certificate must cover.
    """

    TYPE = "aragora-redis:sentinel-k8s:SentinelK8sRedis"
    names: Names

    def _declare(self, name: str, args: SentinelK8sRedisArgs) -> Outputs:
        s = args.settings
        names = Names(name, s.namespace, s.cluster_domain)
        t = Topology(s, names, args.tls)
        labels = {
            **args.labels,
            **names.instance_selector,
            "app.kubernetes.io/part-of": "aragora",
            "app.kubernetes.io/managed-by": "pulumi",
        }
        after: list[pulumi.Resource] = []
        if s.create_namespace:
            namespace = k8s.core.v1.Namespace(
                s.namespace,
                metadata={"name": s.namespace, "labels": labels},
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            after.append(namespace)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)
        password = _password(f"{name}-redis-password", self)
        sentinel_password = _password(f"{name}-sentinel-password", self)

        files = config_files(t)
        config = k8s.core.v1.ConfigMap(
            names.config,
            metadata={"name": names.config, "namespace": s.namespace, "labels": labels},
            data=files,
            opts=child,
        )
        secret_files: pulumi.Output[Mapping[str, str]] = pulumi.Output.all(
            password, sentinel_password
        ).apply(lambda pw: auth_files(t, pw[0], pw[1]))
        secret_data: pulumi.Output[Mapping[str, str]] = pulumi.Output.secret(secret_files)
        secret = k8s.core.v1.Secret(
            names.auth,
            metadata={"name": names.auth, "namespace": s.namespace, "labels": labels},
            type="Opaque",
            string_data=secret_data,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after, protect=args.protect),
        )
        services(t, labels, child)
        workload = pulumi.ResourceOptions(parent=self, depends_on=[*after, config, secret])
        data_files = [f"redis-{i}.conf" for i in range(s.data_nodes)]
        sentinel_files = [f"sentinel-{i}.conf" for i in range(s.sentinels)]
        scripts = ["init-redis.sh", "start-redis.sh", "init-sentinel.sh", "probe.sh"]
        redis_statefulset(
            t,
            labels,
            digest_of(files, *data_files, *scripts),
            pulumi.ResourceOptions.merge(workload, pulumi.ResourceOptions(protect=args.protect)),
        )
        sentinel_statefulset(t, labels, digest_of(files, *sentinel_files, *scripts), workload)
        haproxy_deployment(t, labels, digest_of(files, HAPROXY_CFG), workload)
        if s.fencing:
            fencing_deployment(t, labels, workload)
        network_policy(t, labels, child)
        disruption_budgets(t, labels, child)
        if args.rules is not None:
            monitoring(t, labels, child, args.rules)

        self.names = names
        self.endpoint = RedisEndpoint(
            "sentinel",
            pulumi.Output.from_input(names.service_host(names.haproxy)),
            pulumi.Output.from_input(REDIS_PORT),
            tls=args.tls,
            password=password,
            sentinel_hosts=pulumi.Output.from_input(names.sentinel_nodes(s.sentinels)),
            sentinel_master=s.master_name,
            sentinel_password=sentinel_password,
            ca_pem=self._ca(t) if args.tls else None,
        )
        return {
            "namespace": s.namespace,
            "host": self.endpoint.host,
            "certificateDnsNames": list(names.certificate_dns_names),
        }

    def _ca(self, t: Topology) -> pulumi.Output[str]:
        """The CA: ``ca.crt`` of ``tlsCaConfigMap``, else of the TLS Secret; public either way."""
        s, opts = t.settings, pulumi.ResourceOptions(parent=self)
        if s.tls_ca_config_map is not None:
            where = f"{s.namespace}/{s.tls_ca_config_map}"
            config_map = k8s.core.v1.ConfigMap.get(f"{t.names.base}-ca", where, opts=opts)
            return config_map.data.apply(lambda data: _ca_entry(data, f"ConfigMap {where}"))
        where = f"{s.namespace}/{s.tls_secret_name}"
        secret = k8s.core.v1.Secret.get(f"{t.names.base}-tls", where, opts=opts)
        pem = secret.data.apply(
            lambda data: base64.b64decode(_ca_entry(data, f"Secret {where}")).decode()
        )
        return pulumi.Output.unsecret(pem)


def _password(name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    return random_password(name, parent, length=PASSWORD_LENGTH, specials=PASSWORD_SPECIALS)


def _ca_entry(data: Mapping[str, str] | None, where: str) -> str:
    if not data or TLS_CA not in data:
        raise pulumi.RunError(f"{where} has no {TLS_CA}: the CA of the TLS certificate is needed")
    return data[TLS_CA]


def deploy(config: StackConfig, settings: SentinelK8sSettings) -> RedisEndpoint:
    """Declare the :class:`SentinelK8sRedis` of the stack."""
    rules = load_rules() if settings.prometheus_rule else None
    args = SentinelK8sRedisArgs(
        settings, config.stack.tls, config.stack.protect, labels_of(config.tags), rules
    )
    return SentinelK8sRedis(config.stack.name, args).endpoint
