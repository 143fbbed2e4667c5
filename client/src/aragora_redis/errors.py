"""Every error the package raises, in one place.

Hierarchy::

    AragoraRedisError                 base of everything raised here
    ├── ConfigError (ValueError)      bad ARAGORA_REDIS_* input; names the variable
    ├── InvalidValue (ValueError)     a value the stores refuse: not JSON, or over the size limit
    ├── RedisUnavailable              Redis could not be reached or answered with an error;
    │                                 the redis-py error is kept as ``__cause__``
    │   ├── RateLimiterUnavailable    fail-closed rate limiter without Redis
    │   └── NotReplicated             durable write on the master, but no replica acknowledged
    │                                 it in time (it may be lost in a failover)
    ├── UpdateConflict                an atomic update kept losing races until its deadline
    └── LocalStackError               the local loopback stack could not start or stop

Messages never contain a password: values shown back to the user go through
:func:`aragora_redis.settings.redact_url` or are masked outright.
"""

from __future__ import annotations


class AragoraRedisError(Exception):
    """Base class of every error raised by :mod:`aragora_redis`."""


class ConfigError(AragoraRedisError, ValueError):
    """A setting is missing, malformed or contradicts another one.

    ``variable`` is the name of the environment variable (or setting) at fault.
    """

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


class InvalidValue(AragoraRedisError, ValueError):
    """A value the stores refuse to write: not JSON-serialisable, or over the size limit."""


class RedisUnavailable(AragoraRedisError):
    """Redis could not serve a request; the underlying redis-py error is ``__cause__``."""


class RateLimiterUnavailable(RedisUnavailable):
    """The rate limiter is fail-closed and Redis cannot decide."""


class NotReplicated(RedisUnavailable):
    """A durable write reached the master but no replica acknowledged it within the timeout.

    The value is stored; it is only at risk if the master fails before it replicates.
    """


class UpdateConflict(AragoraRedisError):
    """An atomic read-modify-write lost every compare-and-set race until its deadline."""


class LocalStackError(AragoraRedisError):
    """The local loopback stack could not be started, inspected or stopped."""
