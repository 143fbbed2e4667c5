"""Render ``redis.conf`` and ``sentinel.conf`` for the self-hosted topology (I/O-free).

The same functions serve the local loopback stack and the Kubernetes backend's
ConfigMaps, so every path, address and secret is an input: nothing here assumes
where a node runs. Values are quoted the way Redis' config parser reads them,
so a password may hold any character.

Each file is rendered in two parts (:func:`redis_conf_parts`,
:func:`sentinel_conf_parts`): every line that carries a password comes last, in
the ``secret`` part, so a deployment can keep the rest in a ConfigMap and the
credentials in a Secret; the whole file is ``public + secret``, exactly what
:func:`render_redis_conf` / :func:`render_sentinel_conf` return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._parse import HostPort
from .errors import ConfigError

TlsAuthClients = Literal["yes", "no", "optional"]
FULL_ACCESS = ("~*", "&*", "+@all")


@dataclass(frozen=True)
class TlsFiles:
    """PEM paths as the node sees them, and whether clients must present a certificate.

    ``auth_clients`` defaults to ``no``: the ARAGORA_REDIS_* contract carries a CA
    but no client certificate.
    """

    cert_file: str
    key_file: str
    ca_cert_file: str
    auth_clients: TlsAuthClients = "no"


@dataclass(frozen=True)
class AclUser:
    """An ACL user: ``user <name> on ><password> <rules...>``."""

    name: str
    password: str
    rules: tuple[str, ...] = FULL_ACCESS


@dataclass(frozen=True)
class ClusterOptions:
    """Cluster-mode settings of a data node; ``bus_port`` None means port + 10000."""

    config_file: str = "nodes.conf"
    node_timeout_ms: int = 5000
    bus_port: int | None = None
    announce_hostname: str | None = None


@dataclass(frozen=True)
class SentinelTimings:
    """How fast Sentinel declares a master down and fails over."""

    down_after_ms: int = 1000
    failover_timeout_ms: int = 10000
    parallel_syncs: int = 1


#: Fast detection for the local stack and the failover drill.
LOCAL_TIMINGS = SentinelTimings()
#: The values of the seed deployment guide.
GUIDE_TIMINGS = SentinelTimings(down_after_ms=5000, failover_timeout_ms=60000, parallel_syncs=1)


@dataclass(frozen=True)
class RedisNodeSpec:
    """One data node.

    ``password`` is the default user's ``requirepass``. Replicas authenticate to
    their master as ``replication_user`` (one of ``users``) when set, else as the
    default user. ``announce_host`` may be a host name (Sentinel resolves it).
    ``save`` None keeps Redis' snapshot schedule; ``""`` turns snapshots off.
    ``shutdown_on_sigterm`` (e.g. ``force``) None keeps Redis' default.
    ``maxmemory`` (e.g. ``768mb``) and ``maxmemory_policy`` None keep Redis' defaults.
    """

    port: int
    dir: str
    password: str
    bind: tuple[str, ...] = ("127.0.0.1",)
    bind_source_addr: str | None = None
    protected_mode: bool = True
    users: tuple[AclUser, ...] = ()
    replication_user: str | None = None
    replicaof: HostPort | None = None
    min_replicas_to_write: int = 1
    min_replicas_max_lag: int = 10
    announce_host: str | None = None
    announce_port: int | None = None
    tls: TlsFiles | None = None
    cluster: ClusterOptions | None = None
    appendonly: bool = True
    save: str | None = None
    repl_diskless_sync_delay: int | None = None
    shutdown_on_sigterm: str | None = None
    pidfile: str | None = None
    logfile: str | None = None
    maxmemory: str | None = None
    maxmemory_policy: str | None = None


@dataclass(frozen=True)
class SentinelSpec:
    """One Sentinel watching one master.

    ``auth_user``/``auth_pass`` are what Sentinel uses on the data nodes;
    ``password`` protects the Sentinel itself and is also what it sends to the
    other Sentinels (``sentinel sentinel-pass``), so all Sentinels share it.
    """

    port: int
    dir: str
    master_name: str
    master: HostPort
    quorum: int = 2
    auth_pass: str | None = None
    auth_user: str | None = None
    password: str | None = None
    timings: SentinelTimings = LOCAL_TIMINGS
    bind: tuple[str, ...] = ("127.0.0.1",)
    bind_source_addr: str | None = None
    protected_mode: bool = True
    announce_host: str | None = None
    announce_port: int | None = None
    resolve_hostnames: bool = True
    announce_hostnames: bool = True
    tls: TlsFiles | None = None
    pidfile: str | None = None
    logfile: str | None = None


def quote(value: str) -> str:
    """One config argument, double-quoted with escapes when Redis would split or alter it."""
    if value and all(33 <= ord(c) < 127 and c not in "\"'\\" for c in value):
        return value
    out = []
    for byte in value.encode():
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def _line(*args: str | int) -> str:
    return " ".join(quote(str(a)) for a in args)


def _given(*directives: tuple[str, str | int | None]) -> list[str]:
    """The line of each directive whose value is set (a name of two words is two words)."""
    return [_line(*name.split(), value) for name, value in directives if value is not None]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@dataclass(frozen=True)
class ConfParts:
    """A config file in two parts: ``public`` holds no secret, ``secret`` every password line.

    The file is ``public + secret`` (:attr:`full`); both parts end with a newline.
    """

    public: str
    secret: str

    @property
    def full(self) -> str:
        """The whole file."""
        return self.public + self.secret


def render_redis_conf(spec: RedisNodeSpec) -> str:
    """The ``redis.conf`` of one data node."""
    return redis_conf_parts(spec).full


def redis_conf_parts(spec: RedisNodeSpec) -> ConfParts:
    """The ``redis.conf`` of one data node, its password lines apart."""
    _check_port("port", spec.port)
    if spec.min_replicas_to_write < 0 or spec.min_replicas_max_lag < 1:
        raise ConfigError(
            "min_replicas_to_write", "expected min-replicas-to-write >= 0 and max-lag >= 1"
        )
    lines = [_line("bind", *spec.bind), *_source(spec.bind_source_addr)]
    lines += _listen(spec.port, spec.tls)
    lines += [
        _line("protected-mode", _yes(spec.protected_mode)),
        _line("dir", spec.dir),
        _line("appendonly", _yes(spec.appendonly)),
    ]
    lines += _given(
        ("save", spec.save),
        ("maxmemory", spec.maxmemory),
        ("maxmemory-policy", spec.maxmemory_policy),
    )
    secret, masteruser = _auth_lines(spec)
    lines += masteruser
    if spec.replicaof is not None:
        lines.append(_line("replicaof", spec.replicaof.host, spec.replicaof.port))
    lines += [
        _line("min-replicas-to-write", spec.min_replicas_to_write),
        _line("min-replicas-max-lag", spec.min_replicas_max_lag),
    ]
    lines += _given(
        ("repl-diskless-sync-delay", spec.repl_diskless_sync_delay),
        ("shutdown-on-sigterm", spec.shutdown_on_sigterm),
        ("replica-announce-ip", spec.announce_host),
        ("replica-announce-port", spec.announce_port),
    )
    lines += _tls_lines(spec.tls)
    if spec.cluster is not None:
        lines += _cluster_lines(spec.cluster, tls=spec.tls is not None)
    lines += _process_lines(spec.pidfile, spec.logfile)
    return ConfParts(_document("data node", lines), _lines(secret))


def render_sentinel_conf(spec: SentinelSpec) -> str:
    """The ``sentinel.conf`` of one Sentinel; Sentinel rewrites it, so mount it writable."""
    return sentinel_conf_parts(spec).full


def sentinel_conf_parts(spec: SentinelSpec) -> ConfParts:
    """The ``sentinel.conf`` of one Sentinel, its password lines apart (after ``monitor``)."""
    _check_port("port", spec.port)
    _check_port("master port", spec.master.port)
    if not spec.master_name or any(c.isspace() for c in spec.master_name):
        raise ConfigError("sentinel_master", f"got {spec.master_name!r}, expected a name")
    if spec.quorum < 1:
        raise ConfigError("quorum", f"got {spec.quorum}, expected 1 or more")
    name, t = spec.master_name, spec.timings
    lines = [_line("bind", *spec.bind), *_source(spec.bind_source_addr)]
    lines += _listen(spec.port, spec.tls)
    lines += [
        _line("protected-mode", _yes(spec.protected_mode)),
        _line("dir", spec.dir),
        # Before `sentinel monitor`: it may name the master by host name.
        _line("sentinel", "resolve-hostnames", _yes(spec.resolve_hostnames)),
        _line("sentinel", "announce-hostnames", _yes(spec.announce_hostnames)),
    ]
    lines += _given(
        ("sentinel announce-ip", spec.announce_host),
        ("sentinel announce-port", spec.announce_port),
    )
    lines.append(
        _line("sentinel", "monitor", name, spec.master.host, spec.master.port, spec.quorum)
    )
    if spec.auth_user is not None:
        lines.append(_line("sentinel", "auth-user", name, spec.auth_user))
    lines += [
        _line("sentinel", "down-after-milliseconds", name, t.down_after_ms),
        _line("sentinel", "failover-timeout", name, t.failover_timeout_ms),
        _line("sentinel", "parallel-syncs", name, t.parallel_syncs),
    ]
    lines += _tls_lines(spec.tls)
    lines += _process_lines(spec.pidfile, spec.logfile)
    secret = []
    if spec.auth_pass is not None:
        secret.append(_line("sentinel", "auth-pass", name, spec.auth_pass))
    if spec.password is not None:
        secret.append(_line("requirepass", spec.password))
        secret.append(_line("sentinel", "sentinel-pass", spec.password))
    return ConfParts(_document("sentinel", lines), _lines(secret))


def _check_port(what: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(what, f"got {port}, expected a TCP port from 1 to 65535")


def _source(addr: str | None) -> list[str]:
    # Outgoing replication and Sentinel links leave from this address (Redis 7+).
    return [] if addr is None else [_line("bind-source-addr", addr)]


def _listen(port: int, tls: TlsFiles | None) -> list[str]:
    if tls is None:
        return [_line("port", port)]
    return [_line("port", 0), _line("tls-port", port)]


def _auth_lines(spec: RedisNodeSpec) -> tuple[list[str], list[str]]:
    """(lines with a password, the ``masteruser`` line if any)."""
    lines = [_line("requirepass", spec.password)]
    for user in spec.users:
        if not user.name or any(c.isspace() for c in user.name):
            raise ConfigError("users", f"got ACL user name {user.name!r}, expected no spaces")
        lines.append(_line("user", user.name, "on", ">" + user.password, *user.rules))
    if spec.replication_user is None:
        lines.append(_line("masterauth", spec.password))
        return lines, []
    match = [u for u in spec.users if u.name == spec.replication_user]
    if not match:
        raise ConfigError(
            "replication_user", f"{spec.replication_user!r} is not one of the node's ACL users"
        )
    lines.append(_line("masterauth", match[0].password))
    return lines, [_line("masteruser", match[0].name)]


def _tls_lines(tls: TlsFiles | None) -> list[str]:
    if tls is None:
        return []
    return [
        _line("tls-cert-file", tls.cert_file),
        _line("tls-key-file", tls.key_file),
        _line("tls-ca-cert-file", tls.ca_cert_file),
        _line("tls-auth-clients", tls.auth_clients),
        # Replicas and Sentinels open their outgoing links with TLS only with this.
        _line("tls-replication", "yes"),
    ]


def _cluster_lines(cluster: ClusterOptions, *, tls: bool) -> list[str]:
    lines = [
        _line("cluster-enabled", "yes"),
        _line("cluster-config-file", cluster.config_file),
        _line("cluster-node-timeout", cluster.node_timeout_ms),
    ]
    if cluster.bus_port is not None:
        _check_port("cluster bus port", cluster.bus_port)
        lines.append(_line("cluster-port", cluster.bus_port))
    if cluster.announce_hostname is not None:
        lines += [
            _line("cluster-announce-hostname", cluster.announce_hostname),
            _line("cluster-preferred-endpoint-type", "hostname"),
        ]
    if tls:
        lines.append(_line("tls-cluster", "yes"))
    return lines


def _process_lines(pidfile: str | None, logfile: str | None) -> list[str]:
    return [_line("daemonize", "no"), *_given(("pidfile", pidfile), ("logfile", logfile))]


def _lines(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _document(kind: str, lines: list[str]) -> str:
    return f"# {kind}: rendered by aragora_redis.conf; edit the spec, not this file\n" + (
        "\n".join(lines) + "\n"
    )
