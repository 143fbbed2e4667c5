"""aragora_redis: highly available Redis for Aragora.

Read the ARAGORA_REDIS_* settings with :meth:`RedisSettings.from_env`, then get a
redis-py client with :func:`connect_redis` / :func:`connect_redis_async`.
"""

from ._parse import HostPort, redact_url
from .errors import (
    AragoraRedisError,
    ConfigError,
    LocalStackError,
    RateLimiterUnavailable,
    RedisUnavailable,
)
from .settings import RedisSettings

__all__ = [
    "AragoraRedisError",
    "ConfigError",
    "HostPort",
    "LocalStackError",
    "RateLimiterUnavailable",
    "RedisSettings",
    "RedisUnavailable",
    "redact_url",
]
