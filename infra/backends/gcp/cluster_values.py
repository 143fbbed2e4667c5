"""I/O-free: what the clients need, read from the outputs Memorystore computes.

The discovery endpoint (one address per cluster: clients ask it for the slot
map, then talk to every shard) and the CA bundle (every certificate of every
managed server CA, so clients keep trusting the cluster during a CA rotation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pulumi_gcp as gcp

from aragora_redis import HostPort

DISCOVERY = "CONNECTION_TYPE_DISCOVERY"


class _CaCert(Protocol):
    @property
    def certificates(self) -> Sequence[str] | None: ...


class _ManagedCa(Protocol):
    @property
    def ca_certs(self) -> Sequence[_CaCert] | None: ...


class NoDiscoveryEndpoint(ValueError):
    """Memorystore reported no discovery endpoint (the PSC connections are missing)."""


def ca_bundle(cas: Sequence[_ManagedCa] | None) -> str:
    """Every certificate of every managed server CA, in order, each once, as one PEM bundle."""
    pems: list[str] = []
    for ca in cas or ():
        for chain in ca.ca_certs or ():
            for pem in chain.certificates or ():
                if pem.strip() and pem.strip() not in pems:
                    pems.append(pem.strip())
    return "".join(f"{pem}\n" for pem in pems)


def redis_discovery(
    endpoints: Sequence[gcp.redis.outputs.ClusterDiscoveryEndpoint] | None,
) -> HostPort:
    """The discovery endpoint of a Memorystore for Redis Cluster."""
    for endpoint in endpoints or ():
        if endpoint.address:
            return HostPort(endpoint.address, int(endpoint.port or 6379))
    raise NoDiscoveryEndpoint("the Redis Cluster has no discovery endpoint")


def valkey_discovery(
    endpoints: Sequence[gcp.memorystore.outputs.InstanceEndpoint] | None,
) -> HostPort:
    """The discovery endpoint of a Memorystore for Valkey instance in cluster mode.

    It is the auto-created PSC connection of type ``CONNECTION_TYPE_DISCOVERY``
    (``discovery_endpoints`` is deprecated and stays empty with auto-created endpoints).
    """
    for endpoint in endpoints or ():
        for connection in endpoint.connections or ():
            psc = connection.psc_auto_connection
            if psc is not None and psc.connection_type == DISCOVERY and psc.ip_address:
                return HostPort(psc.ip_address, int(psc.port or 6379))
    raise NoDiscoveryEndpoint("the Valkey instance has no discovery endpoint")
