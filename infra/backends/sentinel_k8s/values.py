"""Value types of the ``aragora-redis:sentinel-k8s`` section: names, images, quantities, resources.

Each type says in its error what form is allowed, so a bad value is reported
with the key, the value and the expected form.
"""

from __future__ import annotations

import re
from typing import Annotated

import pulumi_kubernetes as k8s
from pydantic import Field

from ...settings import ConfigModel, matching

#: A DNS-1123 label: namespaces, Secret and ConfigMap names, label-free object names.
DnsLabel = Annotated[
    str,
    matching(
        r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
        "a DNS label: up to 63 lowercase letters, digits and hyphens, not starting or ending"
        " with a hyphen",
    ),
]
#: An object name such as a Secret's (DNS-1123 subdomain).
ObjectName = Annotated[
    str,
    matching(
        r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?",
        "a Kubernetes object name: lowercase letters, digits, '-' and '.', at most 253",
    ),
]
#: An image with a pinned tag or digest; ``latest``, untagged and Bitnami images are refused
#: (Bitnami's free images stopped getting updates).
PinnedImage = Annotated[
    str,
    matching(
        r"(?!.*:latest$)(?!(.*/)?bitnami(legacy)?/)[a-z0-9][a-z0-9._/-]*"
        r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})",
        "an image pinned to a version tag or digest, e.g. redis:7.4.2"
        " (not latest, not untagged, not Bitnami)",
    ),
]
#: A Kubernetes quantity of CPU, e.g. ``250m`` or ``1``.
Cpu = Annotated[str, matching(r"[0-9]+(\.[0-9]+)?m?", "a CPU quantity such as 250m or 1")]
#: A Kubernetes quantity of bytes, e.g. ``512Mi`` or ``8Gi``.
Memory = Annotated[
    str, matching(r"[0-9]+(Ki|Mi|Gi|Ti)", "a byte quantity in Ki, Mi, Gi or Ti, e.g. 512Mi")
]
#: A label key (optionally prefixed) or value.
LabelKey = Annotated[
    str,
    matching(
        r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?",
        "a label key such as app or app.kubernetes.io/name",
    ),
]
LabelValue = Annotated[
    str,
    matching(
        r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?",
        "a label value: up to 63 letters, digits, '-', '_' and '.'",
    ),
]
#: A Redis ``maxmemory`` size as Redis reads it, e.g. ``768mb``.
RedisBytes = Annotated[str, matching(r"[1-9][0-9]*(kb|mb|gb)", "a size such as 768mb or 2gb")]


_QUANTITY_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_REDIS_UNITS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3}


def quantity_bytes(quantity: str) -> int:
    """Bytes of a :data:`Memory` quantity (``512Mi``)."""
    match = re.fullmatch(r"([0-9]+)(Ki|Mi|Gi|Ti)", quantity)
    if match is None:
        raise ValueError(f"{quantity!r} is not a quantity in Ki, Mi, Gi or Ti")
    return int(match[1]) * _QUANTITY_UNITS[match[2]]


def redis_bytes(size: str) -> int:
    """Bytes of a :data:`RedisBytes` size (``768mb``; Redis counts kb/mb/gb in powers of 1024)."""
    match = re.fullmatch(r"([0-9]+)(kb|mb|gb)", size)
    if match is None:
        raise ValueError(f"{size!r} is not a size in kb, mb or gb")
    return int(match[1]) * _REDIS_UNITS[match[2]]


class ContainerResources(ConfigModel):
    """Requests and limits of one container (Kubernetes quantities)."""

    cpu_request: Cpu
    memory_request: Memory
    cpu_limit: Cpu
    memory_limit: Memory

    def as_k8s(self) -> k8s.core.v1.ResourceRequirementsArgsDict:
        """The container's ``resources`` object."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> ContainerResources:
    return ContainerResources.model_validate(
        {
            "cpuRequest": cpu,
            "memoryRequest": memory,
            "cpuLimit": cpu_limit,
            "memoryLimit": memory_limit,
        }
    )


class Resources(ConfigModel):
    """``aragora-redis:sentinel-k8s.resources``: requests and limits per container."""

    redis: ContainerResources = Field(default_factory=lambda: _resources("250m", "1Gi", "1", "1Gi"))
    sentinel: ContainerResources = Field(
        default_factory=lambda: _resources("50m", "64Mi", "250m", "128Mi")
    )
    exporter: ContainerResources = Field(
        default_factory=lambda: _resources("25m", "32Mi", "100m", "64Mi")
    )
    haproxy: ContainerResources = Field(
        default_factory=lambda: _resources("50m", "64Mi", "500m", "128Mi")
    )
    fencing: ContainerResources = Field(
        default_factory=lambda: _resources("25m", "64Mi", "250m", "128Mi")
    )
