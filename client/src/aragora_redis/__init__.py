"""aragora_redis: highly available Redis for Aragora.

Read the ARAGORA_REDIS_* settings with :meth:`RedisSettings.from_env`, then get a
redis-py client with :func:`connect_redis` / :func:`connect_redis_async`.
"""

from ._parse import HostPort, redact_url
from .connection import connect_redis, connect_redis_async
from .errors import (
    AragoraRedisError,
    ConfigError,
    LocalStackError,
    RateLimiterUnavailable,
    RedisUnavailable,
)
from .health import HealthReport, NodeHealth, health, health_async
from .settings import RedisSettings

__all__ = [
    "AragoraRedisError",
    "ConfigError",
    "HealthReport",
    "HostPort",
    "LocalStackError",
    "NodeHealth",
    "RateLimiterUnavailable",
    "RedisSettings",
    "RedisUnavailable",
    "connect_redis",
    "connect_redis_async",
    "health",
    "health_async",
    "redact_url",
]
