"""``azure`` and ``azure-managed``: :class:`AzureCacheRedis` and :class:`AzureManagedRedis`.

``cache`` (Azure Cache for Redis) and ``managed`` (Azure Managed Redis) declare
them; ``common`` holds what both declare (private endpoint, alerts, lock, Key
Vault secret); ``settings`` and ``managed_settings`` validate their sections.
"""

from .cache import AzureCacheRedis, deploy
from .managed import AzureManagedRedis
from .managed import deploy as deploy_managed
from .managed_settings import AzureManagedSettings
from .settings import AzureSettings

__all__ = [
    "AzureCacheRedis",
    "AzureManagedRedis",
    "AzureManagedSettings",
    "AzureSettings",
    "deploy",
    "deploy_managed",
]
