"""Where the ElastiCache nodes go: the subnets' AZs, node counts, member cluster ids.

The subnets are looked up (an invoke, answered in preview too) before any
resource is declared, so a subnet group that cannot span two AZs, or a subnet
of another VPC, is a config error naming ``aragora-redis:aws.subnetIds``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from ...settings import Problem, config_key, fail
from .settings import AwsSettings


def subnet_zones(settings: AwsSettings) -> tuple[str, ...]:
    """The distinct AZs of the subnets, checked to be two or more and in ``vpcId``."""
    problems, zones = [], []
    for index, subnet_id in enumerate(settings.subnet_ids):
        subnet = aws.ec2.get_subnet(id=subnet_id)
        zones.append(subnet.availability_zone)
        if subnet.vpc_id != settings.vpc_id:
            expected = f"a subnet of vpcId {settings.vpc_id} (this one is in {subnet.vpc_id})"
            problems.append(Problem(config_key("aws", "subnetIds", index), subnet_id, expected))
    distinct = tuple(dict.fromkeys(zones))
    if len(distinct) < 2:
        expected = f"subnets in two or more availability zones (all are in {', '.join(distinct)})"
        problems.append(
            Problem(config_key("aws", "subnetIds"), list(settings.subnet_ids), expected)
        )
    fail(problems)
    return distinct


@dataclass(frozen=True)
class Topology:
    """Node counts and AZ placement of the replication group (unused fields ``None``)."""

    cluster_mode: str
    num_cache_clusters: int | None = None
    preferred_cache_cluster_azs: list[str] | None = None
    num_node_groups: int | None = None
    replicas_per_node_group: int | None = None

    @classmethod
    def of(cls, s: AwsSettings, zones: tuple[str, ...]) -> Topology:
        """Replication mode: the primary and its replicas round-robin over the AZs.

        Cluster mode names no AZs: the provider replaces the whole replication
        group when explicit node group configurations change (a shard added, a
        replica more), so placement is left to Multi-AZ over the subnet group's AZs.
        """
        if s.mode == "replication":
            nodes = 1 + s.replicas
            azs = [zones[i % len(zones)] for i in range(nodes)]
            return cls("disabled", num_cache_clusters=nodes, preferred_cache_cluster_azs=azs)
        return cls("enabled", num_node_groups=s.shard_count, replicas_per_node_group=s.replicas)


def member_clusters(group_id: str, settings: AwsSettings) -> tuple[str, ...]:
    """The cache cluster ids ElastiCache gives the members of replication group ``group_id``."""
    per_group = 1 + settings.replicas
    if settings.mode == "replication":
        return tuple(f"{group_id}-{n:03d}" for n in range(1, per_group + 1))
    return tuple(
        f"{group_id}-{shard:04d}-{n:03d}"
        for shard in range(1, settings.shard_count + 1)
        for n in range(1, per_group + 1)
    )
