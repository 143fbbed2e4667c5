"""aragora_redis: highly available Redis for Aragora.

``stores = aragora_redis.connect()`` reads the ARAGORA_REDIS_* settings and gives the
rate limiter, session store, event bus and debate state (``connect_async`` for
asyncio). :func:`connect_redis` / :func:`connect_redis_async` give a plain redis-py
client for the same settings (:func:`close_redis` / :func:`close_redis_async` close it
for good).
"""

from . import keys
from ._codec import Event
from ._metrics import use_meter_provider
from ._parse import HostPort, redact_url
from ._version import __version__
from .connection import close_redis, close_redis_async, connect_redis, connect_redis_async
from .errors import (
    AragoraRedisError,
    ConfigError,
    InvalidValue,
    LocalStackError,
    NotReplicated,
    RateLimiterUnavailable,
    RedisUnavailable,
    UpdateConflict,
)
from .health import HealthReport, NodeHealth, health, health_async
from .ratelimit import Check, Decision
from .settings import RedisSettings
from .stores import AsyncStores, Stores, connect, connect_async

__all__ = [
    "__version__",
    "AragoraRedisError",
    "AsyncStores",
    "Check",
    "ConfigError",
    "Decision",
    "Event",
    "HealthReport",
    "HostPort",
    "InvalidValue",
    "LocalStackError",
    "NodeHealth",
    "NotReplicated",
    "RateLimiterUnavailable",
    "RedisSettings",
    "RedisUnavailable",
    "Stores",
    "UpdateConflict",
    "close_redis",
    "close_redis_async",
    "connect",
    "connect_async",
    "connect_redis",
    "connect_redis_async",
    "health",
    "health_async",
    "keys",
    "redact_url",
    "use_meter_provider",
]
