"""``aws``: ElastiCache (Redis OSS or Valkey), the :class:`ElastiCacheRedis` component.

``component`` declares it, ``settings``/``values`` validate ``aragora-redis:aws``,
``auth`` makes its credentials, ``topology`` places its nodes, ``monitoring`` its
logs and alarms.
"""

from .component import ElastiCacheRedis, deploy
from .settings import AwsSettings

__all__ = ["AwsSettings", "ElastiCacheRedis", "deploy"]
