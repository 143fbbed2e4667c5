"""``aragora-redis:gcp.cluster``: Memorystore for Redis Cluster or Valkey instead of an instance.

Both engines shard the keyspace, keep at least one replica per shard in
another zone, accept only TLS (``SERVER_AUTHENTICATION``) and log clients in
with IAM access tokens (no AUTH string exists). Clients reach them through
Private Service Connect: a service connection policy on the VPC lets
Memorystore create its endpoints. Only one policy may exist per VPC, region and
service class, so by default the stack uses the one the network stack owns;
``createServiceConnectionPolicy`` makes this stack its owner (in ``subnetwork``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from ...settings import Environment, Problem, StackSettings, config_key, matching
from ..common import BackendSettings

Engine = Literal["redis", "valkey"]
NodeType = Literal[
    "shared-core-nano",
    "standard-small",
    "highmem-medium",
    "highcpu-medium",
    "standard-large",
    "highmem-xlarge",
    "highmem-2xlarge",
]
ValkeyVersion = Literal["VALKEY_8_0", "VALKEY_7_2"]
Subnetwork = Annotated[
    str,
    matching(
        r"projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/regions/[a-z]+-[a-z]+[0-9]+/subnetworks/"
        r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        "a subnetwork id such as projects/<project>/regions/<region>/subnetworks/<name>",
    ),
]
Member = Annotated[
    str,
    matching(
        r"(serviceAccount|user):[^@\s]+@[^@\s]+",
        "an IAM principal: serviceAccount:<email> or user:<email> (groups are not supported)",
    ),
]
#: Memorystore for Redis Cluster and for Valkey: 0 to 2 replicas per shard; HA needs 1.
MAX_REPLICAS_PER_SHARD = 2
MAX_SHARDS = 250
#: Service classes of the service connection policy, by engine.
SERVICE_CLASS: Mapping[Engine, str] = {
    "redis": "gcp-memorystore-redis",
    "valkey": "gcp-memorystore",
}
#: The role that lets a principal log in with an IAM token, by engine.
CONNECTION_ROLE: Mapping[Engine, str] = {
    "redis": "roles/redis.dbConnectionUser",
    "valkey": "roles/memorystore.dbConnectionUser",
}
#: Memorystore's ``nodeType`` spelling, by engine.
NODE_TYPE_PREFIX: Mapping[Engine, str] = {"redis": "REDIS_", "valkey": ""}
#: Node types by environment; shared-core-nano has no SLA, so prod refuses it.
DEFAULT_NODE_TYPE: Mapping[str, NodeType] = {
    "dev": "shared-core-nano",
    "staging": "standard-small",
    "prod": "highmem-medium",
}
#: Keys of the ``gcp`` section that describe the STANDARD_HA instance, not a cluster.
INSTANCE_KEYS = (
    "tier",
    "memorySizeGb",
    "replicas",
    "readReplicas",
    "zone",
    "alternativeZone",
    "redisVersion",
    "reservedIpRange",
    "createPrivateServiceAccess",
    "privateServiceAccessPrefixLength",
)


class GcpCluster(BackendSettings):
    """``aragora-redis:gcp.cluster``: a sharded Memorystore with IAM auth over PSC."""

    SECTION = "gcp.cluster"
    engine: Engine = "redis"
    shard_count: int = Field(3, ge=1, le=MAX_SHARDS)
    #: At least one, so every shard fails over to a replica in another zone.
    replicas_per_shard: int = Field(1, ge=1, le=MAX_REPLICAS_PER_SHARD)
    node_type: NodeType
    #: Valkey only (Redis Cluster has no version to choose).
    engine_version: ValkeyVersion | None = None
    #: The PSC subnetwork of the created service connection policy, in the stack's region.
    subnetwork: Subnetwork | None = None
    #: Create the service connection policy; only one may exist per VPC, region and service
    #: class, so the default is the existing one (owned by the network stack).
    create_service_connection_policy: bool = False
    #: Memorystore refuses to delete the cluster while on; prod may not turn it off.
    deletion_protection: bool = True
    #: Principals granted the engine's DB connection role on ``project`` (every cluster in it).
    connection_members: tuple[Member, ...] = ()

    @classmethod
    def environment_defaults(
        cls, data: Mapping[str, Any], environment: Environment
    ) -> Mapping[str, Any]:
        """The environment's default node type."""
        return {"nodeType": DEFAULT_NODE_TYPE[environment]}

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """The prod, connection policy, engine version and instance name rules."""
        bad = self.reporter(problems)
        if stack.environment == "prod":
            if self.node_type == "shared-core-nano":
                bad(
                    "nodeType",
                    self.node_type,
                    "a node type with an SLA in prod, not shared-core-nano",
                )
            if not self.deletion_protection:
                bad("deletionProtection", False, "true in prod")
            if not self.connection_members:
                bad(
                    "connectionMembers",
                    [],
                    f"at least one principal in prod (serviceAccount:<email> or user:<email>):"
                    f" with IAM auth only holders of {self.connection_role} can log in",
                )
        self._check_connection_policy(bad)
        if self.engine == "redis" and self.engine_version is not None:
            bad("engineVersion", self.engine_version, "no value with engine redis")
        if self.engine == "valkey" and len(stack.name) < 4:
            problems.append(
                Problem(
                    config_key("name"), stack.name, "at least 4 characters (a Valkey instance id)"
                )
            )

    def _check_connection_policy(self, bad: Any) -> None:
        if self.create_service_connection_policy and self.subnetwork is None:
            bad(
                "subnetwork",
                None,
                "a subnetwork id for the created service connection policy's PSC endpoints,"
                " or createServiceConnectionPolicy false to use the VPC's existing policy",
            )
        if not self.create_service_connection_policy and self.subnetwork is not None:
            bad(
                "subnetwork",
                self.subnetwork,
                "no value unless createServiceConnectionPolicy is true (the existing policy"
                " of the VPC, region and service class names its own subnetworks)",
            )

    @property
    def memorystore_node_type(self) -> str:
        """``nodeType`` as the engine's API spells it, e.g. ``REDIS_HIGHMEM_MEDIUM``."""
        return NODE_TYPE_PREFIX[self.engine] + self.node_type.upper().replace("-", "_")

    @property
    def valkey_version(self) -> str:
        """The Valkey engine version (the newest when not set)."""
        return self.engine_version or "VALKEY_8_0"

    @property
    def connection_role(self) -> str:
        """The IAM role that allows logging in with a token."""
        return CONNECTION_ROLE[self.engine]

    @property
    def service_class(self) -> str:
        """The service connection policy's service class for this engine."""
        return SERVICE_CLASS[self.engine]


def instance_keys_given(data: Mapping[str, Any]) -> list[Problem]:
    """The STANDARD_HA instance keys set next to ``cluster`` (they would be ignored)."""
    return [
        Problem(config_key("gcp", key), data[key], "no value with cluster (an instance key)")
        for key in INSTANCE_KEYS
        if key in data
    ]


def subnetwork_region(subnetwork: str) -> str:
    """The region part of a subnetwork id."""
    return subnetwork.split("/regions/", 1)[1].split("/", 1)[0]
