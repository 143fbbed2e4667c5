"""Render ``haproxy.cfg`` for a stable master address in front of a Sentinel topology (I/O-free).

URL-only clients cannot follow Sentinel, so HAProxy listens on one address and
forwards each TCP connection to whichever data node currently says
``role:master``. Its health check speaks RESP: ``AUTH`` (password read from an
environment variable at run time, never written into the file), ``PING``,
``INFO replication``, ``QUIT``. ``on-marked-down shutdown-sessions`` closes the
connections of a node the moment it stops being master, so clients reconnect
to the new one instead of writing to a demoted node.

TLS is passed through untouched (clients talk TLS to Redis end to end); only the
health check opens its own TLS connection (``check-ssl``) and verifies the node
against the CA. The same function serves the local stack and the Kubernetes
backend's ConfigMap.

With ``routed_by_control_plane`` there is no health check: the servers start in
maintenance except the first, and a control plane moves new connections with the
runtime API on ``admin_socket`` (``set server ... state ready|maint``). A server
put in maintenance that way keeps its established sessions (only ``shutdown
sessions server`` cuts them), which is how a DNS endpoint behaves on a switch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._parse import HostPort
from .errors import ConfigError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters that mean nothing to HAProxy's tokenizer nor to its log-format parser.
_PLAIN = re.compile(r"[A-Za-z0-9._@+=:/-]+")
_HOST = re.compile(r"[A-Za-z0-9._:-]+")
#: Where HAProxy listens unless told otherwise.
DEFAULT_BIND = HostPort("127.0.0.1", 6379)
#: The environment variable the health check reads the password from (a name, not a secret).
DEFAULT_PASSWORD_ENV = "REDIS_PASSWORD"  # noqa: S105
#: The backend holding the data nodes (``redis-<i>``), as the runtime API names it.
BACKEND = "redis_master"


@dataclass(frozen=True)
class HaproxySpec:
    """What HAProxy needs to know to route to the current master.

    Fields:

    - ``servers``: the data nodes (``HostPort``); host names are allowed (pod DNS
      names in Kubernetes) and then ``resolve_hostnames`` should be on.
    - ``bind``: where HAProxy listens for clients.
    - ``password_env``: name of the environment variable that holds the data-node
      password when HAProxy runs; the password itself is never in the file.
    - ``username``: ACL user the check authenticates as; None means the default
      user (``AUTH <password>``). Letters, digits and ``._@+=:/-`` only.
    - ``check_interval_ms``: time between checks of a healthy node; ``fall``
      failed checks mark it down, ``rise`` passed checks mark it up. While a node
      changes state, or is down, it is checked every ``fast_interval_ms``.
    - ``min_replicas``: a node counts as master only with at least this many
      connected replicas (``connected_slaves``). Match it to the nodes'
      ``min-replicas-to-write`` so HAProxy never routes to a master that refuses
      writes, e.g. a demoted master whose replicas have left; 0 turns it off.
    - ``tls_ca_file``: when set, the nodes speak TLS; the check uses TLS too and
      verifies the node's certificate against this CA file (path as HAProxy sees it).
    - ``tls_server_name``: SNI and certificate name the check expects; None checks
      the chain only.
    - ``resolve_hostnames``: re-resolve server names at run time through the
      resolvers of ``/etc/resolv.conf`` and start even if a name does not
      resolve yet (``init-addr last,libc,none``).
    - ``stats_bind``: where to serve ``/metrics`` (Prometheus) and ``/stats``;
      None serves neither.
    - ``idle_timeout_s``: how long an idle client or server connection is kept
      (pub/sub subscribers can be quiet for a long time).
    - ``connect_timeout_ms``: connect timeout to a node.
    - ``check_timeout_ms``: how long a check waits for the node's answer; a frozen
      node fails a check after this long.
    - ``routed_by_control_plane``: no health check; only the first server takes new
      connections until the runtime API says otherwise (:mod:`aragora_redis.local.endpoint`).
    - ``admin_socket``: path of a Unix socket serving the runtime API (mode 600, admin).
    - ``source``: the address HAProxy's connections and checks to the nodes leave
      from; None lets the system choose.
    """

    servers: tuple[HostPort, ...]
    bind: HostPort = DEFAULT_BIND
    password_env: str = DEFAULT_PASSWORD_ENV
    username: str | None = None
    check_interval_ms: int = 200
    fast_interval_ms: int = 100
    fall: int = 2
    rise: int = 1
    min_replicas: int = 0
    tls_ca_file: str | None = None
    tls_server_name: str | None = None
    resolve_hostnames: bool = False
    stats_bind: HostPort | None = None
    idle_timeout_s: int = 3600
    connect_timeout_ms: int = 2000
    check_timeout_ms: int = 1000
    routed_by_control_plane: bool = False
    admin_socket: str | None = None
    source: str | None = None


def render_haproxy_cfg(spec: HaproxySpec) -> str:
    """The whole ``haproxy.cfg`` for ``spec``; raises ConfigError naming the bad field."""
    _validate(spec)
    lines = [
        "# haproxy: rendered by aragora_redis.haproxy; edit the spec, not this file",
        "global",
        "    log stdout format raw local0 notice",
        *(
            [f"    stats socket {spec.admin_socket} mode 600 level admin"]
            if spec.admin_socket
            else []
        ),
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option log-health-checks",
        f"    timeout connect {spec.connect_timeout_ms}ms",
        f"    timeout check {spec.check_timeout_ms}ms",
        f"    timeout client {spec.idle_timeout_s}s",
        f"    timeout server {spec.idle_timeout_s}s",
        "",
    ]
    if spec.resolve_hostnames:
        lines += [
            "resolvers dns",
            "    parse-resolv-conf",
            "    hold valid 5s",
            "    hold nx 1s",
            "    hold other 1s",
            "    timeout retry 1s",
            "",
        ]
    if spec.stats_bind is not None:
        lines += [
            "frontend stats",
            "    mode http",
            f"    bind {_address(spec.stats_bind)}",
            "    http-request use-service prometheus-exporter if { path /metrics }",
            "    stats enable",
            "    stats uri /stats",
            "    stats refresh 5s",
            "",
        ]
    lines += [
        "frontend redis",
        f"    bind {_address(spec.bind)}",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        # One master at a time: never spread one client's connections over two nodes.
        "    balance first",
        *([f"    source {spec.source}"] if spec.source else []),
    ]
    if spec.routed_by_control_plane:
        # A dead primary refuses at once, as a DNS name's address would: no retries,
        # which HAProxy spaces 1 s apart and keeps on the dead server after a switch.
        lines.append("    retries 0")
        for index, server in enumerate(spec.servers):
            state = " disabled" if index else ""
            lines.append(f"    server redis-{index} {_address(server)}{state}")
        return "\n".join(lines) + "\n"
    lines += [
        "    option tcp-check",
        # No explicit `tcp-check connect`: the implicit one uses the server's
        # check-ssl/ca-file, an explicit one would connect in clear text.
        # One round trip ending in QUIT: Redis then closes the connection, so an
        # expect that does not match fails at once instead of at `timeout check`.
        f"    tcp-check send-lf {check_commands(spec.password_env, spec.username)}",
        r"    tcp-check expect rstring ^[+]OK\r\n",
        "    tcp-check expect string role:master",
    ]
    if spec.min_replicas > 0:
        lines.append(f"    tcp-check expect rstring {_replicas_pattern(spec.min_replicas)}")
    lines.append(f"    default-server {_server_options(spec)}")
    for index, server in enumerate(spec.servers):
        lines.append(f"    server redis-{index} {_address(server)} check")
    return "\n".join(lines) + "\n"


def check_commands(password_env: str, username: str | None) -> str:
    """``AUTH``, ``INFO replication`` and ``QUIT`` in RESP, as one HAProxy log-format argument.

    The password enters only at run time through ``%[env(...)]``, with its byte
    count from the ``length`` converter, so any password (spaces, quotes, CR/LF)
    is sent intact as a bulk string. ``$`` is written ``\\x24`` so that HAProxy's
    config parser does not take ``$<n>`` for an environment variable.
    """
    auth = ["AUTH"] if username is None else ["AUTH", username]
    head = "".join(_bulk(p) for p in auth)
    password = f"\\x24%[env({password_env}),length]\\r\\n%[env({password_env})]\\r\\n"
    info = _array("INFO", "replication")
    quit_ = _array("QUIT")
    return f'"*{len(auth) + 1}\\r\\n{head}{password}{info}{quit_}"'


def _array(*words: str) -> str:
    return f"*{len(words)}\\r\\n" + "".join(_bulk(w) for w in words)


def _bulk(word: str) -> str:
    return f"\\x24{len(word.encode())}\\r\\n{word}\\r\\n"


def _replicas_pattern(minimum: int) -> str:
    return f"connected_slaves:([{minimum}-9]|[1-9][0-9]+)"


def _server_options(spec: HaproxySpec) -> str:
    options = [
        f"inter {spec.check_interval_ms}ms",
        f"fastinter {spec.fast_interval_ms}ms",
        # A node that is down is checked as often as one changing state, so that a
        # newly promoted master takes traffic as soon as it qualifies.
        f"downinter {spec.fast_interval_ms}ms",
        f"fall {spec.fall}",
        f"rise {spec.rise}",
        "on-marked-down shutdown-sessions",
    ]
    if spec.tls_ca_file is not None:
        options += ["check-ssl", "verify required", f"ca-file {spec.tls_ca_file}"]
        if spec.tls_server_name is not None:
            name = spec.tls_server_name
            options += [f"check-sni {name}", f"verifyhost {name}"]
    if spec.resolve_hostnames:
        options += ["resolvers dns", "resolve-prefer ipv4", "init-addr last,libc,none"]
    return " ".join(options)


def _address(hp: HostPort) -> str:
    return f"[{hp.host}]:{hp.port}" if ":" in hp.host else f"{hp.host}:{hp.port}"


def _validate(spec: HaproxySpec) -> None:
    if not spec.servers:
        raise ConfigError("servers", "got none, expected at least one data node host:port")
    named = [("bind", spec.bind)] + [("servers", s) for s in spec.servers]
    if spec.stats_bind is not None:
        named.append(("stats_bind", spec.stats_bind))
    for field, hp in named:
        if not 1 <= hp.port <= 65535:
            raise ConfigError(field, f"got port {hp.port}, expected a TCP port from 1 to 65535")
        if not _HOST.fullmatch(hp.host):
            raise ConfigError(field, f"got host {hp.host!r}, expected a host name or IP address")
    if spec.source is not None and not _HOST.fullmatch(spec.source):
        raise ConfigError("source", f"got {spec.source!r}, expected an address")
    if spec.stats_bind is not None and spec.stats_bind == spec.bind:
        raise ConfigError("stats_bind", f"got {spec.stats_bind.render()}, the same as bind")
    if not _ENV_NAME.fullmatch(spec.password_env):
        raise ConfigError(
            "password_env", f"got {spec.password_env!r}, expected an environment variable name"
        )
    if spec.username is not None and not _PLAIN.fullmatch(spec.username):
        raise ConfigError(
            "username", f"got {spec.username!r}, expected letters, digits and ._@+=:/- only"
        )
    for field, value, low in (
        ("check_interval_ms", spec.check_interval_ms, 10),
        ("fast_interval_ms", spec.fast_interval_ms, 10),
        ("fall", spec.fall, 1),
        ("rise", spec.rise, 1),
        ("idle_timeout_s", spec.idle_timeout_s, 1),
        ("connect_timeout_ms", spec.connect_timeout_ms, 10),
        ("check_timeout_ms", spec.check_timeout_ms, 10),
    ):
        if value < low:
            raise ConfigError(field, f"got {value}, expected an integer >= {low}")
    if not 0 <= spec.min_replicas <= 9:
        raise ConfigError("min_replicas", f"got {spec.min_replicas}, expected 0 to 9")
    for field, text in (
        ("admin_socket", spec.admin_socket),
        ("tls_ca_file", spec.tls_ca_file),
        ("tls_server_name", spec.tls_server_name),
    ):
        if text is not None and not _PLAIN.fullmatch(text):
            raise ConfigError(field, f"got {text!r}, expected no spaces, quotes or %")
    if spec.tls_server_name is not None and spec.tls_ca_file is None:
        raise ConfigError("tls_server_name", "is set but tls_ca_file is not: TLS is off")
