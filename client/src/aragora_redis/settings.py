"""The ARAGORA_REDIS_* contract: the one place these variables are read and written.

:meth:`RedisSettings.from_env` parses them with Aragora's precedence and
:meth:`RedisSettings.to_env` renders the superset every Aragora reader needs.
The Pulumi outputs and the local stack's ``.env`` are rendered by ``to_env``,
so the names cannot drift.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from . import _parse as p
from .errors import ConfigError

Mode = Literal["standalone", "sentinel", "cluster"]
CertReqs = Literal["required", "optional", "none"]
#: How clients log in: a static password, or a Google Cloud IAM access token
#: (Memorystore for Redis Cluster / for Valkey with IAM auth), fetched by the client.
Auth = Literal["password", "gcp-iam"]
AUTHS: tuple[Auth, ...] = ("password", "gcp-iam")
MODES: tuple[Mode, ...] = ("standalone", "sentinel", "cluster")
CERT_REQS: tuple[CertReqs, ...] = ("required", "optional", "none")
PREFIX = "ARAGORA_REDIS_"
SECRET_VARIABLES = frozenset({"ARAGORA_REDIS_PASSWORD", "ARAGORA_REDIS_SENTINEL_PASSWORD"})
URL_VARIABLES = ("ARAGORA_REDIS_URL", "REDIS_URL")
#: The sentinels of a TLS Sentinel stack: read by aragora_redis only (docs/aragora.md).
TLS_SENTINEL_HOSTS = "ARAGORA_REDIS_TLS_SENTINEL_HOSTS"
MAX_TTL = p.MAX_TTL


class RedisSettings(BaseModel):
    """Where Redis is and how to talk to it; immutable and validated.

    ``host``/``port``/``db``, the credentials and ``ssl`` describe the URL target:
    the node itself in standalone mode, a stable master address (or the
    first-known master) in sentinel mode, a seed node in cluster mode.
    Passwords are :class:`pydantic.SecretStr`, so ``repr`` and ``str`` mask them.
    ``auth`` is how data-node connections log in: ``password`` (the default), or
    ``gcp-iam`` (no password; an IAM access token per connection, :mod:`aragora_redis.iam`).
    ``sharded`` says a standalone endpoint shards keys behind one address (a proxy
    such as Azure Managed Redis's EnterpriseCluster policy, which reports no cluster
    mode): then no multi-key script call spans hash slots.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode = "standalone"
    host: str = "localhost"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: SecretStr | None = None
    auth: Auth = "password"
    ssl: bool = False
    ssl_cert_reqs: CertReqs = "required"
    ssl_ca_certs: str | None = None
    sentinel_hosts: tuple[p.HostPort, ...] = ()
    sentinel_master: str = "mymaster"
    sentinel_password: SecretStr | None = None
    cluster_nodes: tuple[p.HostPort, ...] = ()
    cluster_read_from_replicas: bool = True
    cluster_skip_full_coverage: bool = False
    socket_timeout: float = 5.0
    socket_connect_timeout: float = 5.0
    max_connections: int = 50
    health_check_interval: int = 30
    failure_threshold: int = 3
    rate_limit_fail_open: bool = False
    sharded: bool = False
    session_ttls: tuple[tuple[str, int], ...] = ()

    @field_validator("host")
    @classmethod
    def _lower_host(cls, host: str) -> str:
        # URLs carry hosts case-insensitively; one spelling keeps from_env(to_env(s)) == s.
        return host.lower()

    @model_validator(mode="after")
    def _check(self) -> Self:
        # Raised as ConfigError by the constructor wrapper below: pydantic would
        # otherwise wrap it in a ValidationError that loses the variable name.
        for problem in _problems(self):
            raise _Invalid(problem)
        return self

    def __init__(self, **data: object) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            cause = exc.errors()[0].get("ctx", {}).get("error")
            if isinstance(cause, _Invalid):
                raise cause.error from None
            loc = ".".join(str(x) for x in exc.errors()[0]["loc"])
            msg = exc.errors()[0]["msg"]
            raise ConfigError(_variable_for(loc), msg) from None

    @field_validator("session_ttls")
    @classmethod
    def _sort_ttls(cls, ttls: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(ttls))

    def replace(self, **changes: object) -> RedisSettings:
        """A validated copy with ``changes`` applied (unlike ``model_copy``, which skips checks)."""
        fields: dict[str, object] = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**fields, **changes})

    @property
    def session_ttl_overrides(self) -> dict[str, int]:
        """ARAGORA_SESSION_<KIND>_TTL overrides, by session kind."""
        return dict(self.session_ttls)

    @property
    def url(self) -> str:
        """The full URL, credentials inside, ``rediss://`` when TLS is on."""
        return p.render_url(self._url_parts())

    @property
    def redacted_url(self) -> str:
        """The URL with the password masked, for messages and logs."""
        return p.redact_url(self.url)

    def _url_parts(self) -> p.UrlParts:
        password = None if self.password is None else self.password.get_secret_value()
        return p.UrlParts(
            self.ssl, self.host, self.port, self.db, self.username, password, self.ssl_ca_certs
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedisSettings:
        """Parse ARAGORA_REDIS_* (and REDIS_URL) from ``env``, default ``os.environ``.

        Empty values count as unset. A malformed value raises :class:`ConfigError`
        naming the variable; it is never replaced by a default.
        """
        from ._fromenv import parse_env

        return cls(**parse_env(os.environ if env is None else env))

    def to_env(self, *, mask_secrets: bool = False) -> dict[str, str]:
        """Render the superset of variables Aragora's readers need.

        With ``mask_secrets`` every credential is replaced by ``***`` (for printing).
        """
        s = self
        url = s.redacted_url if mask_secrets else s.url
        # Aragora's own Sentinel client never speaks TLS to the sentinels: on a TLS
        # Sentinel stack it is told "standalone" (the URL, HAProxy in front of the
        # master), and the sentinels go under a name only aragora_redis reads.
        sentinels = p.render_host_list(s.sentinel_hosts) or None
        tls_sentinels = s.mode == "sentinel" and s.ssl
        env: dict[str, str] = {
            "ARAGORA_REDIS_MODE": "standalone" if tls_sentinels else s.mode,
            # Aragora's server/redis_cluster.py probes CLUSTER INFO without it and fails.
            "ARAGORA_REDIS_CLUSTER_MODE": "cluster" if s.mode == "cluster" else "standalone",
            "ARAGORA_REDIS_URL": url,
            "REDIS_URL": url,
            "ARAGORA_REDIS_HOST": s.host,
            "ARAGORA_REDIS_PORT": str(s.port),
            "ARAGORA_REDIS_DB": str(s.db),
            "ARAGORA_REDIS_SSL": p.render_bool(s.ssl),
            "ARAGORA_REDIS_SSL_CERT_REQS": s.ssl_cert_reqs,
            "ARAGORA_REDIS_SENTINEL_MASTER": s.sentinel_master,
            "ARAGORA_REDIS_CLUSTER_READ_FROM_REPLICAS": p.render_bool(s.cluster_read_from_replicas),
            "ARAGORA_REDIS_CLUSTER_SKIP_FULL_COVERAGE": p.render_bool(s.cluster_skip_full_coverage),
            "ARAGORA_REDIS_SOCKET_TIMEOUT": repr(s.socket_timeout),
            "ARAGORA_REDIS_SOCKET_CONNECT_TIMEOUT": repr(s.socket_connect_timeout),
            "ARAGORA_REDIS_MAX_CONNECTIONS": str(s.max_connections),
            "ARAGORA_REDIS_HEALTH_CHECK_INTERVAL": str(s.health_check_interval),
            "ARAGORA_REDIS_FAILURE_THRESHOLD": str(s.failure_threshold),
            "ARAGORA_RATE_LIMIT_FAIL_OPEN": p.render_bool(s.rate_limit_fail_open),
            "ARAGORA_RATE_LIMIT_BACKEND": "redis",
            "ARAGORA_STATE_BACKEND": "redis",
        }
        optional = {
            "ARAGORA_REDIS_USERNAME": s.username,
            "ARAGORA_REDIS_PASSWORD": _secret(s.password, mask_secrets),
            "ARAGORA_REDIS_SENTINEL_PASSWORD": _secret(s.sentinel_password, mask_secrets),
            "ARAGORA_REDIS_SENTINEL_HOSTS": None if tls_sentinels else sentinels,
            TLS_SENTINEL_HOSTS: sentinels if tls_sentinels else None,
            "ARAGORA_REDIS_CLUSTER_NODES": p.render_host_list(s.cluster_nodes) or None,
            "ARAGORA_REDIS_SSL_CA_CERTS": s.ssl_ca_certs,
            # Rendered only when it is not the default, so password stacks keep their outputs.
            "ARAGORA_REDIS_AUTH": None if s.auth == "password" else s.auth,
            "ARAGORA_REDIS_SHARDED": p.render_bool(True) if s.sharded else None,
        }
        env.update({k: v for k, v in optional.items() if v is not None})
        env.update({session_ttl_variable(kind): str(ttl) for kind, ttl in s.session_ttls})
        return dict(sorted(env.items()))

    def describe(self) -> str:
        """One line for logs: mode and where, never a password."""
        if self.mode == "sentinel":
            where = f"master {self.sentinel_master!r} via {p.render_host_list(self.sentinel_hosts)}"
        elif self.mode == "cluster":
            where = p.render_host_list(self.cluster_nodes)
        else:
            where = self.redacted_url
        return f"{self.mode} {where}{' (tls)' if self.ssl else ''}"


class _Invalid(ValueError):
    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def session_ttl_variable(kind: str) -> str:
    """``ARAGORA_SESSION_<KIND>_TTL``."""
    return f"ARAGORA_SESSION_{kind.upper()}_TTL"


def _secret(value: SecretStr | None, mask: bool) -> str | None:
    if value is None:
        return None
    return p.MASK if mask else value.get_secret_value()


_FIELD_VARIABLES = {
    "rate_limit_fail_open": "ARAGORA_RATE_LIMIT_FAIL_OPEN",
}


def _variable_for(field: str) -> str:
    name = field.split(".")[0]
    return _FIELD_VARIABLES.get(name, PREFIX + name.upper())


def _problems(s: RedisSettings) -> list[ConfigError]:
    """Cross-field rules, as ConfigErrors naming the variable to change."""
    out: list[ConfigError] = []

    def bad(field: str, message: str) -> None:
        out.append(ConfigError(_variable_for(field), message))

    if not s.host or any(c in s.host for c in "/@?# ,[]"):
        bad("host", f"got {s.host!r}, expected a host name or IP address")
    if not 1 <= s.port <= 65535:
        bad("port", f"got {s.port}, expected a whole number from 1 to 65535")
    if not 0 <= s.db <= 100000:
        bad("db", f"got {s.db}, expected a database number of 0 or more")
    if s.password is not None and not s.password.get_secret_value():
        bad("password", "is empty; leave it unset for no password")
    if s.auth == "gcp-iam" and s.password is not None:
        bad(
            "auth",
            "is gcp-iam but a password is set (ARAGORA_REDIS_PASSWORD or inside the URL):"
            " expected no password, the client sends an IAM access token instead",
        )
    if s.mode == "sentinel" and not s.sentinel_hosts:
        bad(
            "sentinel_hosts",
            "is empty but ARAGORA_REDIS_MODE is sentinel: expected host[:port],...",
        )
    if s.mode == "cluster" and not s.cluster_nodes:
        bad("cluster_nodes", "is empty but ARAGORA_REDIS_MODE is cluster: expected host[:port],...")
    if s.mode != "sentinel" and s.sentinel_hosts:
        bad("sentinel_hosts", f"is set but ARAGORA_REDIS_MODE is {s.mode}; unset one of them")
    if s.sharded and s.mode != "standalone":
        bad(
            "sharded",
            f"is true but ARAGORA_REDIS_MODE is {s.mode}: expected true only with standalone"
            " (a sharding proxy behind one endpoint; a cluster is sharded anyway, a Sentinel"
            " master never), or unset",
        )
    if s.mode != "cluster" and s.cluster_nodes:
        bad("cluster_nodes", f"is set but ARAGORA_REDIS_MODE is {s.mode}; unset one of them")
    if not s.sentinel_master.strip() or " " in s.sentinel_master:
        bad("sentinel_master", f"got {s.sentinel_master!r}, expected a master name without spaces")
    for name in ("socket_timeout", "socket_connect_timeout"):
        value = getattr(s, name)
        if not (value > 0 and value != float("inf")):
            bad(name, f"got {value!r}, expected a number of seconds above 0, e.g. 5.0")
    if not 1 <= s.max_connections <= 10000:
        bad("max_connections", f"got {s.max_connections}, expected 1 to 10000")
    if s.health_check_interval < 0:
        bad("health_check_interval", f"got {s.health_check_interval}, expected 0 or more seconds")
    if not 1 <= s.failure_threshold <= 1000:
        bad("failure_threshold", f"got {s.failure_threshold}, expected 1 to 1000")
    for kind, ttl in s.session_ttls:
        if not kind or not all(c.isascii() and (c.isalnum() or c == "_") for c in kind):
            bad("session_ttls", f"kind {kind!r}: expected letters, digits and _")
        elif kind != kind.lower():
            bad("session_ttls", f"kind {kind!r}: expected lower case")
        if not 1 <= ttl <= MAX_TTL:
            out.append(
                ConfigError(session_ttl_variable(kind), f"got {ttl}, expected 1 to {MAX_TTL}")
            )
    if s.ssl_ca_certs is not None and not Path(s.ssl_ca_certs).is_file():
        bad("ssl_ca_certs", f"file {s.ssl_ca_certs!r} does not exist; expected a PEM CA bundle")
    return out
