"""The GCP attributes the mocks compute, added to :mod:`tests.infra.harness` for a run.

Memorystore computes the instance's address, its port (6378 with TLS, so the
program must not assume 6379), the AUTH string and its server CA certificates;
the mocked instance has two certificates, as during a CA rotation. A Redis
Cluster or Valkey instance gets its discovery endpoint and managed server CAs
(two CAs, three certificates) when TLS is on.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pulumi

from . import harness, stack_config
from .harness import Run

INSTANCE = "gcp:redis/instance:Instance"
GET_PROJECT = "gcp:organizations/getProject:getProject"
PROJECT_NUMBER = "918273645012"
REDIS_CLUSTER = "gcp:redis/cluster:Cluster"
VALKEY = "gcp:memorystore/instance:Instance"
CLUSTER_HOST, VALKEY_HOST, DISCOVERY_PORT = "10.80.0.9", "10.81.0.9", 6379
CLUSTER_CA_CERTS = (
    "-----BEGIN CERTIFICATE-----\nMIIclusterCA0leaf\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIIclusterCA0root\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIIclusterCA1next\n-----END CERTIFICATE-----\n",
)
HOST, READ_HOST, TLS_PORT = "10.72.0.3", "10.72.0.4", 6378
#: Characters a URL must escape, so the round trip is tested with them.
FAKE_AUTH_STRING = "a1B2-c3D4/e5F6+g7H8:i9@J0"
CA_CERTS = (
    "-----BEGIN CERTIFICATE-----\nMIIcurrentCA0\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIInextCA1\n-----END CERTIFICATE-----\n",
)


def computed(type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The AWS attributes of :func:`harness.computed` plus Memorystore's."""
    out = _aws_computed(type_, name, inputs)
    if type_ == INSTANCE:
        tls = inputs.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
        out |= {
            "host": HOST,
            "port": TLS_PORT if tls else 6379,
            "authString": FAKE_AUTH_STRING if inputs.get("authEnabled") else "",
            "serverCaCerts": [
                {"cert": pem, "serialNumber": str(i)} for i, pem in enumerate(CA_CERTS)
            ]
            if tls
            else [],
            "currentLocationId": inputs.get("locationId", "us-central1-a"),
        }
        if inputs.get("readReplicasMode") == "READ_REPLICAS_ENABLED":
            out |= {"readEndpoint": READ_HOST, "readEndpointPort": TLS_PORT}
    elif type_ == REDIS_CLUSTER:
        tls = inputs.get("transitEncryptionMode") == "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"
        network = inputs["pscConfigs"][0]["network"]
        out |= {
            "discoveryEndpoints": [
                {"address": CLUSTER_HOST, "port": DISCOVERY_PORT, "pscConfig": {"network": network}}
            ],
            "managedServerCas": _managed_cas() if tls else [],
        }
    elif type_ == VALKEY:
        tls = inputs.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
        out |= {
            "endpoints": [
                {
                    "connections": [
                        _psc("CONNECTION_TYPE_PRIMARY", "10.81.0.10"),
                        _psc("CONNECTION_TYPE_DISCOVERY", VALKEY_HOST),
                    ]
                }
            ],
            "managedServerCas": _managed_cas() if tls else [],
        }
    return out


def _managed_cas() -> list[dict[str, Any]]:
    # Two CAs (the current one as a chain, the next one), as during a rotation.
    first, second, third = CLUSTER_CA_CERTS
    return [{"caCerts": [{"certificates": [first, second]}, {"certificates": [third]}]}]


def _psc(kind: str, address: str) -> dict[str, Any]:
    return {"pscAutoConnection": {"connectionType": kind, "ipAddress": address, "port": 6379}}


_aws_computed = harness.computed

with warnings.catch_warnings():
    # pulumi_gcp's lazy modules warn about their own deprecated names as they load.
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("pulumi_gcp.monitoring").AlertPolicy  # noqa: B018 (loads the module)
    importlib.import_module("pulumi_gcp.compute").GlobalAddress  # noqa: B018 (loads the module)
    importlib.import_module("pulumi_gcp.redis").Cluster  # noqa: B018 (loads the module)
    importlib.import_module("pulumi_gcp.memorystore").Instance  # noqa: B018 (loads the module)
    importlib.import_module("pulumi_gcp.networkconnectivity").ServiceConnectionPolicy  # noqa: B018
    importlib.import_module("pulumi_gcp.projects").IAMMember  # noqa: B018 (loads the module)
    importlib.import_module("pulumi_gcp.kms").CryptoKeyIAMMember  # noqa: B018 (loads the module)
    importlib.import_module("pulumi_gcp.organizations").get_project  # noqa: B018 (loads it)


class GcpMocks(harness.Mocks):
    """Also answers the project lookup (its number names Memorystore's service agent)."""

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == GET_PROJECT:
            project = args.args.get("projectId") or "provider-default-project"
            return {"projectId": project, "number": PROJECT_NUMBER}, []
        return super().call(args)


@contextmanager
def gcp_mocks() -> Iterator[None]:
    """Within: the harness's mocks also compute Memorystore attributes."""
    harness.computed = computed
    try:
        yield
    finally:
        harness.computed = _aws_computed


def run_gcp(config: Mapping[str, Any], stack: str = "test") -> Run:
    """:func:`harness.run_program` with the GCP attributes and lookups mocked."""
    with gcp_mocks():
        return harness.run_program(config, stack, mocks=GcpMocks({}))


def gcp(**changes: Any) -> dict[str, Any]:
    """Changes to keys of the ``aragora-redis:gcp`` section (``None`` deletes)."""
    return {f"gcp.{k}": v for k, v in changes.items()}


#: The principal prod clusters grant the DB connection role (prod requires one).
APP_MEMBER = "serviceAccount:aragora-app@aragora-prod-4821.iam.gserviceaccount.com"
#: What a stack that creates its service connection policy adds to ``gcp.cluster``.
OWN_POLICY = {
    "createServiceConnectionPolicy": True,
    "subnetwork": "projects/aragora-prod-4821/regions/us-central1/subnetworks/aragora-prod-psc",
}

#: The prod-gcp keys that describe the STANDARD_HA instance, not a cluster.
INSTANCE_ONLY = (
    "reservedIpRange",
    "zone",
    "alternativeZone",
    "tier",
    "memorySizeGb",
    "readReplicas",
    "replicas",
    "redisVersion",
)


def cluster_stack(changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """prod-gcp turned into a Redis Cluster stack (3 shards, 1 replica each), then ``changes``.

    Dotted keys as for :func:`stack_config.changed`; ``gcp.cluster.<key>`` changes the
    cluster section.
    """
    cluster = {
        "engine": "redis",
        "shardCount": 3,
        "replicasPerShard": 1,
        "nodeType": "highmem-medium",
        "deletionProtection": True,
        "connectionMembers": [APP_MEMBER],
    }
    base: dict[str, Any] = {
        **{f"gcp.{key}": None for key in INSTANCE_ONLY},
        "gcp.secretId": "aragora-prod-redis-cluster-env",
        "gcp.cluster": cluster,
    }
    return stack_config.changed("prod-gcp", {**base, **(changes or {})})
