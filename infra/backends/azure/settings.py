"""``aragora-redis:azure`` and ``aragora-redis:azure-managed``: the Azure config sections.

Both share :class:`AzureCommonSettings` (resource group, region, private
endpoint subnet, TLS floor, public access, alerts, Key Vault publishing); each
adds its service's keys. Every rule that would weaken the secure and HA
defaults is checked here, before any resource is declared, and prod may not
weaken them at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from ...settings import ConfigModel, Environment, Problem, StackSettings, config_key
from ..common import BackendSettings, MaxmemoryPolicy
from .values import (
    ActionGroupId,
    AzureName,
    KeyVaultName,
    Location,
    PrivateDnsZoneId,
    ResourceGroupName,
    StorageAccountId,
    SubnetId,
)

DayOfWeek = Literal[
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Everyday",
    "Weekend",
]  # fmt: skip
#: Names too generic for a global DNS label in prod (the default is ``aragora-<environment>``).
GENERIC_NAMES = frozenset({"aragora", "aragora-dev", "aragora-staging", "aragora-prod"})
#: The availability zones of an Azure region.
AZURE_ZONES = ("1", "2", "3")


class AlertThresholds(ConfigModel):
    """``aragora-redis:<azure backend>.alerts``: when the metric alerts fire."""

    used_memory_percent: float = Field(90, gt=0, le=100)
    server_load_percent: float = Field(80, gt=0, le=100)
    errors: int = Field(0, ge=0)


class KeyVaultTarget(ConfigModel):
    """``aragora-redis:<azure backend>.keyVault``: where the env map is published (JSON)."""

    vault_name: KeyVaultName
    #: Defaults to the backend's resource group.
    resource_group_name: ResourceGroupName | None = None
    #: Defaults to ``<aragora-redis:name>-env``: two stacks may share a vault, never a secret.
    secret_name: AzureName | None = None

    def secret_name_for(self, name: str) -> str:
        """The secret's name for the stack whose resources are named ``name``."""
        return self.secret_name or f"{name}-env"


class RdbBackup(ConfigModel):
    """``aragora-redis:azure.rdbBackup``: RDB snapshots to a storage account (Premium).

    A user-assigned identity, granted Storage Blob Data Contributor on the account before
    the cache is created, writes them (no storage key in config).
    """

    storage_account_id: StorageAccountId
    frequency_minutes: Literal[15, 30, 60, 360, 720, 1440] = 60
    max_snapshot_count: int = Field(1, ge=1, le=1)

    @property
    def blob_endpoint(self) -> str:
        """``BlobEndpoint=https://<account>.blob.core.windows.net``, as the cache takes it."""
        account = self.storage_account_id.rsplit("/", 1)[1]
        return f"BlobEndpoint=https://{account}.blob.core.windows.net"

    @property
    def subscription_id(self) -> str:
        """The storage account's subscription."""
        return self.storage_account_id.split("/")[2]


class AzureCommonSettings(BackendSettings):
    """Keys both Azure backends have."""

    resource_group_name: ResourceGroupName
    location: Location
    #: The private endpoint's subnet; its virtual network gets the private DNS zone link.
    private_endpoint_subnet_id: SubnetId
    #: An existing zone (already linked to the subnet's network) instead of a new zone and link.
    private_dns_zone_id: PrivateDnsZoneId | None = None
    public_network_access: bool = False
    minimum_tls_version: str = "1.2"
    maxmemory_policy: MaxmemoryPolicy = "volatile-ttl"
    alert_action_group_id: ActionGroupId | None = None
    alerts: AlertThresholds = Field(default_factory=lambda: AlertThresholds.model_validate({}))
    key_vault: KeyVaultTarget | None = None

    #: The config section, ``azure`` or ``azure-managed``; set by each subclass.
    SECTION: ClassVar[str] = "azure"
    #: The private link DNS zone of the service; set by each subclass.
    PRIVATE_DNS_ZONE: ClassVar[str] = "privatelink.redis.cache.windows.net"

    TLS_REQUIRED: ClassVar[str | None] = (
        "the non-TLS port stays disabled on Azure; the access key"
        " must not cross the network in clear"
    )

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """The rules of both backends: TLS floor, public access, a distinctive prod name."""
        bad = self.reporter(problems)
        if self.minimum_tls_version != "1.2":
            bad(
                "minimumTlsVersion",
                self.minimum_tls_version,
                "1.2 (Azure retired TLS 1.0 and 1.1 for Redis)",
            )
        if self.public_network_access and stack.environment == "prod":
            bad(
                "publicNetworkAccess",
                True,
                "false in prod (clients reach Redis through the private endpoint only)",
            )
        zone = self.private_dns_zone_id
        if zone is not None and zone.rsplit("/", 1)[1].lower() != self.PRIVATE_DNS_ZONE:
            bad(
                "privateDnsZoneId",
                zone,
                f"the id of a zone named {self.PRIVATE_DNS_ZONE} (the {self.SECTION} backend's"
                " private link zone)",
            )
        if stack.environment == "prod" and stack.name in GENERIC_NAMES:
            problems.append(
                Problem(
                    config_key("name"),
                    stack.name,
                    "a name of your organisation's own in prod, such as contoso-aragora-prod"
                    " (it becomes the global host name <name>.redis.cache.windows.net or"
                    " <name>.<region>.redis.azure.net; a generic name is likely taken and"
                    " fails with NameNotAvailable)",
                )
            )


class AzureSettings(AzureCommonSettings):
    """``aragora-redis:azure``: one Azure Cache for Redis and what surrounds it."""

    sku: Literal["Basic", "Standard", "Premium"] = "Premium"
    zones: tuple[str, ...] = AZURE_ZONES
    #: C0-C6 for Basic/Standard, P1-P5 for Premium.
    capacity: int = 1
    replicas_per_primary: int | None = None
    #: Premium clustering: set, the contract mode is ``cluster``.
    shard_count: int | None = None
    redis_version: Literal["6"] = "6"
    patch_day: DayOfWeek = "Sunday"
    patch_start_hour_utc: int = Field(4, ge=0, le=23)
    patch_window_hours: int = Field(5, ge=5, le=24)
    entra_id: bool = False
    rdb_backup: RdbBackup | None = None

    @classmethod
    def environment_defaults(
        cls, data: Mapping[str, Any], environment: Environment
    ) -> Mapping[str, Any]:
        """No zones below sku Premium (only Premium has zones)."""
        return {"zones": []} if data.get("sku", "Premium") != "Premium" else {}

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """The rules of both backends, then the sku, capacity, zone and replica rules."""
        super().check(stack, problems)
        bad = self.reporter(problems)
        premium = self.sku == "Premium"
        if len(set(self.zones)) != len(self.zones) or not set(self.zones) <= set(AZURE_ZONES):
            bad("zones", list(self.zones), "distinct zones among 1, 2 and 3")
        if stack.environment == "prod" and not premium:
            bad("sku", self.sku, "Premium in prod (zone redundancy, 2+ replicas, private link)")
        if self.sku == "Basic" and stack.environment != "dev":
            bad("sku", self.sku, "Standard or Premium (Basic has no replica); Basic only in dev")
        low, high = (1, 5) if premium else (0, 6)
        if not low <= self.capacity <= high:
            bad("capacity", self.capacity, f"{low} to {high} for sku {self.sku}")
        if not premium:
            for key, value in (
                ("zones", list(self.zones) or None),
                ("replicasPerPrimary", self.replicas_per_primary),
                ("shardCount", self.shard_count),
                ("rdbBackup", self.rdb_backup and self.rdb_backup.storage_account_id),
            ):
                if value is not None:
                    bad(
                        key,
                        value,
                        "no value: only sku Premium has zones, replicas, shards and RDB backups",
                    )
        else:
            need = max(MIN_REPLICAS[stack.environment], len(self.zones) - 1)
            if not need <= self.replicas <= MAX_REPLICAS:
                bad(
                    "replicasPerPrimary",
                    self.replicas,
                    f"{need} to {MAX_REPLICAS} in {stack.environment} with zones"
                    f" {', '.join(self.zones) or 'none'} (one node per zone at least)",
                )
            if not self.zones and stack.environment == "prod":
                bad("zones", [], "2 or 3 zones in prod")
            if self.shard_count is not None and not 1 <= self.shard_count <= 30:
                bad("shardCount", self.shard_count, "1 to 30 shards")

    @property
    def replicas(self) -> int:
        """Replicas per primary: set, or one per extra zone and at least 2 (Premium)."""
        if self.replicas_per_primary is not None:
            return self.replicas_per_primary
        return max(2, len(self.zones) - 1)

    @property
    def sku_family(self) -> str:
        """``P`` for Premium, ``C`` otherwise."""
        return "P" if self.sku == "Premium" else "C"


#: Fewest replicas per primary by environment (Premium); prod keeps two.
MIN_REPLICAS: Mapping[Environment, int] = {"dev": 1, "staging": 1, "prod": 2}
#: Azure Cache for Redis Premium allows at most three replicas per primary.
MAX_REPLICAS = 3
