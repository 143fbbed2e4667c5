"""``aragora-redis:azure-managed``: the config section of the Azure Managed Redis backend.

Azure Managed Redis places its nodes across the region's zones by itself when
high availability is on: the API refuses ``zones`` for every SKU, so the
section has no zone list. The clustering policy decides the contract mode:
``NoCluster`` (the default, only for SKUs of 25 GB or less) is one unsharded
Redis, ``standalone``; ``EnterpriseCluster`` is a proxy over the shards,
``standalone`` too, where only a few multi-key commands may span hash slots;
``OSSCluster`` exposes the shards, ``cluster``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from ...settings import Environment, Problem, StackSettings
from .settings import AzureCommonSettings

#: Azure Managed Redis SKUs this project accepts (the retiring Enterprise tiers are refused).
MANAGED_SKU_PREFIXES = ("Balanced_", "MemoryOptimized_", "ComputeOptimized_", "FlashOptimized_")
#: The largest in-memory SKU size (the number in its name, about its GB) that takes ``NoCluster``:
#: Microsoft allows the non-clustered policy for caches of 25 GB or less (B20, M20, X20: 24 GB).
NO_CLUSTER_MAX_SIZE = 20
ClusteringPolicy = Literal["NoCluster", "EnterpriseCluster", "OSSCluster"]


def no_cluster_allowed(sku: str) -> bool:
    """Whether ``sku`` is an in-memory SKU of 25 GB or less (Flash SKUs are 250 GB and up)."""
    match = re.fullmatch(r"(?:Balanced_B|MemoryOptimized_M|ComputeOptimized_X)(\d+)", sku)
    return match is not None and int(match.group(1)) <= NO_CLUSTER_MAX_SIZE


class AzureManagedSettings(AzureCommonSettings):
    """``aragora-redis:azure-managed``: one Azure Managed Redis cluster and its database."""

    SECTION: ClassVar[str] = "azure-managed"
    PRIVATE_DNS_ZONE: ClassVar[str] = "privatelink.redis.azure.net"

    sku: str = ""
    high_availability: bool = True
    #: Only here to refuse it by name: the API answers 400 for ``zones`` on every SKU.
    zones: tuple[str, ...] | None = None
    #: NoCluster / EnterpriseCluster: contract ``standalone``; OSSCluster: ``cluster``.
    clustering_policy: ClusteringPolicy = "NoCluster"
    rdb_persistence: Literal["1h", "6h", "12h"] | None = None
    #: How long the first ``up`` waits for the new cluster to be ``Running`` before its database.
    ready_timeout_seconds: int = 3600
    #: How often it asks Azure meanwhile.
    ready_poll_seconds: float = 15.0

    @classmethod
    def environment_defaults(
        cls, data: Mapping[str, Any], environment: Environment
    ) -> Mapping[str, Any]:
        """Sku Balanced_B5 in prod (two shards, zone redundant), else Balanced_B1."""
        return {"sku": "Balanced_B5" if environment == "prod" else "Balanced_B1"}

    def check(self, stack: StackSettings, problems: list[Problem]) -> None:
        """The rules of both backends, then the sku, HA, zone, clustering and wait rules."""
        super().check(stack, problems)
        bad = self.reporter(problems)
        if not self.sku.startswith(MANAGED_SKU_PREFIXES):
            bad(
                "sku",
                self.sku,
                "an Azure Managed Redis SKU such as Balanced_B5 or MemoryOptimized_M10"
                " (Enterprise tiers retire on 2027-03-31)",
            )
        if not self.high_availability and stack.environment == "prod":
            bad("highAvailability", False, "true in prod (a replica of every shard)")
        if self.zones is not None:
            bad(
                "zones",
                list(self.zones),
                "no value: Azure Managed Redis refuses zones for every SKU; with"
                " highAvailability true it spreads over the zones of a region that has them",
            )
        if self.clustering_policy == "NoCluster" and not no_cluster_allowed(self.sku):
            bad(
                "clusteringPolicy",
                self.clustering_policy,
                f"a SKU of 25 GB or less for NoCluster (sku {self.sku}: set sku to at most"
                " Balanced_B20, MemoryOptimized_M20 or ComputeOptimized_X20), or OSSCluster"
                " (contract mode cluster), or EnterpriseCluster (standalone through a proxy;"
                " multi-key commands other than DEL, MSET, MGET, EXISTS, UNLINK, TOUCH must"
                " stay in one hash slot)",
            )
        if self.ready_timeout_seconds < 60:
            bad("readyTimeoutSeconds", self.ready_timeout_seconds, "60 seconds or more")
        if not 0 <= self.ready_poll_seconds <= 300:
            bad("readyPollSeconds", self.ready_poll_seconds, "0 to 300 seconds")
