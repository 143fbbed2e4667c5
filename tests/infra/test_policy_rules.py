"""Each resource rule of the policy pack, called as CrossGuard calls it.

Every resource type a rule covers has a compliant input (no violation from
any rule) and weakened inputs that exactly that rule reports, naming the
resource and what to change.
"""

from __future__ import annotations

import pytest

from infra.policy import aws, azure, gcp, kubernetes, rules

from .test_policy_inputs import COMPLIANT, RESOURCE_POLICIES, Res, b64, compliant, reported


@pytest.mark.parametrize("type_", sorted(COMPLIANT))
def test_compliant_input_passes_every_resource_rule(type_: str) -> None:
    for policy in RESOURCE_POLICIES:
        assert reported(policy, compliant(type_)) == [], policy.name


T = aws.REPLICATION_GROUP
WEAKENED = [
    ("tls-required", compliant(T, transitEncryptionEnabled=False), "transit encryption is off"),
    ("tls-required", compliant(T, transitEncryptionMode="preferred"), "'preferred'"),
    ("tls-required", compliant(gcp.INSTANCE, transitEncryptionMode="DISABLED"), "TLS is off"),
    ("tls-required", compliant(gcp.CLUSTER, transitEncryptionMode=None), "TLS is off"),
    (
        "tls-required",
        compliant(gcp.VALKEY, transitEncryptionMode="TRANSIT_ENCRYPTION_DISABLED"),
        "TLS is off",
    ),
    ("tls-required", compliant(azure.REDIS, enableNonSslPort=True), "plaintext port 6379"),
    ("tls-required", compliant(azure.REDIS, minimumTlsVersion="1.0"), "TLS 1.0 accepted"),
    ("tls-required", compliant(azure.ENTERPRISE, minimumTlsVersion="1.1"), "TLS 1.1 accepted"),
    ("tls-required", compliant(azure.DATABASE, clientProtocol="Plaintext"), "plaintext"),
    (
        "tls-required",
        compliant(kubernetes.CONFIG_MAP, data={"redis.conf": "port 6379\n"}),
        "redis.conf listens in plaintext",
    ),
    (
        "tls-required",
        compliant(kubernetes.SECRET, data={"s.conf": b64("port 0\n")}),
        "s.conf has no tls-port",
    ),
    (
        "tls-required",
        compliant(kubernetes.SECRET, data=None, stringData={"r.conf": "port 6379\ntls-port 6380"}),
        "r.conf listens in plaintext",
    ),
    ("auth-required", compliant(T, authToken=None), "no AUTH token"),
    ("auth-required", compliant(gcp.INSTANCE, authEnabled=False), "AUTH is off"),
    (
        "auth-required",
        compliant(gcp.CLUSTER, authorizationMode="AUTH_MODE_DISABLED"),
        "AUTH_MODE_IAM_AUTH",
    ),
    ("auth-required", compliant(gcp.VALKEY, authorizationMode=None), "IAM_AUTH"),
    (
        "auth-required",
        compliant(azure.REDIS, disableAccessKeyAuthentication=True),
        "no authentication",
    ),
    (
        "high-availability",
        compliant(T, automaticFailoverEnabled=False),
        "automatic failover is off",
    ),
    ("high-availability", compliant(T, multiAzEnabled=None), "Multi-AZ is off"),
    (
        "high-availability",
        compliant(T, numCacheClusters=1.0, preferredCacheClusterAzs=None),
        "aragora-redis:aws.replicas",
    ),
    (
        "high-availability",
        compliant(T, preferredCacheClusterAzs=["a", "a"]),
        "aragora-redis:aws.subnetIds",
    ),
    (
        "high-availability",
        compliant(T, clusterMode="enabled", replicasPerNodeGroup=0.0),
        "a shard has no replica",
    ),
    (
        "high-availability",
        compliant(gcp.INSTANCE, tier="BASIC", replicaCount=None),
        "aragora-redis:gcp.tier",
    ),
    ("high-availability", compliant(gcp.INSTANCE, replicaCount=0.0), "aragora-redis:gcp.replicas"),
    (
        "high-availability",
        compliant(gcp.INSTANCE, alternativeLocationId="us-central1-a"),
        "aragora-redis:gcp.alternativeZone",
    ),
    ("high-availability", compliant(gcp.CLUSTER, replicaCount=0.0), "no replica per shard"),
    (
        "high-availability",
        compliant(gcp.VALKEY, zoneDistributionConfig={"mode": "SINGLE_ZONE"}),
        "one zone",
    ),
    (
        "high-availability",
        compliant(azure.REDIS, sku={"name": "Standard"}, zones=None),
        "aragora-redis:azure.sku",
    ),
    ("high-availability", compliant(azure.REDIS, zones=["1"]), "aragora-redis:azure.zones"),
    ("high-availability", compliant(azure.REDIS, replicasPerPrimary=0.0), "replicasPerPrimary"),
    (
        "high-availability",
        compliant(azure.ENTERPRISE, highAvailability="Disabled"),
        "highAvailability",
    ),
    (
        "high-availability",
        compliant(azure.ENTERPRISE, zones=["1", "2", "3"]),
        "refuses for every SKU",
    ),
    (
        "high-availability",
        compliant(kubernetes.STATEFUL_SET, spec={"replicas": 1.0}),
        "fewer than 2 pods",
    ),
    (
        "high-availability",
        compliant(
            kubernetes.STATEFUL_SET,
            spec={
                "replicas": 1.0,
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/component": "sentinel"}},
                    "spec": {"topologySpreadConstraints": [{"topologyKey": kubernetes.ZONE_KEY}]},
                },
            },
        ),
        "aragora-redis:sentinel-k8s.sentinels",
    ),
    (
        "high-availability",
        compliant(kubernetes.STATEFUL_SET, spec={"replicas": 3.0}),
        "not spread over zones",
    ),
    (
        "private-network",
        compliant(aws.INGRESS_RULE, cidrIpv4="0.0.0.0/0"),
        "ingress from 0.0.0.0/0",
    ),
    ("private-network", compliant(aws.INGRESS_RULE, cidrIpv6="::/0"), "ingress from ::/0"),
    (
        "private-network",
        compliant(aws.INGRESS_RULE, cidrIpv4="8.8.8.0/24"),
        "aragora-redis:aws.allowedCidrs",
    ),
    (
        "private-network",
        compliant(aws.SECURITY_GROUP, ingress=[{"cidrBlocks": ["0.0.0.0/0"]}]),
        "0.0.0.0/0",
    ),
    (
        "private-network",
        compliant(aws.SECURITY_GROUP_RULE, cidrBlocks=["10.0.0.0/8", "0.0.0.0/0"]),
        "0.0.0.0/0",
    ),
    (
        "private-network",
        compliant(gcp.INSTANCE, authorizedNetwork=None),
        "aragora-redis:gcp.network",
    ),
    ("private-network", compliant(gcp.CLUSTER, pscConfigs=None), "pscConfigs"),
    (
        "private-network",
        compliant(azure.REDIS, publicNetworkAccess=None),
        "aragora-redis:azure.publicNetworkAccess",
    ),
    (
        "private-network",
        compliant(azure.ENTERPRISE, publicNetworkAccess="Enabled"),
        "aragora-redis:azure-managed.publicNetworkAccess",
    ),
    ("private-network", compliant(kubernetes.SERVICE, spec={"type": "NodePort"}), "NodePort"),
    (
        "private-network",
        compliant(kubernetes.SERVICE, spec={"type": "LoadBalancer"}),
        "open to any source",
    ),
    (
        "private-network",
        compliant(
            kubernetes.SERVICE,
            spec={"type": "LoadBalancer", "loadBalancerSourceRanges": ["0.0.0.0/0"]},
        ),
        "open to 0.0.0.0/0",
    ),
    (
        "private-network",
        compliant(kubernetes.NETWORK_POLICY, spec={"ingress": [{}]}),
        "admits every source",
    ),
    (
        "private-network",
        compliant(
            kubernetes.NETWORK_POLICY,
            spec={"ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]},
        ),
        "admits 0.0.0.0/0",
    ),
    (
        "encryption-at-rest",
        compliant(T, atRestEncryptionEnabled=False),
        "encryption at rest is off",
    ),
    (
        "backups-in-prod",
        compliant(T, snapshotRetentionLimit=0.0),
        "aragora-redis:aws.snapshotRetentionDays",
    ),
    (
        "backups-in-prod",
        compliant(gcp.INSTANCE, persistenceConfig={"persistenceMode": "DISABLED"}),
        "no RDB snapshots",
    ),
    (
        "backups-in-prod",
        compliant(gcp.CLUSTER, persistenceConfig={"mode": "DISABLED"}),
        "no persistence",
    ),
    ("backups-in-prod", compliant(gcp.VALKEY, persistenceConfig=None), "no persistence"),
    (
        "backups-in-prod",
        compliant(azure.REDIS, redisConfiguration={}),
        "aragora-redis:azure.rdbBackup",
    ),
    (
        "backups-in-prod",
        compliant(
            kubernetes.STATEFUL_SET,
            spec={**COMPLIANT[kubernetes.STATEFUL_SET][0]["spec"], "volumeClaimTemplates": []},
        ),
        "aragora-redis:sentinel-k8s.storageSize",
    ),
    (
        "backups-in-prod",
        compliant(azure.DATABASE, persistence=None),
        "aragora-redis:azure-managed.rdbPersistence",
    ),
]
WEAKENED += [
    ("protect-prod-stateful", Res(t, COMPLIANT[t][0], protect=False), "without protect")
    for t in rules.STATEFUL
]
WEAKENED += [
    ("credentials-secret", Res(t, COMPLIANT[t][0], secret=()), "is not a secret output")
    for t in rules.CREDENTIALS_SECRET_TYPES
]
POLICY = {p.name: p for p in rules.POLICIES}


@pytest.mark.parametrize(
    ("policy", "resource", "fragment"),
    WEAKENED,
    ids=[f"{p}-{r.type.split(':')[-1]}-{i}" for i, (p, r, _) in enumerate(WEAKENED)],
)
def test_weakened_input_is_reported_naming_the_resource(
    policy: str, resource: Res, fragment: str
) -> None:
    messages = reported(POLICY[policy], resource)
    assert len(messages) >= 1
    assert any(fragment in m for m in messages), messages
    assert all(m.startswith(f"{resource.type} 'r': ") for m in messages)
    others = [p.name for p in RESOURCE_POLICIES if p.name != policy and reported(p, resource)]
    assert others == [], f"{resource.type} also fails {others}"


@pytest.mark.parametrize(
    "resource",
    [
        compliant(T, snapshotRetentionLimit=0.0),
        Res(T, COMPLIANT[T][0], protect=False),
        Res(azure.DATABASE, {"persistence": None}, protect=False),
    ],
)
def test_prod_rules_leave_other_stacks_alone(resource: Res) -> None:
    resource.stack = "staging-aws"
    resource.props = {**resource.props, "tags": {"environment": "staging"}}
    assert reported(rules.BACKUPS_IN_PROD, resource) == []
    assert reported(rules.PROTECT_PROD_STATEFUL, resource) == []


@pytest.mark.parametrize(
    ("stack", "tags"),
    [("main", {"environment": "prod"}), ("prod-eu", {}), ("eu-prod", {"environment": "dev"})],
)
def test_prod_from_the_environment_tag_or_the_stack_name(stack: str, tags: dict[str, str]) -> None:
    resource = Res(T, {**COMPLIANT[T][0], "tags": tags}, protect=False, stack=stack)
    assert reported(rules.PROTECT_PROD_STATEFUL, resource)
