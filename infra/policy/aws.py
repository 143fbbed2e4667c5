"""The pack's checks for AWS: the ElastiCache replication group and security group ingress.

One table per concern (resource type -> check); :mod:`infra.policy.rules`
merges them with the other clouds' into one policy per concern.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Check, Subject, key, number, open_cidr, present, secret_properties

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
USER = "aws:elasticache/user:User"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"  # noqa: S105 (a type token)
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def tls(s: Subject) -> Iterable[str]:
    """TLS on and required (``transitEncryptionMode`` ``preferred`` lets plaintext in)."""
    if s.get("transitEncryptionEnabled") is not True:
        yield (
            "transit encryption is off: set transitEncryptionEnabled true"
            f" ({key('tls')} must stay true)"
        )
    mode = s.get("transitEncryptionMode")
    if mode is not None and mode != "required":
        yield f"transitEncryptionMode is {mode!r}: set it to 'required' so no client skips TLS"


def auth(s: Subject) -> Iterable[str]:
    """An AUTH token or an RBAC user group."""
    if not present(s.props, "authToken") and not present(s.props, "userGroupIds"):
        yield f"no AUTH token and no user group: set {key('aws', 'authMode')} (token or rbac)"


def high_availability(s: Subject) -> Iterable[str]:
    """Automatic failover, Multi-AZ, a replica per shard, nodes in two or more AZs."""
    if s.get("automaticFailoverEnabled") is not True:
        yield "automatic failover is off: set automaticFailoverEnabled true"
    if s.get("multiAzEnabled") is not True:
        yield "Multi-AZ is off: set multiAzEnabled true"
    if s.get("clusterMode") == "enabled":
        if number(s.get("replicasPerNodeGroup")) < 1:
            yield f"a shard has no replica: set {key('aws', 'replicas')} to 1 or more"
    elif number(s.get("numCacheClusters")) < 2:
        yield f"fewer than 2 nodes: set {key('aws', 'replicas')} to 1 or more"
    zones = s.get("preferredCacheClusterAzs")
    if isinstance(zones, list) and zones and len(set(zones)) < 2:
        yield f"every node in one AZ: list subnets of 2+ AZs in {key('aws', 'subnetIds')}"


def encryption_at_rest(s: Subject) -> Iterable[str]:
    """At-rest encryption, which ElastiCache offers but does not turn on by itself."""
    if s.get("atRestEncryptionEnabled") is not True:
        yield "encryption at rest is off: set atRestEncryptionEnabled true"


def backups(s: Subject) -> Iterable[str]:
    """Daily snapshots kept for at least a day."""
    if number(s.get("snapshotRetentionLimit")) < 1:
        yield f"no snapshots kept: set {key('aws', 'snapshotRetentionDays')} to 1 or more"


def maintenance_window(s: Subject) -> Iterable[str]:
    """A fixed weekly maintenance window."""
    if not s.get("maintenanceWindow"):
        yield f"no maintenance window: set {key('aws', 'maintenanceWindow')}"


def _open_sources(cidrs: Any) -> list[str]:
    values = cidrs if isinstance(cidrs, list) else [cidrs]
    return [c for c in values if open_cidr(c)]


def _refuse(sources: list[str]) -> Iterable[str]:
    for cidr in sources:
        yield (
            f"ingress from {cidr}, which is not a private range: allow security groups"
            f" ({key('aws', 'allowedSecurityGroupIds')}) or private CIDRs"
            f" ({key('aws', 'allowedCidrs')})"
        )


def ingress_rule(s: Subject) -> Iterable[str]:
    """A standalone ingress rule (``aws.vpc``) from a private range or a security group."""
    yield from _refuse(_open_sources([s.get("cidrIpv4"), s.get("cidrIpv6")]))


def security_group_rule(s: Subject) -> Iterable[str]:
    """An ``aws.ec2.SecurityGroupRule`` of type ingress from private ranges only."""
    if s.get("type") == "ingress":
        cidrs = [*(s.get("cidrBlocks") or []), *(s.get("ipv6CidrBlocks") or [])]
        yield from _refuse(_open_sources(cidrs))


def security_group(s: Subject) -> Iterable[str]:
    """Inline ingress blocks of a security group from private ranges only."""
    for rule in s.get("ingress") or []:
        if isinstance(rule, Mapping):
            cidrs = [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]
            yield from _refuse(_open_sources(cidrs))


TLS: dict[str, Check] = {REPLICATION_GROUP: tls}
AUTH: dict[str, Check] = {REPLICATION_GROUP: auth}
HIGH_AVAILABILITY: dict[str, Check] = {REPLICATION_GROUP: high_availability}
PRIVATE_NETWORK: dict[str, Check] = {
    INGRESS_RULE: ingress_rule,
    SECURITY_GROUP_RULE: security_group_rule,
    SECURITY_GROUP: security_group,
}
ENCRYPTION_AT_REST: dict[str, Check] = {REPLICATION_GROUP: encryption_at_rest}
BACKUPS: dict[str, Check] = {REPLICATION_GROUP: backups}
MAINTENANCE_WINDOW: dict[str, Check] = {REPLICATION_GROUP: maintenance_window}
SECRETS: dict[str, Check] = {
    REPLICATION_GROUP: secret_properties("authToken"),
    USER: secret_properties("passwords"),
    SECRET_VERSION: secret_properties("secretString"),
}
STATEFUL = (REPLICATION_GROUP,)
#: Alarm type -> the property listing whom it notifies.
ALARMS = {ALARM: "alarmActions"}
