"""Policy inputs for the pack's tests: a compliant input of every resource type, and helpers.

Not a test module of its own (no tests). Arguments are built the way
pulumi-policy's own tests build them: ``ResourceValidationArgs`` /
``StackValidationArgs`` with ``PolicyResourceOptions``.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy import aws, azure, gcp, kubernetes, rules

ZONE = kubernetes.ZONE_KEY
REDIS_CONF = "port 0\ntls-port 6379\nrequirepass s3cret\n"
WINDOW = {"weeklyMaintenanceWindows": [{"day": "SUNDAY"}]}

#: A compliant input of each type, and the properties its SDK marks secret.
COMPLIANT: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    aws.REPLICATION_GROUP: (
        {
            "transitEncryptionEnabled": True,
            "transitEncryptionMode": "required",
            "authToken": "s3cret",
            "automaticFailoverEnabled": True,
            "multiAzEnabled": True,
            "clusterMode": "disabled",
            "numCacheClusters": 3.0,
            "preferredCacheClusterAzs": ["us-east-1a", "us-east-1b", "us-east-1c"],
            "atRestEncryptionEnabled": True,
            "snapshotRetentionLimit": 7.0,
            "maintenanceWindow": "sun:04:00-sun:05:00",
        },
        ("authToken",),
    ),
    aws.INGRESS_RULE: ({"referencedSecurityGroupId": "sg-1", "cidrIpv4": None}, ()),
    aws.SECURITY_GROUP: ({"ingress": [{"cidrBlocks": ["10.0.0.0/8"]}]}, ()),
    aws.SECURITY_GROUP_RULE: ({"type": "ingress", "cidrBlocks": ["172.16.0.0/12"]}, ()),
    aws.USER: ({"passwords": ["s3cret"]}, ("passwords",)),
    aws.SECRET_VERSION: ({"secretString": "{}"}, ("secretString",)),
    rules.RANDOM_PASSWORD: ({"result": "s3cret"}, ("result", "bcryptHash")),
    gcp.INSTANCE: (
        {
            "transitEncryptionMode": "SERVER_AUTHENTICATION",
            "authEnabled": True,
            "tier": "STANDARD_HA",
            "replicaCount": 2.0,
            "locationId": "us-central1-a",
            "alternativeLocationId": "us-central1-b",
            "authorizedNetwork": "projects/p/global/networks/vpc",
            "persistenceConfig": {"persistenceMode": "RDB"},
            "maintenancePolicy": WINDOW,
            "authString": "s3cret",
        },
        ("authString",),
    ),
    gcp.CLUSTER: (
        {
            "transitEncryptionMode": "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION",
            "authorizationMode": "AUTH_MODE_IAM_AUTH",
            "replicaCount": 1.0,
            "zoneDistributionConfig": {"mode": "MULTI_ZONE"},
            "pscConfigs": [{"network": "projects/p/global/networks/vpc"}],
            "persistenceConfig": {"mode": "RDB"},
            "maintenancePolicy": WINDOW,
        },
        (),
    ),
    gcp.VALKEY: (
        {
            "transitEncryptionMode": "SERVER_AUTHENTICATION",
            "authorizationMode": "IAM_AUTH",
            "replicaCount": 1.0,
            "zoneDistributionConfig": {"mode": "MULTI_ZONE"},
            "persistenceConfig": {"mode": "AOF"},
            "maintenancePolicy": WINDOW,
        },
        (),
    ),
    gcp.SECRET_VERSION: ({"secretData": "{}"}, ("secretData",)),
    azure.REDIS: (
        {
            "name": "r",
            "enableNonSslPort": False,
            "minimumTlsVersion": "1.2",
            "disableAccessKeyAuthentication": False,
            "sku": {"name": "Premium", "family": "P", "capacity": 1.0},
            "zones": ["1", "2", "3"],
            "replicasPerPrimary": 2.0,
            "publicNetworkAccess": "Disabled",
            "redisConfiguration": {"rdbBackupEnabled": "true"},
        },
        (),
    ),
    azure.ENTERPRISE: (
        {
            "minimumTlsVersion": "1.2",
            "highAvailability": "Enabled",
            "publicNetworkAccess": "Disabled",
        },
        (),
    ),
    azure.DATABASE: ({"clientProtocol": "Encrypted", "persistence": {"rdbEnabled": True}}, ()),
    azure.KEY_VAULT_SECRET: ({"properties": {"value": "{}"}}, ("properties",)),
    kubernetes.STATEFUL_SET: (
        {
            "spec": {
                "replicas": 3.0,
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/component": "redis"}},
                    "spec": {"topologySpreadConstraints": [{"topologyKey": ZONE}]},
                },
                "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            }
        },
        (),
    ),
    kubernetes.SERVICE: ({"spec": {"type": "ClusterIP"}}, ()),
    kubernetes.CONFIG_MAP: ({"data": {"sentinel.conf": "port 0\ntls-port 26379\n"}}, ()),
    kubernetes.SECRET: (
        {"data": {"redis.conf": base64.b64encode(REDIS_CONF.encode()).decode()}},
        ("data", "stringData"),
    ),
    kubernetes.NETWORK_POLICY: (
        {"spec": {"ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}]}]}},
        (),
    ),
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Res:
    """A resource to hand to a policy: type, props, options, stack."""

    type: str
    props: dict[str, Any] = field(default_factory=dict)
    protect: bool = True
    secret: tuple[str, ...] | None = None
    stack: str = "prod-test"
    name: str = "r"
    parent: str | None = None

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{self.stack}::aragora-redis::{self.type}::{self.name}"

    def opts(self) -> PolicyResourceOptions:
        secret = COMPLIANT.get(self.type, ({}, ()))[1] if self.secret is None else self.secret
        return PolicyResourceOptions(
            self.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), list(secret), self.parent
        )

    def args(self) -> ResourceValidationArgs:
        return ResourceValidationArgs(self.type, self.props, self.urn, self.name, self.opts(), None)

    def policy_resource(self) -> PolicyResource:
        return PolicyResource(
            self.type, self.props, self.urn, self.name, self.opts(), None, None, [], {}
        )


def compliant(type_: str, **changes: Any) -> Res:
    """The compliant input of ``type_`` with top-level ``changes`` (None deletes)."""
    props = copy.deepcopy(COMPLIANT[type_][0])
    for k, v in changes.items():
        if v is None:
            props.pop(k, None)
        else:
            props[k] = v
    return Res(type_, props)


def reported(policy: Any, *resources: Res) -> list[str]:
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    if isinstance(policy, ResourceValidationPolicy):
        for r in resources:
            policy.validate(r.args(), report)
    else:
        assert isinstance(policy, StackValidationPolicy)
        policy.validate(StackValidationArgs([r.policy_resource() for r in resources]), report)
    return messages


RESOURCE_POLICIES = [p for p in rules.POLICIES if isinstance(p, ResourceValidationPolicy)]
