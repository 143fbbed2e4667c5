"""Optional Prometheus operator objects: a PrometheusRule from ``infra/alerts/redis-rules.yml``
and a PodMonitor that scrapes the exporter sidecars and HAProxy.

Both are ``monitoring.coreos.com/v1`` custom resources, so the cluster needs the
Prometheus operator's CRDs; ``prometheusRule`` turns them on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml  # type: ignore[import-untyped]  # pyyaml, a dependency of pulumi, has no stubs

from ...settings import Problem, config_key, fail
from .conf import Topology
from .settings import SECTION

#: The rules file, shared with ``promtool test rules``.
RULES_FILE = Path(__file__).resolve().parents[2] / "alerts" / "redis-rules.yml"


def load_rules(path: Path = RULES_FILE) -> dict[str, Any]:
    """The rules file's ``groups`` as a PrometheusRule ``spec``; a named error if it is unusable."""
    key = config_key(SECTION, "prometheusRule")
    if not path.is_file():
        fail([Problem(key, True, f"false until {path.name} exists in infra/alerts")])
    data = yaml.safe_load(path.read_text())
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not groups:
        fail([Problem(key, True, f"false until {path.name} has a non-empty list of groups")])
    return {"groups": groups}


def monitoring(
    t: Topology, labels: dict[str, str], opts: pulumi.ResourceOptions, rules: dict[str, Any]
) -> list[k8s.apiextensions.CustomResource]:
    """The PrometheusRule (``rules``) and a PodMonitor for every metrics port of the topology.

    The PodMonitor is named ``<name>-redis-metrics``, so its job matches the rules' ``.*redis.*``.
    """
    n, s = t.names, t.settings
    selected = {**labels, **s.prometheus_rule_labels}
    rule = k8s.apiextensions.CustomResource(
        f"{n.base}-alerts",
        api_version="monitoring.coreos.com/v1",
        kind="PrometheusRule",
        metadata={"name": f"{n.base}-alerts", "namespace": n.namespace, "labels": selected},
        spec=rules,
        opts=opts,
    )
    monitor = k8s.apiextensions.CustomResource(
        f"{n.redis}-metrics",
        api_version="monitoring.coreos.com/v1",
        kind="PodMonitor",
        metadata={"name": f"{n.redis}-metrics", "namespace": n.namespace, "labels": selected},
        spec={
            "selector": {"matchLabels": n.instance_selector},
            "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
        },
        opts=opts,
    )
    return [rule, monitor]
