"""Read ARAGORA_REDIS_* from a mapping into RedisSettings fields, with Aragora's precedence.

- ``ARAGORA_REDIS_URL`` wins over ``REDIS_URL``; a URL wins over HOST/PORT/DB/SSL.
- An explicit ``ARAGORA_REDIS_MODE`` is never overridden. Without one, a non-empty
  SENTINEL_HOSTS means sentinel, else a non-empty CLUSTER_NODES means cluster.
- ``ARAGORA_REDIS_TLS_SENTINEL_HOSTS`` (ours only) means sentinel mode with TLS,
  next to ``ARAGORA_REDIS_MODE=standalone`` for Aragora's own readers (docs/aragora.md).
- ``ARAGORA_REDIS_CLUSTER_MODE`` (Aragora's server/redis_cluster.py) must agree with the mode.
- Empty values count as unset; malformed values raise :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from . import _parse as p
from .errors import ConfigError

Getter = Callable[[str], str | None]
_MODES = ("standalone", "sentinel", "cluster")
_CERT_REQS = ("required", "optional", "none")
_AUTHS = ("password", "gcp-iam")
TLS_SENTINELS = "ARAGORA_REDIS_TLS_SENTINEL_HOSTS"
CLUSTER_MODE = "ARAGORA_REDIS_CLUSTER_MODE"


def parse_env(env: Mapping[str, str]) -> dict[str, object]:
    """The keyword arguments of RedisSettings described by ``env``."""

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value is not None and value.strip() != "" else None

    fields: dict[str, object] = {}
    mode = _mode(get)
    fields["mode"] = mode

    url_var = next((v for v in ("ARAGORA_REDIS_URL", "REDIS_URL") if get(v)), None)
    password = get("ARAGORA_REDIS_PASSWORD")
    username = get("ARAGORA_REDIS_USERNAME")
    ssl_raw = get("ARAGORA_REDIS_SSL")
    ssl = p.parse_bool("ARAGORA_REDIS_SSL", ssl_raw) if ssl_raw else None
    if url_var:
        url = p.parse_url(url_var, env[url_var])
        if ssl is not None and ssl != url.ssl:
            raise ConfigError(
                "ARAGORA_REDIS_SSL",
                f"is {p.render_bool(ssl)} but {url_var} uses "
                f"{'rediss' if url.ssl else 'redis'}://; make them agree",
            )
        _same(url_var, "ARAGORA_REDIS_USERNAME", url.username, username)
        _same(url_var, "ARAGORA_REDIS_PASSWORD", url.password, password, secret=True)
        _same_ca(url_var, url.ssl_ca_certs, get("ARAGORA_REDIS_SSL_CA_CERTS"))
        fields.update(
            host=url.host,
            port=url.port,
            db=url.db,
            ssl=url.ssl,
            username=url.username or username,
            password=url.password if url.password is not None else password,
        )
    else:
        if host := get("ARAGORA_REDIS_HOST"):
            fields["host"] = host.strip()
        if port := get("ARAGORA_REDIS_PORT"):
            fields["port"] = p.parse_port("ARAGORA_REDIS_PORT", port)
        if db := get("ARAGORA_REDIS_DB"):
            fields["db"] = p.parse_int("ARAGORA_REDIS_DB", db, low=0, high=100000)
        fields.update(ssl=bool(ssl), username=username, password=password)

    if reqs := get("ARAGORA_REDIS_SSL_CERT_REQS"):
        word = reqs.strip().lower()
        if word not in _CERT_REQS:
            raise ConfigError(
                "ARAGORA_REDIS_SSL_CERT_REQS",
                f"got {reqs!r}, expected one of {', '.join(_CERT_REQS)}",
            )
        fields["ssl_cert_reqs"] = word
    if auth := get("ARAGORA_REDIS_AUTH"):
        word = auth.strip().lower()
        if word not in _AUTHS:
            raise ConfigError(
                "ARAGORA_REDIS_AUTH", f"got {auth!r}, expected one of {', '.join(_AUTHS)}"
            )
        fields["auth"] = word
    url_ca = p.parse_url(url_var, env[url_var]).ssl_ca_certs if url_var else None
    if ca := get("ARAGORA_REDIS_SSL_CA_CERTS") or url_ca:
        if not Path(ca).is_file():
            where = "ARAGORA_REDIS_SSL_CA_CERTS" if get("ARAGORA_REDIS_SSL_CA_CERTS") else url_var
            raise ConfigError(
                where or "ARAGORA_REDIS_SSL_CA_CERTS",
                f"file {ca!r} does not exist; expected a PEM CA bundle",
            )
        fields["ssl_ca_certs"] = ca

    if mode == "sentinel":
        tls_hosts = _has_items(get(TLS_SENTINELS))
        var = TLS_SENTINELS if tls_hosts else "ARAGORA_REDIS_SENTINEL_HOSTS"
        fields["sentinel_hosts"] = _hosts(get, var, 26379, mode)
        if tls_hosts and not fields.get("ssl"):
            raise ConfigError(
                TLS_SENTINELS,
                "is set but TLS is off (ARAGORA_REDIS_SSL, or redis:// in the URL): expected "
                "TLS, or the sentinels in ARAGORA_REDIS_SENTINEL_HOSTS",
            )
    _check_cluster_mode(get, mode)
    if mode == "cluster":
        fields["cluster_nodes"] = _hosts(get, "ARAGORA_REDIS_CLUSTER_NODES", 6379, mode)
    if master := get("ARAGORA_REDIS_SENTINEL_MASTER"):
        fields["sentinel_master"] = master.strip()
    fields["sentinel_password"] = get("ARAGORA_REDIS_SENTINEL_PASSWORD")

    for var, field in (
        ("ARAGORA_REDIS_CLUSTER_READ_FROM_REPLICAS", "cluster_read_from_replicas"),
        ("ARAGORA_REDIS_CLUSTER_SKIP_FULL_COVERAGE", "cluster_skip_full_coverage"),
        ("ARAGORA_RATE_LIMIT_FAIL_OPEN", "rate_limit_fail_open"),
        ("ARAGORA_REDIS_SHARDED", "sharded"),
    ):
        if raw := get(var):
            fields[field] = p.parse_bool(var, raw)
    for var, field in (
        ("ARAGORA_REDIS_SOCKET_TIMEOUT", "socket_timeout"),
        ("ARAGORA_REDIS_SOCKET_CONNECT_TIMEOUT", "socket_connect_timeout"),
    ):
        if raw := get(var):
            fields[field] = p.parse_seconds(var, raw)
    for var, field, low, high in (
        ("ARAGORA_REDIS_MAX_CONNECTIONS", "max_connections", 1, 10000),
        ("ARAGORA_REDIS_HEALTH_CHECK_INTERVAL", "health_check_interval", 0, 86400),
        ("ARAGORA_REDIS_FAILURE_THRESHOLD", "failure_threshold", 1, 1000),
    ):
        if raw := get(var):
            fields[field] = p.parse_int(var, raw, low=low, high=high)
    ttls = []
    for var in sorted(env):
        kind = var.removeprefix("ARAGORA_SESSION_").removesuffix("_TTL")
        if var.startswith("ARAGORA_SESSION_") and var.endswith("_TTL") and kind and get(var):
            ttls.append((kind.lower(), p.parse_int(var, env[var], low=1, high=p.MAX_TTL)))
    fields["session_ttls"] = tuple(ttls)
    return fields


def _mode(get: Getter) -> str:
    sentinels = _has_items(get("ARAGORA_REDIS_SENTINEL_HOSTS"))
    nodes = _has_items(get("ARAGORA_REDIS_CLUSTER_NODES"))
    raw = get("ARAGORA_REDIS_MODE")
    if _has_items(get(TLS_SENTINELS)):
        return _tls_sentinel_mode(raw, sentinels)
    if raw is None:
        return "sentinel" if sentinels else "cluster" if nodes else "standalone"
    word = raw.strip().lower()
    if word not in _MODES:
        raise ConfigError("ARAGORA_REDIS_MODE", f"got {raw!r}, expected one of {', '.join(_MODES)}")
    if word == "standalone" and (sentinels or nodes):
        # Aragora reads standalone + hosts as sentinel/cluster; we never override an
        # explicit mode, so the two readers would disagree: refuse.
        other = "SENTINEL_HOSTS" if sentinels else "CLUSTER_NODES"
        raise ConfigError(
            "ARAGORA_REDIS_MODE",
            f"is standalone but ARAGORA_REDIS_{other} is set (Aragora would not use "
            "standalone); unset one of them",
        )
    return word


def _tls_sentinel_mode(raw: str | None, sentinels: bool) -> str:
    """TLS_SENTINEL_HOSTS: sentinel for us, while Aragora reads standalone (or sentinel)."""
    if sentinels:
        raise ConfigError(
            TLS_SENTINELS,
            "is set together with ARAGORA_REDIS_SENTINEL_HOSTS; set one of them",
        )
    if raw is not None and raw.strip().lower() not in ("standalone", "sentinel"):
        raise ConfigError(
            "ARAGORA_REDIS_MODE",
            f"is {raw!r} but {TLS_SENTINELS} is set: expected standalone (what the "
            "stacks emit) or sentinel",
        )
    return "sentinel"


def _check_cluster_mode(get: Getter, mode: str) -> None:
    raw = get(CLUSTER_MODE)
    if raw is None:
        return
    word = raw.strip().lower()
    if word not in ("standalone", "cluster", "auto"):
        raise ConfigError(CLUSTER_MODE, f"got {raw!r}, expected standalone, cluster or auto")
    if word != "auto" and (word == "cluster") != (mode == "cluster"):
        raise ConfigError(
            CLUSTER_MODE,
            f"is {word} but ARAGORA_REDIS_MODE is {mode}: expected "
            f"{'cluster' if mode == 'cluster' else 'standalone'}; make them agree",
        )


def _has_items(raw: str | None) -> bool:
    return raw is not None and any(item.strip() for item in raw.split(","))


def _hosts(get: Getter, var: str, default_port: int, mode: str) -> tuple[p.HostPort, ...]:
    raw = get(var)
    hosts = p.parse_host_list(var, raw or "", default_port)
    if not hosts:
        raise ConfigError(
            var, f"is empty but ARAGORA_REDIS_MODE is {mode}: expected host[:port],..."
        )
    return hosts


def _same_ca(url_var: str, in_url: str | None, alone: str | None) -> None:
    if in_url is not None and alone is not None and in_url.strip() != alone.strip():
        raise ConfigError(
            "ARAGORA_REDIS_SSL_CA_CERTS",
            f"is {alone!r} but {url_var} has ssl_ca_certs={in_url!r}; make them agree",
        )


def _same(
    url_var: str, var: str, in_url: str | None, alone: str | None, *, secret: bool = False
) -> None:
    if in_url is not None and alone is not None and in_url != alone:
        shown = "" if secret else f" ({alone!r} vs {in_url!r})"
        raise ConfigError(var, f"differs from the one inside {url_var}{shown}; make them agree")
