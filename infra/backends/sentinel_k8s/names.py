"""Object names, DNS names, labels and ports of one Sentinel topology on Kubernetes (I/O-free).

Every object name derives from the stack's ``name`` (at most 40 characters), so
the longest, ``<name>-sentinel-headless``, stays a valid DNS label and each
StatefulSet name leaves room for the controller's revision hash label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aragora_redis import HostPort

Component = Literal["redis", "sentinel", "haproxy", "fencing"]
REDIS_PORT = 6379
SENTINEL_PORT = 26379
EXPORTER_PORT = 9121
HAPROXY_STATS_PORT = 8404
#: Where the pods find their files.
DATA_DIR = "/data"
CONF_DIR = "/etc/redis"
CONFIG_MOUNT = "/config"
AUTH_MOUNT = "/auth"
TLS_MOUNT = "/tls"
HAPROXY_CONF_DIR = "/usr/local/etc/haproxy"
#: The keys of the TLS Secret (cert-manager's layout).
TLS_CERT, TLS_KEY, TLS_CA = "tls.crt", "tls.key", "ca.crt"


@dataclass(frozen=True)
class Names:
    """The names of one deployment: ``base`` (the stack's name) in ``namespace``."""

    base: str
    namespace: str
    cluster_domain: str = "cluster.local"

    @property
    def redis(self) -> str:
        """The data StatefulSet; its pods are ``<redis>-<ordinal>``."""
        return f"{self.base}-redis"

    @property
    def redis_headless(self) -> str:
        """The headless Service that gives each data pod its DNS name."""
        return f"{self.base}-redis-headless"

    @property
    def sentinel(self) -> str:
        """The Sentinel StatefulSet and its client Service (port 26379)."""
        return f"{self.base}-sentinel"

    @property
    def sentinel_headless(self) -> str:
        """The headless Service that gives each Sentinel pod its DNS name."""
        return f"{self.base}-sentinel-headless"

    @property
    def haproxy(self) -> str:
        """The HAProxy Deployment and its Service (port 6379, always the master)."""
        return f"{self.base}-haproxy"

    @property
    def fencing(self) -> str:
        """The fencing watcher's Deployment (one pod, no Service)."""
        return f"{self.base}-fencing"

    @property
    def config(self) -> str:
        """The ConfigMap: configs without secrets, scripts."""
        return f"{self.base}-config"

    @property
    def auth(self) -> str:
        """The Secret: passwords and the password lines of the configs."""
        return f"{self.base}-auth"

    def service_host(self, service: str) -> str:
        """The cluster DNS name of a Service."""
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"

    def redis_pod(self, ordinal: int) -> str:
        """The DNS name of one data pod."""
        return f"{self.redis}-{ordinal}.{self.service_host(self.redis_headless)}"

    def sentinel_pod(self, ordinal: int) -> str:
        """The DNS name of one Sentinel pod."""
        return f"{self.sentinel}-{ordinal}.{self.service_host(self.sentinel_headless)}"

    def redis_nodes(self, count: int) -> tuple[HostPort, ...]:
        """The data pods as host:port."""
        return tuple(HostPort(self.redis_pod(i), REDIS_PORT) for i in range(count))

    def sentinel_nodes(self, count: int) -> tuple[HostPort, ...]:
        """The Sentinel pods as host:port (``ARAGORA_REDIS_SENTINEL_HOSTS``)."""
        return tuple(HostPort(self.sentinel_pod(i), SENTINEL_PORT) for i in range(count))

    @property
    def certificate_dns_names(self) -> tuple[str, ...]:
        """What the TLS certificate must cover: every pod, the Sentinel and HAProxy Services."""
        return (
            f"*.{self.service_host(self.redis_headless)}",
            f"*.{self.service_host(self.sentinel_headless)}",
            self.service_host(self.sentinel),
            self.service_host(self.haproxy),
        )

    def selector(self, component: Component) -> dict[str, str]:
        """The labels that select one workload's pods."""
        return {
            "app.kubernetes.io/name": "redis",
            "app.kubernetes.io/instance": self.base,
            "app.kubernetes.io/component": component,
        }

    @property
    def instance_selector(self) -> dict[str, str]:
        """The labels that select every pod of this deployment."""
        return {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": self.base}


def labels_of(tags: dict[str, str]) -> dict[str, str]:
    """Stack tags as valid label keys and values (other characters become ``-``)."""

    def clean(text: str, limit: int) -> str:
        text = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:limit]
        return text.strip("-_.")

    out = {}
    for key, value in tags.items():
        name = clean(key, 63)
        if name:
            out[name] = clean(value, 63)
    return out
