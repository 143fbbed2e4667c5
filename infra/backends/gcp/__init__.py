"""``gcp``: Memorystore, :class:`GcpRedis` or, with ``cluster``, :class:`GcpClusterRedis`.

``instance`` and ``cluster`` declare them and share ``common`` (args, labels,
the maintenance window, the published secret); ``entry`` has ``deploy``, which
picks one; ``settings`` and ``cluster_settings`` validate ``aragora-redis:gcp``;
``kms``, ``network`` and ``monitoring`` hold the key grant, private access and
alert policies.
"""

from .cluster import GcpClusterRedis
from .entry import deploy
from .instance import GcpRedis
from .settings import GcpSettings

__all__ = ["GcpClusterRedis", "GcpRedis", "GcpSettings", "deploy"]
