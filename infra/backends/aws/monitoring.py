"""Logs and alarms of the ElastiCache backend.

Slow-log and engine-log go to CloudWatch log groups with a retention. Each
alarm watches the worst node: ElastiCache publishes its metrics per member
cluster (``<group>-001``... , ``<group>-0001-001``... in cluster mode), so an
alarm takes the MAX of up to 10 members (CloudWatch's limit per metric-math
alarm) and larger clusters get one alarm per 10 members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .settings import AlarmThresholds, AwsSettings

LOG_TYPES = ("slow-log", "engine-log")
NAMESPACE = "AWS/ElastiCache"
MAX_METRICS_PER_ALARM = 10


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm kind: a metric, how it is reduced, and the threshold it must stay under."""

    slug: str
    metric: str
    statistic: str
    threshold: Callable[[AlarmThresholds], float]
    period: int
    evaluation_periods: int
    treat_missing_data: str
    description: str


ALARMS = (
    AlarmSpec("engine-cpu", "EngineCPUUtilization", "Average", lambda t: t.cpu_percent,
              60, 5, "missing", "Redis engine thread busy"),
    AlarmSpec("memory", "DatabaseMemoryUsagePercentage", "Average", lambda t: t.memory_percent,
              60, 5, "missing", "used memory near maxmemory: evictions or write errors next"),
    AlarmSpec("evictions", "Evictions", "Sum", lambda t: t.evictions,
              300, 1, "notBreaching", "keys evicted for lack of memory"),
    AlarmSpec("replication-lag", "ReplicationLag", "Maximum", lambda t: t.replication_lag_seconds,
              60, 5, "notBreaching", "a replica is behind its primary (primaries report nothing)"),
    AlarmSpec("connections", "CurrConnections", "Maximum", lambda t: t.connections,
              60, 5, "missing", "client connections far above Aragora's pools"),
)  # fmt: skip


def log_groups(
    name: str, retention_days: int, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> dict[str, aws.cloudwatch.LogGroup]:
    """One CloudWatch log group per ElastiCache log type."""
    return {
        log_type: aws.cloudwatch.LogGroup(
            f"{name}-{log_type}",
            name=f"/aws/elasticache/{name}/{log_type}",
            retention_in_days=retention_days,
            tags=tags,
            opts=opts,
        )
        for log_type in LOG_TYPES
    }


def log_delivery(
    groups: dict[str, aws.cloudwatch.LogGroup],
) -> list[aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs]:
    """The replication group's log delivery to ``groups``, as JSON."""
    return [
        aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
            destination=group.name,
            destination_type="cloudwatch-logs",
            log_format="json",
            log_type=log_type,
        )
        for log_type, group in groups.items()
    ]


def alarms(
    group_id: str,
    members: Sequence[str],
    settings: AwsSettings,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> list[aws.cloudwatch.MetricAlarm]:
    """The alarms on ``members``, notifying ``alarmTopicArn`` when it is set."""
    actions = [settings.alarm_topic_arn] if settings.alarm_topic_arn else []
    chunks = [
        members[i : i + MAX_METRICS_PER_ALARM]
        for i in range(0, len(members), MAX_METRICS_PER_ALARM)
    ]
    out = []
    for spec in ALARMS:
        for index, chunk in enumerate(chunks, start=1):
            suffix = f"-{index}" if len(chunks) > 1 else ""
            alarm_name = f"{group_id}-{spec.slug}{suffix}"
            out.append(
                aws.cloudwatch.MetricAlarm(
                    alarm_name,
                    name=alarm_name,
                    alarm_description=f"{spec.metric} on {group_id}: {spec.description}",
                    comparison_operator="GreaterThanThreshold",
                    threshold=spec.threshold(settings.alarms),
                    evaluation_periods=spec.evaluation_periods,
                    datapoints_to_alarm=spec.evaluation_periods,
                    treat_missing_data=spec.treat_missing_data,
                    metric_queries=_worst_member(spec, chunk),
                    alarm_actions=actions,
                    ok_actions=actions,
                    tags=tags,
                    opts=opts,
                )
            )
    return out


def _worst_member(
    spec: AlarmSpec, members: Sequence[str]
) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
    queries = [
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=f"m{i}",
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=NAMESPACE,
                metric_name=spec.metric,
                dimensions={"CacheClusterId": member},
                period=spec.period,
                stat=spec.statistic,
            ),
        )
        for i, member in enumerate(members)
    ]
    worst = aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id="worst", expression="MAX(METRICS())", label=f"max {spec.metric}", return_data=True
    )
    return [*queries, worst]
