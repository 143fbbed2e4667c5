"""``aragora-redis:gcp``: the validated config section of the Memorystore backend.

Environment-dependent defaults come from :data:`POLICIES`; every rule that
would weaken the secure and HA defaults is refused here, before any resource is
declared, with an error naming the key, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from ...settings import (
    ConfigModel,
    Environment,
    Problem,
    StackConfigError,
    StackSettings,
    matching,
)
from ..common import BackendSettings, EnvironmentPolicy, MaxmemoryPolicy
from .cluster_settings import GcpCluster, instance_keys_given, subnetwork_region

Tier = Literal["STANDARD_HA", "BASIC"]
RedisVersion = Literal["REDIS_7_2", "REDIS_7_0", "REDIS_6_X"]
SnapshotPeriod = Literal["ONE_HOUR", "SIX_HOURS", "TWELVE_HOURS", "TWENTY_FOUR_HOURS"]
Day = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
Network = Annotated[
    str,
    matching(
        r"projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        "a VPC network id such as projects/<project>/global/networks/<network>",
    ),
]
CryptoKey = Annotated[
    str,
    matching(
        r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+",
        "a Cloud KMS key id: projects/<p>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>",
    ),
]
NotificationChannel = Annotated[
    str,
    matching(
        r"projects/[^/]+/notificationChannels/[0-9]+",
        "a notification channel id: projects/<project>/notificationChannels/<number>",
    ),
]
SecretId = Annotated[
    str,
    matching(r"[A-Za-z0-9_-]{1,255}", "a Secret Manager secret id: letters, digits, - and _"),
]
Region = Annotated[str, matching(r"[a-z]+-[a-z]+[0-9]+", "a region such as us-central1")]
Zone = Annotated[str, matching(r"[a-z]+-[a-z]+[0-9]+-[a-z]", "a zone such as us-central1-a")]
MAX_REPLICAS = 5
#: Memorystore needs this much memory for read replicas.
READ_REPLICAS_MIN_GB = 5
MAX_MEMORY_GB = 300


@dataclass(frozen=True)
class Policy(EnvironmentPolicy):
    """Defaults and minimums of one environment."""

    may_use_basic: bool


POLICIES: Mapping[Environment, Policy] = {
    "dev": Policy(
        {"memorySizeGb": 1, "replicas": 1, "readReplicas": False, "snapshotPeriod": "TWELVE_HOURS"},
        min_replicas=1,
        may_use_basic=True,
    ),
    "staging": Policy(
        {"memorySizeGb": 2, "replicas": 1, "readReplicas": False, "snapshotPeriod": "SIX_HOURS"},
        min_replicas=1,
        may_use_basic=True,
    ),
    "prod": Policy(
        {"memorySizeGb": 5, "replicas": 2, "readReplicas": True, "snapshotPeriod": "ONE_HOUR"},
        min_replicas=1,
        may_use_basic=False,
    ),
}


class GcpAlerts(ConfigModel):
    """``aragora-redis:gcp.alerts``: when the Cloud Monitoring alert policies fire."""

    memory_usage_ratio: float = Field(0.9, gt=0, le=1)
    #: How long a condition must hold before the policy fires, in seconds.
    duration_seconds: int = Field(300, ge=0, le=86400)


class GcpSettings(BackendSettings):
    """``aragora-redis:gcp``: one Memorystore for Redis instance and what surrounds it.

    Keys without a default here get their environment's from :data:`POLICIES`.
    """

    SECTION = "gcp"
    TLS_REQUIRED = (
        "the gcp backend always uses SERVER_AUTHENTICATION:"
        " the AUTH string must not cross the network in clear"
    )
    project: str | None = None
    region: Region
    #: The VPC the instance is reachable from (private service access); never ``default``.
    network: Network
    #: Create the private service access range and peering connection for ``network``.
    create_private_service_access: bool = False
    #: Prefix length of the created range (``createPrivateServiceAccess``).
    private_service_access_prefix_length: int = Field(20, ge=8, le=24)
    #: Name of an allocated private service access range to place the instance in.
    reserved_ip_range: str | None = None
    zone: Zone | None = None
    alternative_zone: Zone | None = None
    tier: Tier = "STANDARD_HA"
    memory_size_gb: int = Field(ge=1, le=MAX_MEMORY_GB)
    replicas: int
    #: READ_REPLICAS_ENABLED; can only be chosen when the instance is created.
    read_replicas: bool
    redis_version: RedisVersion = "REDIS_7_2"
    maxmemory_policy: MaxmemoryPolicy = "volatile-ttl"
    snapshot_period: SnapshotPeriod
    maintenance_day: Day = "SUNDAY"
    maintenance_hour: int = Field(5, ge=0, le=23)
    customer_managed_key: CryptoKey | None = None
    #: Grant Memorystore's service agent the encrypter/decrypter role on the key (false: the
    #: key's owners grant it, e.g. a central KMS project the deployer cannot administer).
    grant_key_access: bool = True
    notification_channels: tuple[NotificationChannel, ...] = ()
    alerts: GcpAlerts = Field(default_factory=lambda: GcpAlerts.model_validate({}))
    #: Publish the ARAGORA_REDIS_* map (JSON) to this Secret Manager secret.
    secret_id: SecretId | None = None
    #: Memorystore for Redis Cluster / for Valkey instead of the instance (no instance keys then).
    cluster: GcpCluster | None = None

    @classmethod
    def environment_defaults(
        cls, data: Mapping[str, Any], environment: Environment
    ) -> Mapping[str, Any]:
        """The environment's :data:`POLICIES` defaults (no replica with tier BASIC).

        Instance keys next to ``cluster`` are refused here, before their defaults hide them.
        """
        if data.get("cluster") is not None and (clashes := instance_keys_given(data)):
            raise StackConfigError(clashes)
        defaults = dict(POLICIES[environment].defaults)
        if data.get("tier") == "BASIC":
            defaults |= {"replicas": 0, "readReplicas": False}
        return defaults

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """The network, tier, replica, zone, key and cluster rules."""
        env = stack.environment
        policy = POLICIES[env]
        bad = self.reporter(problems)
        if self.network.endswith("/networks/default"):
            bad("network", self.network, "a dedicated VPC network, not the default network")
        if self.tier == "BASIC":
            if not policy.may_use_basic:
                bad("tier", self.tier, f"STANDARD_HA in {env} (BASIC has no replica, no failover)")
            if self.replicas != 0:
                bad("replicas", self.replicas, "0 with tier BASIC (it has no replica)")
        else:
            self._check_replicas(env, policy, bad)
        if self.alternative_zone is not None and self.alternative_zone == self.zone:
            bad("alternativeZone", self.alternative_zone, f"a zone other than zone {self.zone}")
        if self.create_private_service_access and self.reserved_ip_range is not None:
            bad(
                "reservedIpRange",
                self.reserved_ip_range,
                "no value with createPrivateServiceAccess (the created range is used)",
            )
        if self.cluster and self.cluster.connection_members and self.project is None:
            bad("project", None, "the project id, to grant cluster.connectionMembers their role")
        key_region = key_location(self.customer_managed_key)
        if key_region is not None and key_region != self.region:
            bad(
                "customerManagedKey",
                self.customer_managed_key,
                f"a key in region {self.region} (Memorystore needs the key ring in its region)",
            )
        subnetwork = self.cluster.subnetwork if self.cluster else None
        if subnetwork is not None and subnetwork_region(subnetwork) != self.region:
            bad("cluster.subnetwork", subnetwork, f"a subnetwork in region {self.region}")

    def _check_replicas(self, env: str, policy: Policy, bad: Any) -> None:
        if not policy.min_replicas <= self.replicas <= MAX_REPLICAS:
            bad("replicas", self.replicas, f"{policy.min_replicas} to {MAX_REPLICAS} in {env}")
        elif self.replicas > 1 and not self.read_replicas:
            bad("replicas", self.replicas, "1, or 2 to 5 with readReplicas true")
        if self.read_replicas and self.memory_size_gb < READ_REPLICAS_MIN_GB:
            bad(
                "memorySizeGb",
                self.memory_size_gb,
                f"{READ_REPLICAS_MIN_GB} to {MAX_MEMORY_GB} GiB with readReplicas true",
            )

    @property
    def redis_configs(self) -> dict[str, str]:
        """The ``redis_configs`` of the instance."""
        return {"maxmemory-policy": self.maxmemory_policy}


def key_location(key: str | None) -> str | None:
    """The location of a Cloud KMS key id (``.../locations/<location>/keyRings/...``)."""
    return key.split("/locations/", 1)[1].split("/", 1)[0] if key else None
