"""The pack's checks for Azure: Azure Cache for Redis and Azure Managed Redis (redisenterprise).

Azure encrypts both services' data at rest itself, so there is no at-rest
check. Azure Cache for Redis always asks for a key or an Entra ID token, and
an Azure Managed Redis database for a key or a token, so auth fails only when
a cache turns off access keys without turning on Entra ID.
"""

from __future__ import annotations

from collections.abc import Iterable

from .core import Check, Subject, key, number, secret_properties

REDIS = "azure-native:redis:Redis"
PATCH_SCHEDULE = "azure-native:redis:PatchSchedule"
ENTERPRISE = "azure-native:redisenterprise:RedisEnterprise"
DATABASE = "azure-native:redisenterprise:Database"
KEY_VAULT_SECRET = "azure-native:keyvault:Secret"  # noqa: S105 (a type token)
METRIC_ALERT = "azure-native:monitor:MetricAlert"
_SECTION = {REDIS: "azure", ENTERPRISE: "azure-managed", DATABASE: "azure-managed"}


def _tls_version(s: Subject) -> Iterable[str]:
    version = s.get("minimumTlsVersion")
    if version is not None and number(version) < 1.2:
        section = _SECTION[s.type]
        yield f"TLS {version} accepted: set {key(section, 'minimumTlsVersion')} to 1.2"


def cache_tls(s: Subject) -> Iterable[str]:
    """The non-TLS port closed, TLS 1.2 at least."""
    if s.get("enableNonSslPort") is True:
        yield "the plaintext port 6379 is open: set enableNonSslPort false"
    yield from _tls_version(s)


def database_tls(s: Subject) -> Iterable[str]:
    """An encrypted client protocol."""
    if s.get("clientProtocol") == "Plaintext":
        yield "clients connect in plaintext: set clientProtocol Encrypted"


def cache_auth(s: Subject) -> Iterable[str]:
    """Access keys on, or Entra ID on instead."""
    keys_off = s.get("disableAccessKeyAuthentication") is True
    if keys_off and s.get("redisConfiguration.aadEnabled") != "true":
        yield (
            "no authentication: keep access keys (disableAccessKeyAuthentication false)"
            f" or turn on {key('azure', 'entraId')}"
        )


def cache_ha(s: Subject) -> Iterable[str]:
    """Premium across two or more zones with a replica (Basic has one node, Standard one zone)."""
    if s.get("sku.name") != "Premium":
        yield f"{s.get('sku.name')} is not zone-redundant: set {key('azure', 'sku')} Premium"
    if len(s.get("zones") or []) < 2:
        yield f"fewer than 2 zones: set {key('azure', 'zones')} to 2 or more zones"
    if s.get("replicasPerPrimary") is not None and number(s.get("replicasPerPrimary")) < 1:
        yield f"no replica: set {key('azure', 'replicasPerPrimary')} to 1 or more"


def enterprise_ha(s: Subject) -> Iterable[str]:
    """High availability on: a replica and failover, spread over the region's zones by Azure.

    Azure Managed Redis refuses ``zones`` for every SKU (400 "Specifying zones for
    SKU ... is not supported"), so zones set are a failed deploy, not more HA.
    """
    if s.get("highAvailability") == "Disabled":
        yield f"no replica and no failover: set {key('azure-managed', 'highAvailability')} true"
    if s.get("zones"):
        yield (
            "zones set, which Azure Managed Redis refuses for every SKU: remove"
            f" {key('azure-managed', 'zones')} (high availability spreads over zones itself)"
        )


def public_access(s: Subject) -> Iterable[str]:
    """Public network access disabled (the default is enabled): private endpoint only."""
    if s.get("publicNetworkAccess") != "Disabled":
        section = _SECTION[s.type]
        yield (
            "public network access is on: set publicNetworkAccess Disabled"
            f" ({key(section, 'publicNetworkAccess')} false)"
        )


def cache_backups(s: Subject) -> Iterable[str]:
    """RDB or AOF persistence to storage (Premium)."""
    rdb = s.get("redisConfiguration.rdbBackupEnabled") == "true"
    if not rdb and s.get("redisConfiguration.aofBackupEnabled") != "true":
        yield f"no RDB or AOF backups: set {key('azure', 'rdbBackup')}"


def database_backups(s: Subject) -> Iterable[str]:
    """RDB or AOF persistence of the database."""
    if not s.get("persistence.rdbEnabled") and not s.get("persistence.aofEnabled"):
        yield f"no persistence: set {key('azure-managed', 'rdbPersistence')}"


TLS: dict[str, Check] = {REDIS: cache_tls, ENTERPRISE: _tls_version, DATABASE: database_tls}
AUTH: dict[str, Check] = {REDIS: cache_auth}
HIGH_AVAILABILITY: dict[str, Check] = {REDIS: cache_ha, ENTERPRISE: enterprise_ha}
PRIVATE_NETWORK: dict[str, Check] = {REDIS: public_access, ENTERPRISE: public_access}
BACKUPS: dict[str, Check] = {REDIS: cache_backups, DATABASE: database_backups}
SECRETS: dict[str, Check] = {KEY_VAULT_SECRET: secret_properties("properties")}
STATEFUL = (REDIS, ENTERPRISE, DATABASE)
ALARMS = {METRIC_ALERT: "actions"}
