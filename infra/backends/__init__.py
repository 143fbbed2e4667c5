"""The backends: one module each, registered here with one line.

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
from . import aws, azure, azure_managed, gcp, sentinel_k8s
from .aws_settings import AwsSettings
from .azure_managed_settings import AzureManagedSettings
from .azure_settings import AzureSettings
from .gcp_settings import GcpSettings
from .sentinel_k8s_settings import SentinelK8sSettings

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
    "aws": Backend(AwsSettings, aws.deploy),
    "azure": Backend(AzureSettings, azure.deploy),
    "azure-managed": Backend(AzureManagedSettings, azure_managed.deploy),
    "gcp": Backend(GcpSettings, gcp.deploy),
    "sentinel-k8s": Backend(SentinelK8sSettings, sentinel_k8s.deploy),
}
