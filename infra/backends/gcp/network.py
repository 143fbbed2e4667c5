"""Private service access for Memorystore: an allocated range peered with the VPC.

Memorystore in ``PRIVATE_SERVICE_ACCESS`` mode takes its addresses from a range
allocated in the consumer VPC and peered with Google's service producer
network. Most organisations create that peering once per VPC; with
``createPrivateServiceAccess`` this stack creates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from .settings import GcpSettings

SERVICE = "servicenetworking.googleapis.com"


@dataclass(frozen=True)
class PrivateAccess:
    """Where the instance takes its addresses from and what it must wait for."""

    reserved_ip_range: pulumi.Input[str] | None
    depends_on: tuple[pulumi.Resource, ...] = ()


def private_access(
    name: str, s: GcpSettings, labels: dict[str, str], parent: pulumi.Resource
) -> PrivateAccess:
    """The range for the instance: created with its peering, or ``reservedIpRange`` as given."""
    if not s.create_private_service_access:
        return PrivateAccess(s.reserved_ip_range)
    address = gcp.compute.GlobalAddress(
        f"{name}-psa",
        name=f"{name}-psa",
        project=s.project,
        description=f"Private service access range of {name} (Memorystore)",
        purpose="VPC_PEERING",
        address_type="INTERNAL",
        prefix_length=s.private_service_access_prefix_length,
        network=s.network,
        labels=labels,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    connection = gcp.servicenetworking.Connection(
        f"{name}-psa",
        network=s.network,
        service=SERVICE,
        reserved_peering_ranges=[address.name],
        # The peering may serve other services of the VPC (Cloud SQL, ...):
        # deleting this stack leaves it in place instead of cutting them off.
        deletion_policy="ABANDON",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return PrivateAccess(address.name, (connection,))
