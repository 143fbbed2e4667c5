"""The pack's policies, one per concern, each over every cloud's resource types.

Mandatory: ``tls-required``, ``auth-required``, ``high-availability``,
``private-network`` (with ``k8s-network-policy`` stack-wide),
``encryption-at-rest``, ``backups-in-prod``, ``protect-prod-stateful`` and
``credentials-secret``. Advisory: ``maintenance-window`` and
``alarms-present``, stack-wide because an Azure cache's patch schedule and
every cloud's alarms are resources of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pulumi_policy import EnforcementLevel, Policy

from . import aws, azure, gcp, kubernetes
from .core import (
    Check,
    Subject,
    key,
    merge,
    only_in_prod,
    resource_policy,
    secret_properties,
    stack_policy,
)

MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # noqa: S105 (a type token)
#: The resources holding the data: protected in prod, and watched by alarms.
STATEFUL = (*aws.STATEFUL, *gcp.STATEFUL, *azure.STATEFUL, *kubernetes.STATEFUL)
#: Alarm type -> the property listing whom it notifies.
ALARMS = {**aws.ALARMS, **gcp.ALARMS, **azure.ALARMS, **kubernetes.ALARMS}
_NOTIFY_KEYS = {
    aws.ALARM: key("aws", "alarmTopicArn"),
    gcp.ALERT_POLICY: key("gcp", "notificationChannels"),
    azure.METRIC_ALERT: key("azure", "alertActionGroupId"),
    kubernetes.PROMETHEUS_RULE: key("sentinel-k8s", "prometheusRule"),
}

#: Where a backend's alarms are optional: the switch that adds them.
_ALARM_SWITCHES = {kubernetes.STATEFUL_SET: key("sentinel-k8s", "prometheusRule")}


def protected(s: Subject) -> Iterable[str]:
    """A stateful resource of a prod stack has ``protect`` set."""
    if not s.protect:
        yield (
            "a prod stateful resource without protect: declare it with"
            f" ResourceOptions(protect=True) (the program does when {key('environment')} is prod)"
        )


def maintenance(subjects: Sequence[Subject]) -> Iterable[tuple[str, str | None]]:
    """Each Redis has a maintenance window (an Azure cache: a PatchSchedule, its child)."""
    checks = merge(aws.MAINTENANCE_WINDOW, gcp.MAINTENANCE_WINDOW)
    # The schedule's parent, known in preview, unlike its name (the cache's output).
    scheduled = {s.parent for s in subjects if s.type == azure.PATCH_SCHEDULE}
    for s in subjects:
        if s.type in checks:
            yield from ((f"{s}: {m}", s.urn) for m in checks[s.type](s))
        elif s.type == azure.REDIS and s.urn not in scheduled:
            message = f"no patch schedule: set {key('azure', 'patchDay')} and patchStartHourUtc"
            yield f"{s}: {message}", s.urn


def alarms(subjects: Sequence[Subject]) -> Iterable[tuple[str, str | None]]:
    """A stack with a Redis has alarms, and at least one of them notifies someone."""
    redis = next((s for s in subjects if s.type in STATEFUL), None)
    if redis is None:
        return
    found = [s for s in subjects if s.type in ALARMS]
    if not found:
        switch = _ALARM_SWITCHES.get(redis.type)
        hint = f" (set {switch} true)" if switch else ""
        yield f"{redis}: no alarms or alert policies watch it: add them{hint}", redis.urn
    elif not any(s.get(ALARMS[s.type]) for s in found):
        alarm = found[0]
        target = _NOTIFY_KEYS[alarm.type]
        if redis.type in (azure.ENTERPRISE, azure.DATABASE):
            target = key("azure-managed", "alertActionGroupId")
        yield f"{alarm}: the alarms notify no one: set {target}", alarm.urn


def network_policy_present(subjects: Sequence[Subject]) -> Iterable[tuple[str, str | None]]:
    """Redis pods on Kubernetes sit behind a NetworkPolicy."""
    pods = [s for s in subjects if s.type == kubernetes.STATEFUL_SET]
    if pods and not any(s.type == kubernetes.NETWORK_POLICY for s in subjects):
        for s in pods:
            yield f"{s}: no NetworkPolicy restricts its pods: add one admitting the clients", s.urn


def _checks(*tables: dict[str, Check]) -> dict[str, Check]:
    return merge(*tables)


TLS_REQUIRED = resource_policy(
    "tls-required",
    "Clients reach Redis over TLS only (no plaintext port).",
    _checks(aws.TLS, gcp.TLS, azure.TLS, kubernetes.TLS),
    MANDATORY,
)
AUTH_REQUIRED = resource_policy(
    "auth-required",
    "Redis asks every client for a password, token or IAM credential.",
    _checks(aws.AUTH, gcp.AUTH, azure.AUTH),
    MANDATORY,
)
HIGH_AVAILABILITY = resource_policy(
    "high-availability",
    "At least 2 nodes, automatic failover, more than one zone.",
    _checks(
        aws.HIGH_AVAILABILITY,
        gcp.HIGH_AVAILABILITY,
        azure.HIGH_AVAILABILITY,
        kubernetes.HIGH_AVAILABILITY,
    ),
    MANDATORY,
)
PRIVATE_NETWORK = resource_policy(
    "private-network",
    "No public network access and no ingress from 0.0.0.0/0 or other public ranges.",
    _checks(
        aws.PRIVATE_NETWORK,
        gcp.PRIVATE_NETWORK,
        azure.PRIVATE_NETWORK,
        kubernetes.PRIVATE_NETWORK,
    ),
    MANDATORY,
)
ENCRYPTION_AT_REST = resource_policy(
    "encryption-at-rest",
    "Data encrypted at rest where the service leaves it optional (ElastiCache).",
    _checks(aws.ENCRYPTION_AT_REST),
    MANDATORY,
)
BACKUPS_IN_PROD = resource_policy(
    "backups-in-prod",
    "Prod Redis keeps snapshots or persistence.",
    {
        t: only_in_prod(c)
        for t, c in _checks(aws.BACKUPS, gcp.BACKUPS, azure.BACKUPS, kubernetes.BACKUPS).items()
    },
    MANDATORY,
)
PROTECT_PROD_STATEFUL = resource_policy(
    "protect-prod-stateful",
    "Prod resources holding data are protected from deletion (protect).",
    dict.fromkeys(STATEFUL, only_in_prod(protected)),
    MANDATORY,
)
_SECRETS = _checks(
    aws.SECRETS,
    gcp.SECRETS,
    azure.SECRETS,
    kubernetes.SECRETS,
    {RANDOM_PASSWORD: secret_properties("result", "bcryptHash")},
)
#: The types with a property that carries a credential.
CREDENTIALS_SECRET_TYPES = tuple(_SECRETS)
CREDENTIALS_SECRET = resource_policy(
    "credentials-secret",
    "Properties carrying a password, token or key are secret outputs.",
    _SECRETS,
    MANDATORY,
)
K8S_NETWORK_POLICY = stack_policy(
    "k8s-network-policy",
    "Redis pods on Kubernetes are behind a NetworkPolicy.",
    network_policy_present,
    MANDATORY,
)
MAINTENANCE_WINDOW = stack_policy(
    "maintenance-window",
    "Each Redis has a maintenance window, so patches land at a known time.",
    maintenance,
    ADVISORY,
)
ALARMS_PRESENT = stack_policy(
    "alarms-present",
    "The Redis of a stack has alarms that notify someone.",
    alarms,
    ADVISORY,
)

#: Every policy of the pack, mandatory first.
POLICIES: list[Policy] = [
    TLS_REQUIRED,
    AUTH_REQUIRED,
    HIGH_AVAILABILITY,
    PRIVATE_NETWORK,
    ENCRYPTION_AT_REST,
    BACKUPS_IN_PROD,
    PROTECT_PROD_STATEFUL,
    CREDENTIALS_SECRET,
    K8S_NETWORK_POLICY,
    MAINTENANCE_WINDOW,
    ALARMS_PRESENT,
]
