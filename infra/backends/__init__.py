"""The backends: one package each, registered here with one line.

A backend is a :class:`Backend`: the pydantic model of its config section
(``aragora-redis:<backend>``) and a ``deploy`` function that declares its
component and returns the shared :class:`~infra.endpoint.RedisEndpoint`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..endpoint import RedisEndpoint
from ..settings import ConfigModel, StackConfig
from . import aws, azure, gcp, sentinel_k8s

S = TypeVar("S", bound=ConfigModel)


@dataclass(frozen=True)
class Backend(Generic[S]):
    """A backend: its config section's model and how to deploy it."""

    settings_model: type[S]
    deploy_fn: Callable[[StackConfig, S], RedisEndpoint]

    def deploy(self, config: StackConfig) -> RedisEndpoint:
        """Declare the backend's resources for ``config``; its section must be this model."""
        settings = config.backend_settings
        if not isinstance(settings, self.settings_model):
            raise TypeError(f"expected {self.settings_model.__name__}, got {type(settings)}")
        return self.deploy_fn(config, settings)


#: Every backend by its ``aragora-redis:backend`` name, one per
#: :data:`infra.settings.BackendName` (a test checks they match).
BACKENDS: Mapping[str, Backend[Any]] = {
    "aws": Backend(aws.AwsSettings, aws.deploy),
    "azure": Backend(azure.AzureSettings, azure.deploy),
    "azure-managed": Backend(azure.AzureManagedSettings, azure.deploy_managed),
    "gcp": Backend(gcp.GcpSettings, gcp.deploy),
    "sentinel-k8s": Backend(sentinel_k8s.SentinelK8sSettings, sentinel_k8s.deploy),
}
