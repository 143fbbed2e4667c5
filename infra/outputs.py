"""Turn a :class:`~infra.endpoint.RedisEndpoint` into the ``ARAGORA_REDIS_*`` stack outputs.

Names and values come from :meth:`aragora_redis.RedisSettings.to_env`, the
client's one definition of the contract, so they cannot drift from what the
client reads. Every variable is an output of the same name, and the whole map is
``aragoraRedisEnv``; outputs that carry a credential are secret.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pulumi
from pydantic import SecretStr

from aragora_redis import HostPort, RedisSettings
from aragora_redis.settings import SECRET_VARIABLES, URL_VARIABLES

from .endpoint import RedisEndpoint
from .settings import ClientSettings

#: The map output: every variable at once, for ``pulumi stack output --json``.
ENV_MAP_OUTPUT = "aragoraRedisEnv"
#: The CA bundle, exported only by backends with a private CA.
CA_PEM_OUTPUT = "aragoraRedisCaPem"
#: Variables that carry a password (the URLs have it inside).
CREDENTIAL_VARIABLES = frozenset(SECRET_VARIABLES | set(URL_VARIABLES))
_PLACEHOLDER_HOST = "placeholder.invalid"


def settings_for(
    endpoint: RedisEndpoint, client: ClientSettings, values: dict[str, Any]
) -> RedisSettings:
    """The client settings for ``endpoint`` once its outputs are known (``values``)."""
    return RedisSettings(
        mode=endpoint.mode,
        host=values["host"],
        port=values["port"],
        username=endpoint.username,
        password=_secret(values["password"]),
        auth=endpoint.auth,
        sharded=endpoint.sharded,
        ssl=endpoint.tls,
        ssl_cert_reqs="required",
        cluster_nodes=_host_ports(values["cluster_nodes"]),
        sentinel_hosts=_host_ports(values["sentinel_hosts"]),
        sentinel_password=_secret(values["sentinel_password"]),
        **({"sentinel_master": endpoint.sentinel_master} if endpoint.sentinel_master else {}),
        **client.redis_settings_kwargs(),
    )


def contract_env(endpoint: RedisEndpoint, client: ClientSettings) -> pulumi.Output[dict[str, str]]:
    """Every contract variable for ``endpoint``; secret whenever the endpoint has a password."""
    values = pulumi.Output.all(
        host=endpoint.host,
        port=endpoint.port,
        password=endpoint.password,
        cluster_nodes=endpoint.cluster_nodes,
        sentinel_hosts=endpoint.sentinel_hosts,
        sentinel_password=endpoint.sentinel_password,
    )
    return values.apply(lambda v: settings_for(endpoint, client, v).to_env())


def variable_names(endpoint: RedisEndpoint, client: ClientSettings) -> tuple[str, ...]:
    """The variables ``endpoint`` renders, known before its outputs are.

    Which optional variables appear depends only on the endpoint's shape
    (mode, credentials present), so rendering placeholders of that shape gives
    the names that :func:`contract_env` will fill in.
    """
    node = (HostPort(_PLACEHOLDER_HOST, 6379),)
    values = {
        "host": _PLACEHOLDER_HOST,
        "port": 6379,
        "password": "placeholder" if endpoint.password is not None else None,
        "cluster_nodes": node if endpoint.cluster_nodes is not None else None,
        "sentinel_hosts": node if endpoint.sentinel_hosts is not None else None,
        "sentinel_password": "placeholder" if endpoint.sentinel_password is not None else None,
    }
    return tuple(settings_for(endpoint, client, values).to_env())


def export_contract(endpoint: RedisEndpoint, client: ClientSettings) -> None:
    """Export each variable under its own name, the map, and the CA when there is one."""
    env = contract_env(endpoint, client)
    for name in variable_names(endpoint, client):
        value = env.apply(_variable(name))
        if name in CREDENTIAL_VARIABLES:
            pulumi.export(name, pulumi.Output.secret(value))
        else:
            pulumi.export(name, pulumi.Output.unsecret(value))
    pulumi.export(ENV_MAP_OUTPUT, pulumi.Output.secret(env))
    if endpoint.ca_pem is not None:
        pulumi.export(CA_PEM_OUTPUT, endpoint.ca_pem)


def _variable(name: str) -> Callable[[dict[str, str]], str]:
    return lambda env: env[name]


def _secret(value: str | None) -> SecretStr | None:
    return None if value is None else SecretStr(value)


def _host_ports(value: Sequence[Sequence[Any]] | None) -> tuple[HostPort, ...]:
    # Outputs deliver tuples as lists, so HostPort is rebuilt here.
    return tuple(HostPort(str(h), int(p)) for h, p in value or ())
