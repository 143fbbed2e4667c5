"""Each invalid cluster config stops the program before any resource, naming the key.

Also the I/O-free readers of Memorystore's outputs (discovery endpoint, CA bundle).
"""

from __future__ import annotations

from typing import Any

import pulumi_gcp as gcp
import pytest

from aragora_redis import HostPort

from ..gcp_mocks import OWN_POLICY, cluster_stack, run_gcp
from ..gcp_mocks import gcp as gcp_keys
from ..harness import ErrorCase as Case
from ..harness import case_ids

STACK = "prod-gcp-cluster"
STAGING = {"environment": "staging", **gcp_keys(customerManagedKey=None)}
KEY = "aragora-redis:gcp.cluster"
PSC_SUBNET = OWN_POLICY["subnetwork"]
DISCOVERY = "CONNECTION_TYPE_DISCOVERY"


def cluster(**changes: Any) -> dict[str, Any]:
    """Changes to keys of the ``aragora-redis:gcp.cluster`` section (``None`` deletes)."""
    return {f"gcp.cluster.{k}": v for k, v in changes.items()}


CASES = [
    Case("no replica per shard", cluster(replicasPerShard=0), f"{KEY}.replicasPerShard",
         ("got 0", "greater than or equal to 1")),
    Case("three replicas per shard", cluster(replicasPerShard=3), f"{KEY}.replicasPerShard",
         ("got 3", "less than or equal to 2")),
    Case("no shard", cluster(shardCount=0), f"{KEY}.shardCount", ("got 0",)),
    Case("created policy without subnetwork", cluster(createServiceConnectionPolicy=True),
         f"{KEY}.subnetwork", ("got None", "createServiceConnectionPolicy false")),
    Case("subnetwork for the network stack's policy", cluster(subnetwork=PSC_SUBNET),
         f"{KEY}.subnetwork", ("aragora-prod-psc", "no value unless createServiceConnection")),
    Case("nobody may log in to a prod cluster", cluster(connectionMembers=None),
         f"{KEY}.connectionMembers", ("got []", "at least one principal in prod",
                                      "roles/redis.dbConnectionUser")),
    Case("nobody may log in to a prod Valkey", cluster(engine="valkey", connectionMembers=[]),
         f"{KEY}.connectionMembers", ("got []", "roles/memorystore.dbConnectionUser")),
    Case("subnetwork not an id", cluster(subnetwork="aragora-psc"), f"{KEY}.subnetwork",
         ("'aragora-psc'", "projects/<project>/regions/<region>/subnetworks/<name>")),
    Case("subnetwork in another region",
         cluster(createServiceConnectionPolicy=True,
                 subnetwork="projects/aragora-prod-4821/regions/europe-west1/subnetworks/psc"),
         f"{KEY}.subnetwork", ("europe-west1", "a subnetwork in region us-central1")),
    Case("TLS off in prod", {"tls": "false"}, "aragora-redis:tls", ("got False", "true (prod")),
    Case("TLS off in staging", {**STAGING, "tls": "false"}, "aragora-redis:tls",
         ("got False", "SERVER_AUTHENTICATION")),
    Case("instance key next to cluster", gcp_keys(replicas=2), "aragora-redis:gcp.replicas",
         ("got 2", "no value with cluster")),
    Case("instance tier next to cluster", gcp_keys(tier="STANDARD_HA"), "aragora-redis:gcp.tier",
         ("'STANDARD_HA'", "no value with cluster")),
    Case("deletion protection off in prod", cluster(deletionProtection=False),
         f"{KEY}.deletionProtection", ("got False", "true in prod")),
    Case("no-SLA node type in prod", cluster(nodeType="shared-core-nano"), f"{KEY}.nodeType",
         ("'shared-core-nano'", "an SLA in prod")),
    Case("unknown node type", cluster(nodeType="REDIS_HIGHMEM_MEDIUM"), f"{KEY}.nodeType",
         ("'REDIS_HIGHMEM_MEDIUM'", "'highmem-medium'")),
    Case("engine version with redis", cluster(engineVersion="VALKEY_8_0"),
         f"{KEY}.engineVersion", ("'VALKEY_8_0'", "no value with engine redis")),
    Case("unknown engine", cluster(engine="memcached"), f"{KEY}.engine",
         ("'memcached'", "'redis' or 'valkey'")),
    Case("unknown cluster key", cluster(replicas=1), KEY,
         ("['replicas']", "only these keys: connectionMembers, createServiceConnectionPolicy,")),
    Case("connection member not a principal", cluster(connectionMembers=["group:ops@b.org"]),
         f"{KEY}.connectionMembers[0]", ("'group:ops@b.org'", "serviceAccount:<email>")),
    Case("connection members without project",
         {"gcp.project": None, **cluster(connectionMembers=["user:a@b.org"])},
         "aragora-redis:gcp.project", ("got None", "connectionMembers")),
    Case("Valkey id too short", {"name": "abc", **cluster(engine="valkey")}, "aragora-redis:name",
         ("'abc'", "at least 4 characters")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_invalid_cluster_config_is_named_before_any_resource(case: Case) -> None:
    case.check(run_gcp(cluster_stack(case.changes), STACK), outputs=False)


def test_staging_and_dev_may_grant_no_one_yet() -> None:
    for environment in ("staging", "dev"):
        changes = {**STAGING, "environment": environment, **cluster(connectionMembers=None)}
        run = run_gcp(cluster_stack(changes), STACK)
        assert run.error is None, f"{environment}: {run.error!r}"


def test_staging_may_turn_deletion_protection_off() -> None:
    run = run_gcp(cluster_stack({**STAGING, **cluster(deletionProtection=False)}), STACK)
    assert run.error is None, repr(run.error)
    (redis_cluster,) = run.of_type("gcp:redis/cluster:Cluster")
    assert redis_cluster.inputs["deletionProtectionEnabled"] is False


def test_discovery_endpoint_address_and_port_come_from_the_outputs() -> None:
    # Imported here, after .gcp_mocks silenced pulumi_gcp's import-time deprecation warnings.
    from infra.backends.gcp.cluster_values import NoDiscoveryEndpoint, redis_discovery

    endpoint = gcp.redis.outputs.ClusterDiscoveryEndpoint(address="10.1.2.3", port=11000)
    assert redis_discovery([endpoint]) == HostPort("10.1.2.3", 11000)
    with pytest.raises(NoDiscoveryEndpoint):
        redis_discovery([])


def test_valkey_discovery_is_the_discovery_connection_not_the_primary() -> None:
    from infra.backends.gcp.cluster_values import NoDiscoveryEndpoint, valkey_discovery

    out = gcp.memorystore.outputs

    def psc(kind: str, address: str) -> Any:
        auto = out.InstanceEndpointConnectionPscAutoConnection(
            connection_type=kind, ip_address=address, port=11000
        )
        return out.InstanceEndpointConnection(psc_auto_connection=auto)

    primary, discovery = psc("CONNECTION_TYPE_PRIMARY", "10.0.0.1"), psc(DISCOVERY, "10.0.0.2")
    endpoints = [out.InstanceEndpoint(connections=[primary, discovery])]
    assert valkey_discovery(endpoints) == HostPort("10.0.0.2", 11000)
    with pytest.raises(NoDiscoveryEndpoint):
        valkey_discovery([out.InstanceEndpoint(connections=[primary])])


def test_ca_bundle_keeps_every_certificate_once_in_order() -> None:
    from infra.backends.gcp.cluster_values import ca_bundle

    out = gcp.redis.outputs
    a, b, c = (f"-----BEGIN CERTIFICATE-----\n{x}\n-----END CERTIFICATE-----" for x in "abc")
    cas = [
        out.ClusterManagedServerCa(
            ca_certs=[out.ClusterManagedServerCaCaCert(certificates=[a, b])]
        ),
        out.ClusterManagedServerCa(
            ca_certs=[out.ClusterManagedServerCaCaCert(certificates=[b, c])]
        ),
    ]
    assert ca_bundle(cas) == f"{a}\n{b}\n{c}\n"
    assert ca_bundle(None) == ""
