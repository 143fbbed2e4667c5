"""I/O-free: how RedisSettings become redis-py keyword arguments (which errors mean
"the master moved" is :mod:`aragora_redis._moved`).

The sync and asyncio connection code both build their clients from these
functions, so timeouts, TLS and credentials are decided once.
"""

from __future__ import annotations

from typing import Any

from redis.backoff import NoBackoff

from .settings import RedisSettings

# Data-node commands retry within a time budget (:mod:`aragora_redis._retry`; the
# cluster client through :mod:`aragora_redis.cluster_conn`).


def no_backoff() -> NoBackoff:
    """For retry policies that do not retry, or that pause by themselves."""
    return NoBackoff()


def tls_kwargs(s: RedisSettings) -> dict[str, Any]:
    """TLS options for data nodes and sentinels; empty when TLS is off."""
    if not s.ssl:
        return {}
    return {
        "ssl_cert_reqs": s.ssl_cert_reqs,
        "ssl_ca_certs": s.ssl_ca_certs,
        "ssl_check_hostname": s.ssl_cert_reqs == "required",
    }


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def credential_kwargs(s: RedisSettings) -> dict[str, Any]:
    """How a data-node connection logs in: username and password, or with ``gcp-iam``
    the process-wide IAM token provider (redis-py refuses both at once)."""
    if s.auth == "gcp-iam":
        from .iam import provider_for

        return {"credential_provider": provider_for(s)}
    return {"username": s.username, "password": _secret(s.password)}


def node_kwargs(s: RedisSettings) -> dict[str, Any]:
    """Options of a connection to a data node (no ``ssl`` flag, no retry, no db)."""
    return {
        **credential_kwargs(s),
        "socket_timeout": s.socket_timeout,
        "socket_connect_timeout": s.socket_connect_timeout,
        "health_check_interval": s.health_check_interval,
        **tls_kwargs(s),
    }


def sentinel_kwargs(s: RedisSettings, retry: Any) -> dict[str, Any]:
    """Options of a connection to a sentinel: its own password, the same TLS.

    ``retry`` should be a no-retry policy (:func:`no_retry`): discovery asks each
    sentinel once and the data-node retry repeats the whole discovery.
    """
    kwargs: dict[str, Any] = {
        "retry": retry,
        "password": _secret(s.sentinel_password),
        "socket_timeout": s.socket_timeout,
        "socket_connect_timeout": s.socket_connect_timeout,
        **tls_kwargs(s),
    }
    if s.ssl:
        kwargs["ssl"] = True
    return kwargs


def sentinel_addresses(s: RedisSettings) -> list[tuple[str, int]]:
    """The sentinels as redis-py wants them."""
    return [(h.host, h.port) for h in s.sentinel_hosts]


def cluster_addresses(s: RedisSettings) -> list[tuple[str, int]]:
    """The cluster seed nodes as redis-py wants them."""
    return [(h.host, h.port) for h in s.cluster_nodes]


#: Subscriptions use short timeouts: a blocked read on a frozen master must fail fast
#: so the subscriber can move to the new one. XREAD blocks for 0.5 s, under this.
SUBSCRIBER_SOCKET_TIMEOUT_S = 1.5
SUBSCRIBER_CONNECT_TIMEOUT_S = 1.0


def subscriber_settings(s: RedisSettings) -> RedisSettings:
    """``s`` with the short timeouts of the subscription client."""
    return s.replace(
        socket_timeout=min(s.socket_timeout, SUBSCRIBER_SOCKET_TIMEOUT_S),
        socket_connect_timeout=min(s.socket_connect_timeout, SUBSCRIBER_CONNECT_TIMEOUT_S),
    )
