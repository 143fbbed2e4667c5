"""Wait until a new Azure Managed Redis cluster is ``Running`` before its database is created.

azure-native finishes creating a ``RedisEnterprise`` when ARM's long-running
operation reports ``provisioningState: Succeeded``, but the cluster's own
``resourceState`` may still be ``Creating``; creating the database then fails
and only a second ``pulumi up`` succeeds. azurerm polls ``resourceState`` until
``Running`` before it creates the database (``NewClusterStatePoller``); this is
the same wait, expressed as the cluster name the database takes: the name is
only known once the cluster runs, so the database waits for it. In a preview of
a new cluster the state is unknown and nothing is polled.
"""

from __future__ import annotations

import asyncio
import time

import pulumi
from pulumi_azure_native import redisenterprise

#: States from which a cluster reaches ``Running`` by itself (as azurerm's poller treats them).
PENDING_STATES = frozenset({"Creating", "Updating", "Enabling", "Disabling"})
RUNNING = "Running"


class ClusterNotRunningError(pulumi.RunError):
    """The cluster did not reach ``Running`` in time, or reached a state it will not leave."""


async def wait_running(
    cluster: str,
    resource_group: str,
    state: str | None,
    *,
    timeout_seconds: float,
    poll_seconds: float,
    parent: pulumi.Resource,
) -> str:
    """``cluster`` once its ``resourceState`` is ``Running``, asking every ``poll_seconds``."""
    deadline = time.monotonic() + timeout_seconds
    while state != RUNNING:
        if state is not None and state not in PENDING_STATES:
            raise ClusterNotRunningError(f"Azure Managed Redis {cluster}: resourceState {state}")
        if time.monotonic() >= deadline:
            raise ClusterNotRunningError(
                f"Azure Managed Redis {cluster}: still {state} after {timeout_seconds:.0f} s"
                " (aragora-redis:azure-managed.readyTimeoutSeconds); run `pulumi up` again"
                " once `az redisenterprise show` reports resourceState Running"
            )
        await asyncio.sleep(poll_seconds)
        current = redisenterprise.get_redis_enterprise_output(
            cluster_name=cluster,
            resource_group_name=resource_group,
            opts=pulumi.InvokeOutputOptions(parent=parent),
        )
        state = await current.resource_state.future()
    return cluster


def running_name(
    cluster: redisenterprise.RedisEnterprise,
    resource_group: str,
    *,
    timeout_seconds: float,
    poll_seconds: float = 15.0,
) -> pulumi.Output[str]:
    """The cluster's name, resolved only once the cluster is ``Running``."""
    return pulumi.Output.all(cluster.name, cluster.resource_state).apply(
        lambda v: wait_running(
            v[0],
            resource_group,
            v[1],
            timeout_seconds=timeout_seconds,
            poll_seconds=poll_seconds,
            parent=cluster,
        )
    )
