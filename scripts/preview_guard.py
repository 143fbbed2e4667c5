"""Stop a deploy that would replace or delete a stateful resource.

Reads the document of ``pulumi preview --json`` (a file or stdin) and lists every
resource that the plan would delete or replace (ops ``delete``, ``replace``,
``create-replacement``, ``delete-replaced``, ``import-replacement``) and whose type
holds data or credentials (:data:`STATEFUL_TYPES`) or has not been reviewed at all
(neither stateful nor in :data:`STATELESS_TYPES`), and every private endpoint it
would delete or replace while the cache's delete lock stays (:data:`LOCK_BLOCKED_TYPES`).
With ``--enforce`` (the prod stacks in .github/workflows) such a finding exits 1;
without it they are only printed. Exit 2: the input is not a preview document.

    pulumi preview --stack prod-aws --json > preview.json
    python scripts/preview_guard.py --enforce preview.json

Every type the backends declare must be in one of the two lists:
tests/infra/test_preview_guard.py runs every stack file under mocks to check it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Ops after which the resource that exists now is gone.
DESTRUCTIVE_OPS = frozenset(
    {"delete", "replace", "create-replacement", "delete-replaced", "import-replacement"}
)

#: Types whose replacement or deletion loses data, a credential the clients hold,
#: or the endpoint they connect to.
STATEFUL_TYPES = frozenset(
    {
        # AWS ElastiCache and its credentials and logs
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/cluster:Cluster",
        "aws:elasticache/serverlessCache:ServerlessCache",
        "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup",
        "aws:secretsmanager/secret:Secret",
        "aws:cloudwatch/logGroup:LogGroup",
        # Google Cloud Memorystore
        "gcp:redis/instance:Instance",
        "gcp:redis/cluster:Cluster",
        "gcp:memorystore/instance:Instance",
        "gcp:secretmanager/secret:Secret",
        # Azure Cache for Redis, Azure Managed Redis
        "azure-native:redis:Redis",
        "azure-native:redisenterprise:RedisEnterprise",
        "azure-native:redisenterprise:Database",
        "azure-native:keyvault:Secret",
        "azure-native:storage:StorageAccount",
        # Self-hosted Sentinel on Kubernetes: deleting the namespace deletes the volumes
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Namespace",
        # A new RandomPassword is a new password: every client's credential breaks.
        "random:index/randomPassword:RandomPassword",
    }
)

#: Types reviewed as safe to replace: configuration, networking, monitoring, names.
STATELESS_TYPES = frozenset(
    {
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:elasticache/parameterGroup:ParameterGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:elasticache/user:User",
        "aws:elasticache/userGroup:UserGroup",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "gcp:compute/globalAddress:GlobalAddress",
        "gcp:servicenetworking/connection:Connection",
        "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy",
        "gcp:monitoring/alertPolicy:AlertPolicy",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
        "gcp:secretmanager/secretVersion:SecretVersion",
        "azure-native:redis:PatchSchedule",
        "azure-native:authorization:RoleAssignment",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:authorization:ManagementLockByScope",
        "azure-native:monitor:MetricAlert",
        "azure-native:network:PrivateEndpoint",
        "azure-native:network:PrivateDnsZoneGroup",
        "azure-native:privatedns:PrivateZone",
        "azure-native:privatedns:VirtualNetworkLink",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "kubernetes:monitoring.coreos.com/v1:PodMonitor",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "random:index/randomId:RandomId",
    }
)

#: Types whose deletion deletes a child of the resource they point at (a private endpoint
#: deletes its connection on the cache): a CanNotDelete lock on the cache, which every prod
#: Azure stack has, makes that fail with 409 ScopeLocked unless the lock goes first.
LOCK_BLOCKED_TYPES = frozenset({"azure-native:network:PrivateEndpoint"})
LOCK_TYPE = "azure-native:authorization:ManagementLockByScope"
#: What to do before a plan that deletes or replaces a LOCK_BLOCKED_TYPES resource.
LOCK_STEPS = (
    "A private endpoint to a locked cache cannot be deleted (409 ScopeLocked). By hand, with"
    " approval: `pulumi destroy --target '<the <name>-lock urn>'`, then `pulumi up` (the"
    " endpoint is deleted before its replacement, then the lock is created again); see"
    " docs/runbook.md, Rollback."
)

#: The stack, providers and our components: logical, their children are checked.
STATELESS_PREFIXES = ("pulumi:", "aragora-redis:")


class Kind(Enum):
    """How a resource type was reviewed."""

    STATEFUL = "stateful"
    STATELESS = "stateless"
    UNREVIEWED = "unreviewed"
    #: Safe to replace, but the cache's delete lock must go first.
    LOCKED = "blocked by the delete lock"


def classify(type_: str) -> Kind:
    """Whether replacing a resource of ``type_`` can lose data or credentials."""
    if type_ in STATEFUL_TYPES:
        return Kind.STATEFUL
    if type_ in STATELESS_TYPES or type_.startswith(STATELESS_PREFIXES):
        return Kind.STATELESS
    return Kind.UNREVIEWED


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str


class _Step(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    op: str
    urn: str
    old_state: _State | None = Field(default=None, alias="oldState")
    new_state: _State | None = Field(default=None, alias="newState")


class _Preview(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # A preview without changes may leave steps out.
    steps: list[_Step] = []


@dataclass(frozen=True)
class Finding:
    """A resource the plan would delete or replace whose type is stateful or unreviewed."""

    urn: str
    type: str
    kind: Kind
    ops: tuple[str, ...]

    @property
    def name(self) -> str:
        """The resource's name (the last part of its URN)."""
        return self.urn.rsplit("::", 1)[-1]

    def __str__(self) -> str:
        return f"{self.kind.value} {self.type} {self.name!r}: {', '.join(self.ops)} ({self.urn})"


class PreviewError(ValueError):
    """The input is not a ``pulumi preview --json`` document."""


def urn_type(urn: str) -> str:
    """The resource type in a URN ``urn:pulumi:<stack>::<project>::<parent$...$type>::<name>``."""
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        raise PreviewError(f"step urn: got {urn!r}, expected urn:pulumi:<stack>::<project>::...")
    return parts[2].rsplit("$", 1)[-1]


def findings(document: str | bytes) -> list[Finding]:
    """The stateful or unreviewed resources a preview document would delete or replace.

    Raises :class:`PreviewError` when ``document`` is not a preview document.
    """
    try:
        preview = _Preview.model_validate_json(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise PreviewError(
            f"not a `pulumi preview --json` document: {where}: {first['msg']}"
        ) from None
    ops: dict[str, list[str]] = {}
    types: dict[str, str] = {}
    for step in preview.steps:
        if step.op not in DESTRUCTIVE_OPS:
            continue
        state = step.old_state or step.new_state
        types[step.urn] = state.type if state else urn_type(step.urn)
        ops.setdefault(step.urn, []).append(step.op)
    lock_goes = LOCK_TYPE in {types[urn] for urn in ops}
    found = (
        Finding(urn, types[urn], _kind(types[urn], lock_goes), tuple(dict.fromkeys(ops[urn])))
        for urn in sorted(ops)
    )
    return [f for f in found if f.kind is not Kind.STATELESS]


def _kind(type_: str, lock_goes: bool) -> Kind:
    if type_ in LOCK_BLOCKED_TYPES and not lock_goes:
        return Kind.LOCKED
    return classify(type_)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the findings; 1 when there are some and ``--enforce`` is given, 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preview", nargs="?", default="-", help="preview JSON file, - = stdin")
    parser.add_argument(
        "--enforce", action="store_true", help="exit 1 when a stateful resource would go"
    )
    args = parser.parse_args(argv)
    source = "stdin" if args.preview == "-" else args.preview
    try:
        text = sys.stdin.read() if args.preview == "-" else Path(args.preview).read_text()
        found = findings(text)
    except (OSError, PreviewError) as exc:
        print(f"preview_guard: {source}: {exc}", file=sys.stderr)
        return 2
    if not found:
        print("preview_guard: no stateful resource would be replaced or deleted")
        return 0
    verdict = "refusing" if args.enforce else "warning (not enforced for this stack)"
    print(f"preview_guard: {verdict}: {len(found)} resource(s) would be replaced or deleted:")
    for finding in found:
        print(f"  {finding}")
    print(
        "A replacement of a stateful resource loses its data or credentials. If it is"
        " intended, do it by hand (see docs/runbook.md, Rollback), not from this workflow."
    )
    if any(f.kind is Kind.LOCKED for f in found):
        print(LOCK_STEPS)
    return 1 if args.enforce else 0


if __name__ == "__main__":
    sys.exit(main())
