"""The pack's checks for the self-hosted Sentinel backend on Kubernetes.

TLS lives in the rendered redis.conf / sentinel.conf (a ConfigMap or Secret
entry ending in ``.conf``): ``port 0`` closes the plaintext port and
``tls-port`` opens the TLS one. High availability is the StatefulSets'
replicas spread over zones; the network stays private when no Service is a
LoadBalancer or NodePort open to the internet and the pods are behind a
NetworkPolicy admitting no ``0.0.0.0/0`` (checked stack-wide in
:mod:`infra.policy.rules`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from .core import Check, Subject, key, number, open_cidr, secret_properties

STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"  # noqa: S105 (a type token)
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
ZONE_KEY = "topology.kubernetes.io/zone"
SECTION = "sentinel-k8s"


def conf_files(s: Subject) -> Iterator[tuple[str, str]]:
    """``(name, text)`` of each ``*.conf`` entry of a ConfigMap or Secret (decoded).

    An entry unknown during preview (rendered from another resource's output)
    is left out; it is checked once known.
    """
    for field, encoded in (("data", s.type == SECRET), ("stringData", False)):
        try:
            entries = s.get(field) or {}
        except UnknownValueError:
            continue
        for name in [n for n in entries if n.endswith(".conf")]:
            try:
                text = entries[name]
            except UnknownValueError:
                continue
            if isinstance(text, str):
                yield name, _decoded(text) if encoded else text


def _decoded(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return text


def directives(conf: str) -> dict[str, str]:
    """The first value of each directive of a redis.conf / sentinel.conf text."""
    out: dict[str, str] = {}
    for line in conf.splitlines():
        parts = line.strip().split(None, 1)
        if parts and not parts[0].startswith("#"):
            out.setdefault(parts[0].lower(), parts[1] if len(parts) > 1 else "")
    return out


def conf_tls(s: Subject) -> Iterable[str]:
    """Every Redis/Sentinel config closes the plaintext port and listens on ``tls-port``."""
    for name, text in conf_files(s):
        found = directives(text)
        if "port" not in found and "tls-port" not in found:
            continue  # not a server config
        plaintext = found.get("port", "6379") != "0"
        if plaintext or number(found.get("tls-port")) <= 0:
            problem = "listens in plaintext" if plaintext else "has no tls-port"
            yield f"{name} {problem}: render it with port 0 and a tls-port ({key('tls')} true)"


def spread_over_zones(spec: Mapping[str, Any]) -> bool:
    """Whether a pod spec spreads its pods over zones (a spread constraint or anti-affinity)."""
    constraints = spec.get("topologySpreadConstraints") or []
    if any(c.get("topologyKey") == ZONE_KEY for c in constraints if isinstance(c, Mapping)):
        return True
    anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
    terms = [
        *(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []),
        *(
            t.get("podAffinityTerm") or {}
            for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ),
    ]
    return any(t.get("topologyKey") == ZONE_KEY for t in terms if isinstance(t, Mapping))


def stateful_set_ha(s: Subject) -> Iterable[str]:
    """Two or more pods, spread over zones."""
    if number(s.get("spec.replicas"), 1) < 2:
        sentinels = _component(s) == "sentinel"
        count = key(SECTION, "sentinels") if sentinels else key(SECTION, "replicas")
        yield f"fewer than 2 pods: raise {count}"
    if not spread_over_zones(s.get("spec.template.spec") or {}):
        yield (
            f"pods not spread over zones: set {key(SECTION, 'zoneSpread')}"
            f" (a topologySpreadConstraint on {ZONE_KEY})"
        )


def _component(s: Subject) -> Any:
    return (s.get("spec.template.metadata.labels") or {}).get("app.kubernetes.io/component")


def data_on_volumes(s: Subject) -> Iterable[str]:
    """The data pods (component ``redis``) keep their AOF/RDB files on persistent volumes."""
    if _component(s) == "redis" and not s.get("spec.volumeClaimTemplates"):
        yield f"data on ephemeral storage: give the pods volumes ({key(SECTION, 'storageSize')})"


def service_exposure(s: Subject) -> Iterable[str]:
    """No NodePort, and a LoadBalancer only with private source ranges."""
    kind = s.get("spec.type")
    if kind == "NodePort":
        yield "type NodePort opens the port on every node: use ClusterIP"
    elif kind == "LoadBalancer":
        ranges = s.get("spec.loadBalancerSourceRanges") or []
        if not ranges:
            yield "a LoadBalancer open to any source: use ClusterIP or set loadBalancerSourceRanges"
        for cidr in ranges:
            if open_cidr(cidr):
                yield f"a LoadBalancer open to {cidr}: allow private ranges only"


def network_policy(s: Subject) -> Iterable[str]:
    """Ingress rules that name their sources, none of them the internet."""
    for index, rule in enumerate(s.get("spec.ingress") or []):
        peers = rule.get("from") if isinstance(rule, Mapping) else None
        if not peers:
            yield f"ingress rule {index} admits every source: list pod or namespace selectors"
            continue
        for peer in peers:
            cidr = (peer.get("ipBlock") or {}).get("cidr") if isinstance(peer, Mapping) else None
            if open_cidr(cidr):
                yield f"ingress rule {index} admits {cidr}: allow private ranges only"


TLS: dict[str, Check] = {CONFIG_MAP: conf_tls, SECRET: conf_tls}
HIGH_AVAILABILITY: dict[str, Check] = {STATEFUL_SET: stateful_set_ha}
PRIVATE_NETWORK: dict[str, Check] = {SERVICE: service_exposure, NETWORK_POLICY: network_policy}
BACKUPS: dict[str, Check] = {STATEFUL_SET: data_on_volumes}
SECRETS: dict[str, Check] = {SECRET: secret_properties("data", "stringData")}
STATEFUL = (STATEFUL_SET,)
#: Alerting rules route through Alertmanager; a rule with groups is an alarm.
ALARMS = {PROMETHEUS_RULE: "spec.groups"}
