"""``aragora-redis:aws``: the validated config section of the ElastiCache backend.

Environment-dependent defaults are filled in from :data:`POLICIES` before
validation; the environment's minimums are checked after it. Every rule that
would weaken the secure and HA defaults is refused here, before any resource
is declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from ...settings import ConfigModel, Environment, Problem, StackSettings
from ..common import BackendSettings, EnvironmentPolicy, MaxmemoryPolicy
from .values import (
    KmsKeyArn,
    MaintenanceWindow,
    NodeType,
    SecretName,
    SecurityGroupId,
    SnapshotWindow,
    SnsTopicArn,
    SubnetId,
    Username,
    VpcId,
    private_cidr,
    two_distinct,
    windows_overlap,
)

ENGINE_VERSIONS = {"redis": ("7.0", "7.1"), "valkey": ("7.2", "8.0", "8.1")}
DEFAULT_ENGINE_VERSION = {"redis": "7.1", "valkey": "8.0"}
#: The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
MAX_REPLICAS = 5
MAX_SHARDS = 500
MAX_SNAPSHOT_RETENTION_DAYS = 35


@dataclass(frozen=True)
class Policy(EnvironmentPolicy):
    """Defaults and minimums of one environment."""

    min_snapshot_retention_days: int
    may_apply_immediately: bool


def _policy(node_type: str, replicas: int, snapshots: int, log_days: int, *, prod: bool) -> Policy:
    # An environment's default replicas are also its minimum; prod also keeps a week of
    # snapshots at least and waits for the maintenance window.
    defaults = {
        "nodeType": node_type,
        "replicas": replicas,
        "snapshotRetentionDays": snapshots,
        "applyImmediately": not prod,
        "logRetentionDays": log_days,
    }
    return Policy(
        defaults,
        min_replicas=replicas,
        min_snapshot_retention_days=snapshots if prod else 1,
        may_apply_immediately=not prod,
    )


POLICIES: Mapping[Environment, Policy] = {
    "dev": _policy("cache.t4g.small", 1, 1, 7, prod=False),
    "staging": _policy("cache.t4g.medium", 1, 3, 14, prod=False),
    "prod": _policy("cache.r7g.large", 2, 7, 90, prod=True),
}


class AlarmThresholds(ConfigModel):
    """``aragora-redis:aws.alarms``: when the CloudWatch alarms fire (any node, sustained)."""

    cpu_percent: float = Field(80, gt=0, le=100)
    memory_percent: float = Field(90, gt=0, le=100)
    evictions: int = Field(0, ge=0)
    replication_lag_seconds: float = Field(10, gt=0)
    connections: int = Field(5000, ge=1, le=65000)


class AwsSettings(BackendSettings):
    """``aragora-redis:aws``: one ElastiCache replication group and what surrounds it.

    Keys without a default here get their environment's from :data:`POLICIES`.
    """

    SECTION = "aws"
    TLS_REQUIRED = (
        "ElastiCache takes AUTH tokens and RBAC users only over TLS, and auth is always on"
    )
    vpc_id: VpcId
    subnet_ids: Annotated[tuple[SubnetId, ...], AfterValidator(two_distinct)]
    allowed_security_group_ids: tuple[SecurityGroupId, ...] = ()
    allowed_cidrs: tuple[Annotated[str, AfterValidator(private_cidr)], ...] = ()
    engine: Literal["redis", "valkey"] = "redis"
    engine_version: str
    mode: Literal["replication", "cluster"] = "replication"
    node_type: NodeType
    replicas: int
    shards: int | None = None
    port: int = Field(6379, ge=1024, le=65535)
    maxmemory_policy: MaxmemoryPolicy = "volatile-ttl"
    auth_mode: Literal["token", "rbac"] = "token"
    auth_version: int = Field(1, ge=1)
    auth_update_strategy: Literal["ROTATE", "SET"] = "ROTATE"
    username: Username = "aragora"
    kms_key_id: KmsKeyArn | None = None
    snapshot_retention_days: int
    snapshot_window: SnapshotWindow = "03:00-04:00"
    maintenance_window: MaintenanceWindow = "sun:05:00-sun:06:00"
    apply_immediately: bool
    log_retention_days: int
    alarm_topic_arn: SnsTopicArn | None = None
    alarms: AlarmThresholds = Field(default_factory=lambda: AlarmThresholds.model_validate({}))
    secret_name: SecretName | None = None

    @classmethod
    def environment_defaults(
        cls, data: Mapping[str, Any], environment: Environment
    ) -> Mapping[str, Any]:
        """The environment's :data:`POLICIES` defaults and the engine's default version."""
        engine = data.get("engine", "redis")
        return {
            **POLICIES[environment].defaults,
            "engineVersion": DEFAULT_ENGINE_VERSION.get(engine, ""),
        }

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """The engine, replicas, shards, snapshot, window and reachability rules."""
        policy = POLICIES[stack.environment]
        env = stack.environment
        bad = self.reporter(problems)
        if self.engine_version not in ENGINE_VERSIONS[self.engine]:
            bad(
                "engineVersion",
                self.engine_version,
                f"one of {', '.join(ENGINE_VERSIONS[self.engine])} for engine {self.engine}",
            )
        if not policy.min_replicas <= self.replicas <= MAX_REPLICAS:
            bad(
                "replicas",
                self.replicas,
                f"{policy.min_replicas} to {MAX_REPLICAS} replicas"
                f" per primary in {env} (each in another AZ than its primary)",
            )
        if self.mode == "replication" and self.shards is not None:
            bad("shards", self.shards, "no value: shards apply only with mode cluster")
        if self.mode == "cluster" and not 1 <= self.shard_count <= MAX_SHARDS:
            bad("shards", self.shards, f"1 to {MAX_SHARDS} shards")
        retention = self.snapshot_retention_days
        if not policy.min_snapshot_retention_days <= retention <= MAX_SNAPSHOT_RETENTION_DAYS:
            bad(
                "snapshotRetentionDays",
                retention,
                f"{policy.min_snapshot_retention_days} to"
                f" {MAX_SNAPSHOT_RETENTION_DAYS} days in {env}",
            )
        if self.apply_immediately and not policy.may_apply_immediately:
            bad(
                "applyImmediately",
                True,
                f"false in {env} (changes wait for the maintenance window)",
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            bad(
                "logRetentionDays",
                self.log_retention_days,
                f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
            )
        if not self.allowed_security_group_ids and not self.allowed_cidrs:
            bad(
                "allowedSecurityGroupIds",
                [],
                "at least one security group (or allowedCidrs)"
                " that may reach Redis; nothing else can",
            )
        if windows_overlap(self.snapshot_window, self.maintenance_window):
            bad(
                "snapshotWindow",
                self.snapshot_window,
                f"a window that does not overlap maintenanceWindow {self.maintenance_window}",
            )
        if self.auth_mode == "token" and "username" in self.model_fields_set:
            bad("username", self.username, "no value: username applies only with authMode rbac")

    @property
    def shard_count(self) -> int:
        """Node groups: ``shards`` in cluster mode (default 2), else 1."""
        if self.mode == "replication":
            return 1
        return 2 if self.shards is None else self.shards

    @property
    def family(self) -> str:
        """The parameter group family, e.g. ``redis7`` or ``valkey8``."""
        return f"{self.engine}{self.engine_version.split('.')[0]}"
