"""No two stack files write the same externally named object.

Running two stacks side by side is normal (prod-azure and prod-azure-managed
during a migration, staging and prod in one account), and a provider refuses
to create an object whose name exists already. Every stack file is run under
its mocks (:func:`tests.infra.stacks.run_stack`); each declared resource with a
name chosen by the program (not one the provider generates) gets the identity
its provider enforces (Key Vault secrets per vault, Secret Manager ids per
project, Secrets Manager names per region, DNS zones per resource group, a zone
name once per virtual network, cache and cluster host names, ...), and no
identity may appear in two stacks. Every declared type must be classified, so a
new resource type cannot slip past this test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from .harness import Declared
from .stack_config import changed, stack_file
from .stacks import StackRun, run_stack, stack_names

Identity = tuple[str, ...]
IdentityOf = Callable[[Declared, Mapping[str, Any]], Identity]


def _aws(field: str) -> IdentityOf:
    """Unique per account and region (one account assumed: the strictest reading)."""
    return lambda r, config: (r.type, str(config.get("aws:region", "")), r.inputs[field])


def _gcp(*fields: str) -> IdentityOf:
    return lambda r, _: (r.type, *(str(r.inputs[f]) for f in fields))


def _k8s(r: Declared, config: Mapping[str, Any]) -> Identity:
    meta = r.inputs["metadata"]
    context = str(config.get("kubernetes:context", ""))
    return (r.type, context, str(meta.get("namespace", "")), meta["name"])


def _lower(*fields: str) -> IdentityOf:
    """Azure names are case-insensitive."""
    return lambda r, _: (r.type, *(_field(r.inputs, f).lower() for f in fields))


def _field(inputs: Mapping[str, Any], path: str) -> str:
    value: Any = inputs
    for part in path.split("."):
        value = value[part]
    return str(value)


def _vnet_link(r: Declared, _: Mapping[str, Any]) -> Identity:
    # A zone name may be linked once per virtual network, whatever group holds the zone.
    return (r.type, r.inputs["privateZoneName"], _field(r.inputs, "virtualNetwork.id").lower())


#: Types whose name the program chooses, and the identity their provider keeps unique.
NAMED: dict[str, IdentityOf] = {
    "aws:elasticache/replicationGroup:ReplicationGroup": _aws("replicationGroupId"),
    "aws:elasticache/parameterGroup:ParameterGroup": _aws("name"),
    "aws:elasticache/subnetGroup:SubnetGroup": _aws("name"),
    "aws:elasticache/user:User": _aws("userId"),
    "aws:elasticache/userGroup:UserGroup": _aws("userGroupId"),
    "aws:cloudwatch/logGroup:LogGroup": _aws("name"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _aws("name"),
    "aws:secretsmanager/secret:Secret": _aws("name"),
    "gcp:redis/instance:Instance": _gcp("project", "region", "name"),
    "gcp:redis/cluster:Cluster": _gcp("project", "region", "name"),
    "gcp:memorystore/instance:Instance": _gcp("project", "location", "instanceId"),
    "gcp:secretmanager/secret:Secret": _gcp("project", "secretId"),
    # One binding per key, role and member: a second stack's copy would be removed
    # with the first stack (a destroy drops the grant the other one relies on).
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _gcp("cryptoKeyId", "role", "member"),
    # One policy per network, region and service class, whatever its name.
    "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy": _gcp(
        "network", "location", "serviceClass"
    ),
    "azure-native:redis:Redis": _lower("name"),  # <name>.redis.cache.windows.net
    "azure-native:redisenterprise:RedisEnterprise": _lower("location", "clusterName"),
    "azure-native:keyvault:Secret": _lower("vaultName", "secretName"),
    "azure-native:privatedns:PrivateZone": _lower("resourceGroupName", "privateZoneName"),
    "azure-native:privatedns:VirtualNetworkLink": _vnet_link,
    "azure-native:authorization:ManagementLockByScope": _lower("scope", "lockName"),
    "azure-native:managedidentity:UserAssignedIdentity": _lower(
        "resourceGroupName", "resourceName"
    ),
}
NAMED.update(
    {
        f"kubernetes:{kind}": _k8s
        for kind in (
            "core/v1:Namespace", "core/v1:ConfigMap", "core/v1:Secret", "core/v1:Service",
            "core/v1:ServiceAccount", "apps/v1:StatefulSet", "apps/v1:Deployment",
            "policy/v1:PodDisruptionBudget", "networking.k8s.io/v1:NetworkPolicy",
            "rbac.authorization.k8s.io/v1:Role", "rbac.authorization.k8s.io/v1:RoleBinding",
            "monitoring.coreos.com/v1:PrometheusRule", "monitoring.coreos.com/v1:PodMonitor",
            "monitoring.coreos.com/v1:ServiceMonitor", "cert-manager.io/v1:Certificate",
            "cert-manager.io/v1:Issuer",
        )
    }
)  # fmt: skip
#: Types the provider names (a random suffix, a GUID), children of a named object
#: (covered by their parent's identity), or not in any cloud at all.
UNNAMED = frozenset(
    {
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "gcp:secretmanager/secretVersion:SecretVersion",
        "gcp:monitoring/alertPolicy:AlertPolicy",
        "gcp:projects/iAMMember:IAMMember",
        "azure-native:redisenterprise:Database",
        "azure-native:redis:PatchSchedule",
        "azure-native:authorization:RoleAssignment",
        "azure-native:monitor:MetricAlert",
        "azure-native:network:PrivateEndpoint",
        "azure-native:network:PrivateDnsZoneGroup",
        "random:index/randomPassword:RandomPassword",
        "random:index/randomId:RandomId",
    }
)
LOGICAL_PREFIXES = ("pulumi:", "aragora-redis:")


Stacks = Mapping[str, tuple[StackRun, Mapping[str, Any]]]


def identities(name: str, run: StackRun, config: Mapping[str, Any]) -> dict[Identity, str]:
    """The externally named objects stack ``name`` writes, each with its resource."""
    out = {}
    for r in run.resources:
        if r.type in NAMED:
            out[NAMED[r.type](r, config)] = f"{name}: {r}"
    return out


def collisions(stacks: Stacks) -> list[str]:
    """Every identity that two stacks (name -> run and config) share: ``identity: one / other``."""
    seen: dict[Identity, str] = {}
    found = []
    for name, (run, config) in sorted(stacks.items()):
        for identity, where in identities(name, run, config).items():
            if identity in seen:
                found.append(f"{identity}: {seen[identity]} / {where}")
            seen.setdefault(identity, where)
    return found


@pytest.fixture(scope="module")
def stacks() -> Stacks:
    out = {name: (run_stack(name), stack_file(name)) for name in stack_names()}
    for name, (run, _) in out.items():
        assert run.error is None, f"{name}: {run.error!r}"
    return out


def test_no_two_stacks_write_the_same_externally_named_object(stacks: Stacks) -> None:
    assert collisions(stacks) == []


def test_every_declared_type_is_classified(stacks: Stacks) -> None:
    types = {r.type for run, _ in stacks.values() for r in run.resources}
    unknown = sorted(
        t
        for t in types
        if t not in NAMED and t not in UNNAMED and not t.startswith(LOGICAL_PREFIXES)
    )
    assert unknown == [], "classify these types in NAMED or UNNAMED"


def test_a_copied_stack_collides_on_its_secret_cache_zone_and_lock(stacks: Stacks) -> None:
    found = collisions({"prod-azure": stacks["prod-azure"], "copy": stacks["prod-azure"]})
    kinds = {line.split("'")[1] for line in found}
    assert {
        "azure-native:keyvault:Secret",
        "azure-native:redis:Redis",
        "azure-native:privatedns:PrivateZone",
        "azure-native:privatedns:VirtualNetworkLink",
        "azure-native:authorization:ManagementLockByScope",
    } <= kinds, found


def test_the_two_azure_stacks_sharing_a_secret_name_collide(stacks: Stacks) -> None:
    shared = changed(
        "prod-azure-managed", {"azure-managed.keyVault.secretName": "contoso-aragora-prod-env"}
    )
    pair = {
        "prod-azure": stacks["prod-azure"],
        "managed": (run_stack("prod-azure-managed", shared), shared),
    }
    (found,) = collisions(pair)
    assert "'azure-native:keyvault:Secret', 'kv-aragora-prod', 'contoso-aragora-prod-env'" in found
