"""redis.conf / sentinel.conf rendering: I/O-free, checked line by line and by re-parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aragora_redis import ConfigError, HostPort
from aragora_redis.conf import (
    GUIDE_TIMINGS,
    AclUser,
    ClusterOptions,
    RedisNodeSpec,
    SentinelSpec,
    TlsFiles,
    quote,
    render_redis_conf,
    render_sentinel_conf,
)

TLS = TlsFiles("/certs/server.crt", "/certs/server.key", "/certs/ca.crt")


def parse_conf(text: str) -> list[list[str]]:
    """The directives as Redis' sdssplitargs reads them (double quotes, escapes, \\xHH)."""
    return [_split(line) for line in text.splitlines() if line.strip() and line[0] != "#"]


def _split(line: str) -> list[str]:
    args: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        if line[i] != '"':
            end = line.find(" ", i)
            end = len(line) if end < 0 else end
            args.append(line[i:end])
            i = end
            continue
        out = bytearray()
        i += 1
        escapes = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}
        while line[i] != '"':
            if line[i] == "\\" and line[i + 1] == "x":
                out.append(int(line[i + 2 : i + 4], 16))
                i += 4
            elif line[i] == "\\":
                out += escapes.get(line[i + 1], line[i + 1]).encode()
                i += 2
            else:
                out += line[i].encode()
                i += 1
        assert i + 1 == len(line) or line[i + 1] == " ", "closing quote must end the argument"
        args.append(out.decode())
        i += 1
    return args


def directives(text: str) -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    for args in parse_conf(text):
        key = " ".join(args[:2]) if args[0] == "sentinel" else args[0]
        found.setdefault(key, []).append(args)
    return found


def node(**changes: object) -> RedisNodeSpec:
    base: dict[str, object] = {"port": 6379, "dir": "/data", "password": "s3cret"}
    return RedisNodeSpec(**{**base, **changes})  # type: ignore[arg-type]


def sentinel(**changes: object) -> SentinelSpec:
    base: dict[str, object] = {
        "port": 26379,
        "dir": "/sentinel",
        "master_name": "aragora-master",
        "master": HostPort("redis-0.redis", 6379),
        "auth_pass": "data-pw",
        "password": "sentinel-pw",
    }
    return SentinelSpec(**{**base, **changes})  # type: ignore[arg-type]


def test_master_node_has_auth_persistence_and_replica_guards() -> None:
    d = directives(render_redis_conf(node()))
    assert d["bind"] == [["bind", "127.0.0.1"]]
    assert d["port"] == [["port", "6379"]]
    assert d["dir"] == [["dir", "/data"]]
    assert d["appendonly"] == [["appendonly", "yes"]]
    assert d["requirepass"] == [["requirepass", "s3cret"]]
    assert d["masterauth"] == [["masterauth", "s3cret"]]
    assert d["min-replicas-to-write"] == [["min-replicas-to-write", "1"]]
    assert d["min-replicas-max-lag"] == [["min-replicas-max-lag", "10"]]
    assert d["protected-mode"] == [["protected-mode", "yes"]]
    assert d["daemonize"] == [["daemonize", "no"]]
    absent_keys = ("replicaof", "masteruser", "tls-port", "cluster-enabled", "save", "user")
    for absent in (*absent_keys, "shutdown-on-sigterm", "repl-diskless-sync-delay"):
        assert absent not in d


def test_replica_points_at_its_master_and_announces_itself() -> None:
    spec = node(
        replicaof=HostPort("redis-0.redis", 6379),
        announce_host="redis-1.redis",
        announce_port=6380,
        min_replicas_to_write=0,
        min_replicas_max_lag=5,
        bind=("10.0.0.5", "::1"),
        save="",
        repl_diskless_sync_delay=0,
        shutdown_on_sigterm="force",
    )
    d = directives(render_redis_conf(spec))
    assert d["replicaof"] == [["replicaof", "redis-0.redis", "6379"]]
    assert d["replica-announce-ip"] == [["replica-announce-ip", "redis-1.redis"]]
    assert d["replica-announce-port"] == [["replica-announce-port", "6380"]]
    assert d["min-replicas-to-write"] == [["min-replicas-to-write", "0"]]
    assert d["min-replicas-max-lag"] == [["min-replicas-max-lag", "5"]]
    assert d["bind"] == [["bind", "10.0.0.5", "::1"]]
    assert d["save"] == [["save", ""]]
    assert d["repl-diskless-sync-delay"] == [["repl-diskless-sync-delay", "0"]]
    assert d["shutdown-on-sigterm"] == [["shutdown-on-sigterm", "force"]]


def test_tls_node_listens_only_on_the_tls_port() -> None:
    d = directives(render_redis_conf(node(tls=TLS, pidfile="/run/r.pid", logfile="/log/r")))
    assert d["port"] == [["port", "0"]]
    assert d["tls-port"] == [["tls-port", "6379"]]
    assert d["tls-cert-file"] == [["tls-cert-file", "/certs/server.crt"]]
    assert d["tls-key-file"] == [["tls-key-file", "/certs/server.key"]]
    assert d["tls-ca-cert-file"] == [["tls-ca-cert-file", "/certs/ca.crt"]]
    assert d["tls-replication"] == [["tls-replication", "yes"]]
    assert d["tls-auth-clients"] == [["tls-auth-clients", "no"]]
    assert d["pidfile"] == [["pidfile", "/run/r.pid"]]
    assert d["logfile"] == [["logfile", "/log/r"]]
    assert "tls-cluster" not in d


def test_tls_client_certificates_can_be_required() -> None:
    tls = TlsFiles("/c", "/k", "/ca", auth_clients="yes")
    assert ["tls-auth-clients", "yes"] in parse_conf(render_redis_conf(node(tls=tls)))


def test_acl_users_and_replication_user() -> None:
    users = (AclUser("repl", "r-pw"), AclUser("limited", "l pw", ("~aragora:*", "+get")))
    d = directives(render_redis_conf(node(users=users, replication_user="repl")))
    assert d["user"] == [
        ["user", "repl", "on", ">r-pw", "~*", "&*", "+@all"],
        ["user", "limited", "on", ">l pw", "~aragora:*", "+get"],
    ]
    assert d["masteruser"] == [["masteruser", "repl"]]
    assert d["masterauth"] == [["masterauth", "r-pw"]]
    assert d["requirepass"] == [["requirepass", "s3cret"]]


def test_unknown_replication_user_is_refused() -> None:
    with pytest.raises(ConfigError, match="replication_user"):
        render_redis_conf(node(replication_user="ghost"))


@pytest.mark.parametrize("name", ["", "two words"])
def test_acl_user_names_without_spaces(name: str) -> None:
    with pytest.raises(ConfigError, match="ACL user name"):
        render_redis_conf(node(users=(AclUser(name, "pw"),)))


def test_cluster_node() -> None:
    cluster = ClusterOptions(config_file="nodes-7000.conf", bus_port=17000, node_timeout_ms=3000)
    d = directives(render_redis_conf(node(cluster=cluster)))
    assert d["cluster-enabled"] == [["cluster-enabled", "yes"]]
    assert d["cluster-config-file"] == [["cluster-config-file", "nodes-7000.conf"]]
    assert d["cluster-port"] == [["cluster-port", "17000"]]
    assert d["cluster-node-timeout"] == [["cluster-node-timeout", "3000"]]
    assert "cluster-announce-hostname" not in d


def test_cluster_over_tls_with_hostnames() -> None:
    cluster = ClusterOptions(announce_hostname="redis-3.redis")
    d = directives(render_redis_conf(node(cluster=cluster, tls=TLS)))
    assert d["tls-cluster"] == [["tls-cluster", "yes"]]
    assert d["cluster-announce-hostname"] == [["cluster-announce-hostname", "redis-3.redis"]]
    assert d["cluster-preferred-endpoint-type"] == [["cluster-preferred-endpoint-type", "hostname"]]
    assert "cluster-port" not in d


@pytest.mark.parametrize(
    "spec",
    [node(port=0), node(port=70000), node(min_replicas_to_write=-1), node(min_replicas_max_lag=0)],
)
def test_bad_node_specs_are_refused(spec: RedisNodeSpec) -> None:
    with pytest.raises(ConfigError):
        render_redis_conf(spec)


def test_sentinel_monitors_with_local_timings_by_default() -> None:
    text = render_sentinel_conf(sentinel())
    d = directives(text)
    assert d["port"] == [["port", "26379"]]
    assert d["sentinel monitor"] == [
        ["sentinel", "monitor", "aragora-master", "redis-0.redis", "6379", "2"]
    ]
    assert d["sentinel auth-pass"] == [["sentinel", "auth-pass", "aragora-master", "data-pw"]]
    assert d["sentinel down-after-milliseconds"][0][-1] == "1000"
    assert d["sentinel failover-timeout"][0][-1] == "10000"
    assert d["sentinel parallel-syncs"][0][-1] == "1"
    assert d["requirepass"] == [["requirepass", "sentinel-pw"]]
    assert d["sentinel sentinel-pass"] == [["sentinel", "sentinel-pass", "sentinel-pw"]]
    assert d["sentinel resolve-hostnames"] == [["sentinel", "resolve-hostnames", "yes"]]
    assert d["sentinel announce-hostnames"] == [["sentinel", "announce-hostnames", "yes"]]
    assert "sentinel auth-user" not in d
    lines = [" ".join(a[:2]) for a in parse_conf(text)]
    assert lines.index("sentinel resolve-hostnames") < lines.index("sentinel monitor")
    assert lines.index("sentinel monitor") < lines.index("sentinel auth-pass")


def test_sentinel_with_guide_timings_acl_user_and_tls() -> None:
    spec = sentinel(
        timings=GUIDE_TIMINGS,
        auth_user="app",
        quorum=3,
        tls=TLS,
        announce_host="sentinel-0.sentinel",
        announce_port=26380,
    )
    d = directives(render_sentinel_conf(spec))
    assert d["sentinel down-after-milliseconds"][0][-1] == "5000"
    assert d["sentinel failover-timeout"][0][-1] == "60000"
    assert d["sentinel parallel-syncs"][0][-1] == "1"
    assert d["sentinel auth-user"] == [["sentinel", "auth-user", "aragora-master", "app"]]
    assert d["sentinel monitor"][0][-1] == "3"
    assert d["port"] == [["port", "0"]]
    assert d["tls-port"] == [["tls-port", "26379"]]
    assert d["tls-replication"] == [["tls-replication", "yes"]]
    assert d["sentinel announce-ip"] == [["sentinel", "announce-ip", "sentinel-0.sentinel"]]
    assert d["sentinel announce-port"] == [["sentinel", "announce-port", "26380"]]


def test_sentinel_without_its_own_password() -> None:
    d = directives(render_sentinel_conf(sentinel(password=None, auth_pass=None)))
    assert "requirepass" not in d
    assert "sentinel sentinel-pass" not in d
    assert "sentinel auth-pass" not in d


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"quorum": 0}, "quorum"),
        ({"master_name": "two words"}, "sentinel_master"),
        ({"master_name": ""}, "sentinel_master"),
        ({"master": HostPort("h", 0)}, "master port"),
        ({"port": 65536}, "port"),
    ],
)
def test_bad_sentinel_specs_are_refused(changes: dict[str, object], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        render_sentinel_conf(sentinel(**changes))
    assert err.value.variable == variable


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("plain-Value_1.2:3/4@x", "plain-Value_1.2:3/4@x"),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("it's", '"it\'s"'),
        ("line\nbreak", '"line\\x0abreak"'),
        ("é", '"\\xc3\\xa9"'),
    ],
)
def test_quote(value: str, rendered: str) -> None:
    assert quote(value) == rendered


@given(st.text(min_size=1))
def test_any_password_survives_the_config_parser(password: str) -> None:
    conf = render_redis_conf(node(password=password, users=(AclUser("u", password),)))
    d = directives(conf)
    assert d["requirepass"] == [["requirepass", password]]
    assert d["user"][0][3] == ">" + password
    sentinel_conf = render_sentinel_conf(sentinel(password=password, auth_pass=password))
    assert directives(sentinel_conf)["sentinel auth-pass"][0][-1] == password


def test_header_says_where_the_file_comes_from() -> None:
    assert render_redis_conf(node()).startswith("# data node: rendered by aragora_redis.conf")
    assert render_sentinel_conf(sentinel()).startswith("# sentinel: rendered by")
