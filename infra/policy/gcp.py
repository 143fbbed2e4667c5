"""The pack's checks for Google Cloud: Memorystore for Redis, Redis Cluster, Memorystore (Valkey).

Memorystore encrypts data at rest itself (Google-managed or a customer key),
so there is no at-rest check here; Memorystore is reached only through
private service access or Private Service Connect, so the network check is
that an instance names its VPC.
"""

from __future__ import annotations

from collections.abc import Iterable

from .core import Check, Subject, key, number, secret_properties

INSTANCE = "gcp:redis/instance:Instance"
CLUSTER = "gcp:redis/cluster:Cluster"
VALKEY = "gcp:memorystore/instance:Instance"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"  # noqa: S105 (a type token)
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
_TLS_ON = {
    INSTANCE: "SERVER_AUTHENTICATION",
    CLUSTER: "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION",
    VALKEY: "SERVER_AUTHENTICATION",
}
_IAM_AUTH = {CLUSTER: "AUTH_MODE_IAM_AUTH", VALKEY: "IAM_AUTH"}


def tls(s: Subject) -> Iterable[str]:
    """Transit encryption with server authentication (off by default on every type)."""
    wanted = _TLS_ON[s.type]
    if s.get("transitEncryptionMode") != wanted:
        yield f"TLS is off: set transitEncryptionMode {wanted} ({key('tls')} must stay true)"


def instance_auth(s: Subject) -> Iterable[str]:
    """AUTH on a Memorystore for Redis instance."""
    if s.get("authEnabled") is not True:
        yield "AUTH is off: set authEnabled true"


def iam_auth(s: Subject) -> Iterable[str]:
    """IAM authentication on a cluster or Valkey instance (their only authentication)."""
    wanted = _IAM_AUTH[s.type]
    if s.get("authorizationMode") != wanted:
        yield f"authentication is off: set authorizationMode {wanted}"


def instance_ha(s: Subject) -> Iterable[str]:
    """STANDARD_HA: a replica in another zone and automatic failover."""
    if s.get("tier") != "STANDARD_HA":
        yield f"no replica and no failover: set {key('gcp', 'tier')} STANDARD_HA"
    if s.get("replicaCount") is not None and number(s.get("replicaCount")) < 1:
        yield f"no replica: set {key('gcp', 'replicas')} to 1 or more"
    zone, alternative = s.get("locationId"), s.get("alternativeLocationId")
    if zone is not None and zone == alternative:
        yield f"replica in the primary's zone: set {key('gcp', 'alternativeZone')} to another zone"


def sharded_ha(s: Subject) -> Iterable[str]:
    """A replica per shard (failover needs one) spread over zones."""
    if number(s.get("replicaCount")) < 1:
        yield "no replica per shard, so no failover: set replicaCount to 1 or more"
    if s.get("zoneDistributionConfig.mode") == "SINGLE_ZONE":
        yield "all nodes in one zone: set zoneDistributionConfig.mode MULTI_ZONE"


def instance_network(s: Subject) -> Iterable[str]:
    """An instance attached to a named VPC (private service access or direct peering)."""
    if not s.get("authorizedNetwork"):
        yield f"no VPC named: set {key('gcp', 'network')}"


def cluster_network(s: Subject) -> Iterable[str]:
    """A cluster reachable through Private Service Connect in a named VPC."""
    if not s.get("pscConfigs"):
        yield "no Private Service Connect network: set pscConfigs to the VPC"


def instance_backups(s: Subject) -> Iterable[str]:
    """RDB snapshots of an instance."""
    if s.get("persistenceConfig.persistenceMode") != "RDB":
        yield (
            f"no RDB snapshots: set persistenceConfig.persistenceMode RDB"
            f" ({key('gcp', 'snapshotPeriod')})"
        )


def sharded_backups(s: Subject) -> Iterable[str]:
    """RDB or AOF persistence, or automated backups, of a cluster or Valkey instance."""
    persisted = s.get("persistenceConfig.mode") in ("RDB", "AOF")
    if not persisted and not s.get("automatedBackupConfig"):
        yield "no persistence and no automated backups: set persistenceConfig.mode RDB or AOF"


def maintenance_window(s: Subject) -> Iterable[str]:
    """A weekly maintenance window."""
    if not s.get("maintenancePolicy.weeklyMaintenanceWindows"):
        day = key("gcp", "maintenanceDay")
        yield f"no weekly maintenance window: set {day} and maintenanceHour"


TLS: dict[str, Check] = {INSTANCE: tls, CLUSTER: tls, VALKEY: tls}
AUTH: dict[str, Check] = {INSTANCE: instance_auth, CLUSTER: iam_auth, VALKEY: iam_auth}
HIGH_AVAILABILITY: dict[str, Check] = {
    INSTANCE: instance_ha,
    CLUSTER: sharded_ha,
    VALKEY: sharded_ha,
}
PRIVATE_NETWORK: dict[str, Check] = {INSTANCE: instance_network, CLUSTER: cluster_network}
BACKUPS: dict[str, Check] = {
    INSTANCE: instance_backups,
    CLUSTER: sharded_backups,
    VALKEY: sharded_backups,
}
MAINTENANCE_WINDOW: dict[str, Check] = {
    INSTANCE: maintenance_window,
    CLUSTER: maintenance_window,
    VALKEY: maintenance_window,
}
SECRETS: dict[str, Check] = {
    INSTANCE: secret_properties("authString"),
    SECRET_VERSION: secret_properties("secretData"),
}
STATEFUL = (INSTANCE, CLUSTER, VALKEY)
ALARMS = {ALERT_POLICY: "notificationChannels"}
