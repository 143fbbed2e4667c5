"""The GCP backend's ``deploy``: the instance, or with ``cluster`` the cluster option."""

from __future__ import annotations

from ...endpoint import RedisEndpoint
from ...settings import StackConfig
from ..common import warn_unnotified
from .cluster import GcpClusterRedis
from .common import GcpRedisArgs, labels_of
from .instance import GcpRedis
from .settings import GcpSettings


def deploy(config: StackConfig, settings: GcpSettings) -> RedisEndpoint:
    """Declare the stack's :class:`GcpRedis`, or its :class:`GcpClusterRedis` with ``cluster``."""
    warn_unnotified(config, "gcp", "notificationChannels", settings.notification_channels, "alerts")
    args = GcpRedisArgs(settings, config.stack.protect, config.client, labels_of(config.tags))
    if settings.cluster is not None:
        return GcpClusterRedis(config.stack.name, args).endpoint
    return GcpRedis(config.stack.name, args).endpoint
