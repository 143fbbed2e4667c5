"""The one place where redis-py errors become :mod:`aragora_redis.errors`.

Stores wrap each Redis call in :func:`redis_errors`; the redis-py exception is
kept as ``__cause__`` and the message says what was being done, never a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from .errors import RedisUnavailable


@contextmanager
def redis_errors(doing: str, error: type[RedisUnavailable] = RedisUnavailable) -> Iterator[None]:
    """Re-raise any redis-py error inside the block as ``error`` ("<doing>: <reason>")."""
    try:
        yield
    except RedisError as exc:
        raise error(f"{doing}: {type(exc).__name__}: {exc}") from exc
