"""Mocks for the Azure backends: the list-keys invokes and what Azure computes.

Not a test module of its own (no tests); the Azure tests pass :class:`AzureMocks`
to :func:`tests.infra.harness.run_program`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from .harness import Mocks, Run, Secret, run_program

#: What the mocked list-keys invokes return: base64 alphabet, as Azure's keys are.
FAKE_PRIMARY_KEY = "pRiMaRy+KeY/0123456789abcdefghijklmnopqrsTU="
FAKE_SECONDARY_KEY = "sEcOnDaRy+KeY/0123456789abcdefghijklmnopqrs="
LIST_REDIS_KEYS = "azure-native:redis:listRedisKeys"
LIST_DATABASE_KEYS = "azure-native:redisenterprise:listDatabaseKeys"
GET_REDIS_ENTERPRISE = "azure-native:redisenterprise:getRedisEnterprise"
SUBSCRIPTION = "3f2b8c1d-6a4e-4f70-9b2c-1d8e7f6a5b40"
#: The principal of every system-assigned identity the mocks create.
PRINCIPAL_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


class AzureMocks(Mocks):
    """Answers the list-keys invokes and fakes host names, ports and resource ids.

    ``cluster_states`` are the ``resourceState`` s an Azure Managed Redis cluster
    reports: the first when it is created (as Azure may answer before the cluster
    runs), the next ones to each ``getRedisEnterprise``, then ``Running``.
    """

    def __init__(self, cluster_states: tuple[str, ...] = ()) -> None:
        super().__init__({})
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        self.cluster_states = list(cluster_states)
        #: The types of the resources created, in the order the program's dependencies allow.
        self.created: list[str] = []

    def _next_cluster_state(self) -> str:
        return self.cluster_states.pop(0) if self.cluster_states else "Running"

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = args.inputs
        self.created.append(args.typ)
        rg = inputs.get("resourceGroupName", "rg")
        name = (
            inputs.get("name")
            or inputs.get("resourceName")
            or inputs.get("clusterName")
            or inputs.get("privateZoneName")
            or inputs.get("privateEndpointName")
            or f"{args.name}-a1b2c3d"
        )
        state: dict[str, Any] = {**inputs, "name": name}
        provider = args.typ.split(":")[1] if args.typ.count(":") >= 2 else ""
        resource_id = (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/{provider}/{name}"
        )
        if isinstance(inputs.get("identity"), dict):
            identity = {**inputs["identity"], "principalId": PRINCIPAL_ID}
            # Azure answers with a map keyed by identity id where the request had a list.
            ids = identity.pop("userAssignedIdentities", None) or []
            if ids:
                identity["userAssignedIdentities"] = {i: {"principalId": PRINCIPAL_ID} for i in ids}
            state["identity"] = identity
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            state["principalId"] = PRINCIPAL_ID
        if args.typ == "azure-native:redis:Redis":
            state |= {"hostName": f"{name}.redis.cache.windows.net", "sslPort": 6380, "port": 6379}
        elif args.typ == "azure-native:redisenterprise:RedisEnterprise":
            location = inputs.get("location", "eastus2")
            state["hostName"] = f"{name}.{location}.redis.azure.net"
            state["resourceState"] = self._next_cluster_state()
        elif args.typ == "azure-native:redisenterprise:Database":
            state["name"] = inputs.get("databaseName", "default")
        return resource_id, state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.invokes.append((args.token, dict(args.args)))
        if args.token in (LIST_REDIS_KEYS, LIST_DATABASE_KEYS):
            return {"primaryKey": FAKE_PRIMARY_KEY, "secondaryKey": FAKE_SECONDARY_KEY}, []
        if args.token == GET_REDIS_ENTERPRISE:
            return {"resourceState": self._next_cluster_state()}, []
        raise NotImplementedError(f"no mock for invoke {args.token}")


def run_azure(config: Mapping[str, Any], stack: str, mocks: AzureMocks | None = None) -> Run:
    """Run the program for an Azure stack under :class:`AzureMocks` (``mocks`` to inspect them)."""
    return run_program(config, stack, mocks=AzureMocks() if mocks is None else mocks)


def key_in_clear(value: Any) -> bool:
    """Whether the mocked access key appears in ``value`` outside a :class:`Secret`."""
    if isinstance(value, Secret):
        return False
    if isinstance(value, dict):
        return any(key_in_clear(v) for v in value.values())
    if isinstance(value, list):
        return any(key_in_clear(v) for v in value)
    return isinstance(value, str) and (FAKE_PRIMARY_KEY in value or "pRiMaRy%2BKeY" in value)
