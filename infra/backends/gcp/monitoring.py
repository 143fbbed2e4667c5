"""Cloud Monitoring alert policies of a Memorystore instance.

Two policies: memory usage ratio above the threshold (default 0.9), and a
failover (a node's replication role changed), each to the optional
notification channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from .settings import GcpSettings

MEMORY_METRIC = "redis.googleapis.com/stats/memory/usage_ratio"
ROLE_METRIC = "redis.googleapis.com/replication/role"
Alert = gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs


def alert_policies(
    name: str,
    instance: gcp.redis.Instance,
    s: GcpSettings,
    labels: dict[str, str],
    parent: pulumi.Resource,
) -> list[gcp.monitoring.AlertPolicy]:
    """The memory and failover policies of ``instance``."""
    duration = f"{s.alerts.duration_seconds}s"
    memory = threshold_policy(
        f"{name}-memory",
        f"Redis {name}: memory usage ratio above {s.alerts.memory_usage_ratio}",
        _filter(instance, MEMORY_METRIC),
        threshold=s.alerts.memory_usage_ratio,
        duration=duration,
        # The highest ratio over a minute: eviction starts at the peak.
        aggregations=[Alert(alignment_period="60s", per_series_aligner="ALIGN_MAX")],
        s=s,
        labels=labels,
        parent=parent,
    )
    failover = threshold_policy(
        f"{name}-failover",
        f"Redis {name}: failover (a node's replication role changed)",
        _filter(instance, ROLE_METRIC),
        # Role is 1 on the primary and 0 on a replica: any change in the
        # window gives a deviation above 0. It fires at once.
        threshold=0,
        duration="0s",
        aggregations=[Alert(alignment_period="300s", per_series_aligner="ALIGN_STDDEV")],
        s=s,
        labels=labels,
        parent=parent,
    )
    return [memory, failover]


def _filter(instance: gcp.redis.Instance, metric: str) -> pulumi.Output[str]:
    return pulumi.Output.format(
        'resource.type = "redis_instance" AND resource.labels.instance_id = "{0}"'
        ' AND metric.type = "{1}"',
        instance.id,
        metric,
    )


def threshold_policy(
    resource_name: str,
    display_name: str,
    metric_filter: pulumi.Output[str],
    *,
    threshold: float,
    duration: str,
    aggregations: Sequence[Alert],
    s: GcpSettings,
    labels: dict[str, str],
    parent: pulumi.Resource,
) -> gcp.monitoring.AlertPolicy:
    """An alert policy: ``metric_filter`` above ``threshold`` for ``duration``, to the channels."""
    return gcp.monitoring.AlertPolicy(
        resource_name,
        project=s.project,
        display_name=display_name,
        combiner="OR",
        conditions=[
            gcp.monitoring.AlertPolicyConditionArgs(
                display_name=display_name,
                condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                    filter=metric_filter,
                    comparison="COMPARISON_GT",
                    threshold_value=threshold,
                    duration=duration,
                    aggregations=list(aggregations),
                ),
            )
        ],
        notification_channels=list(s.notification_channels),
        user_labels=labels,
        opts=pulumi.ResourceOptions(parent=parent),
    )
