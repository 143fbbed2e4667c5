"""Short-timeout redis-py clients for watching the local stack come up and change."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..drill.bound import bound_class
from ..errors import LocalStackError
from ..settings import RedisSettings

Progress = Callable[[str], None]


def client(
    settings: RedisSettings,
    *,
    timeout: float = 1.0,
    name: str | None = None,
    source: str | None = None,
) -> redis.Redis:
    """A plain client to the one node ``settings`` points at: no retries, short timeouts.

    ``name``: the ``CLIENT SETNAME`` of its connections; ``source``: the local address
    they leave from (the endpoint's control plane has its own, for network faults).
    """
    password = settings.password.get_secret_value() if settings.password else None
    made = redis.Redis(
        host=settings.host,
        port=settings.port,
        username=settings.username,
        password=password,
        ssl=settings.ssl,
        ssl_ca_certs=settings.ssl_ca_certs,
        ssl_cert_reqs=settings.ssl_cert_reqs,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        client_name=name,
    )
    if source is not None:
        pool = made.connection_pool
        pool.connection_class = bound_class(pool.connection_class, source)
    return made


def ask(settings: RedisSettings, *args: str, timeout: float = 1.0) -> object:
    """Run one command on one node; a fresh connection each time, closed after."""
    conn = client(settings, timeout=timeout)
    try:
        return conn.execute_command(*args)
    finally:
        conn.close()


def info(settings: RedisSettings, section: str, *, timeout: float = 1.0) -> dict[str, str]:
    """``INFO <section>`` as a flat dict of strings (missing values: empty dict on error)."""
    try:
        raw = ask(settings, "INFO", section, timeout=timeout)
    except redis.RedisError:
        return {}
    if isinstance(raw, dict):
        return {k: str(v) for k, v in raw.items()}
    return {}


def pings(settings: RedisSettings, *, timeout: float = 1.0) -> bool:
    """Whether the node answers PING with these credentials."""
    try:
        return bool(ask(settings, "PING", timeout=timeout))
    except redis.RedisError:
        return False


def wait_until(
    check: Callable[[], bool | str], what: str, *, timeout: float, interval: float = 0.1
) -> None:
    """Poll ``check`` until it returns True; anything else is the reason to keep waiting.

    On timeout the last reason is in the :class:`LocalStackError`.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is True:
            return
        if time.monotonic() >= deadline:
            reason = f": {result}" if isinstance(result, str) and result else ""
            raise LocalStackError(f"timed out after {timeout:g}s waiting for {what}{reason}")
        time.sleep(interval)
