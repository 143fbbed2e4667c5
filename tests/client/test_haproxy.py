"""The HAProxy config renderer: field checks, `haproxy -c` on rendered files, and real checks.

The real tests start the Debian ``haproxy`` binary in front of the session's
redis-server fixtures and read each server's state from HAProxy's own CSV stats.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from aragora_redis._parse import HostPort
from aragora_redis.errors import ConfigError
from aragora_redis.haproxy import HaproxySpec, check_commands, render_haproxy_cfg
from aragora_redis.local import LocalStack, pick_free_ports

HAPROXY = "/usr/sbin/haproxy"
NODES = (HostPort("127.0.0.1", 7001), HostPort("127.0.0.1", 7002))


def _haproxy_check(tmp_path: Path, spec: HaproxySpec) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_haproxy_cfg(spec))
    return subprocess.run(
        [HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, check=False
    )


VARIANTS = {
    "plain": HaproxySpec(servers=NODES),
    "acl user and replicas": HaproxySpec(servers=NODES, username="app", min_replicas=1),
    "tls": HaproxySpec(servers=NODES, tls_ca_file="/etc/ssl/certs/ca-certificates.crt"),
    "tls with name": HaproxySpec(
        servers=NODES,
        tls_ca_file="/etc/ssl/certs/ca-certificates.crt",
        tls_server_name="redis.example.internal",
    ),
    "k8s names": HaproxySpec(
        servers=tuple(
            HostPort(f"redis-{i}.redis-headless.aragora.svc.cluster.local", 6379) for i in range(3)
        ),
        bind=HostPort("0.0.0.0", 6379),  # noqa: S104
        resolve_hostnames=True,
        stats_bind=HostPort("0.0.0.0", 8404),  # noqa: S104
    ),
    "ipv6": HaproxySpec(servers=(HostPort("::1", 7001),), bind=HostPort("::1", 7000)),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_haproxy_accepts_every_rendered_variant(tmp_path: Path, name: str) -> None:
    done = _haproxy_check(tmp_path, VARIANTS[name])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout


def test_config_names_the_env_variable_never_a_password() -> None:
    cfg = render_haproxy_cfg(HaproxySpec(servers=NODES, password_env="ARAGORA_REDIS_PASSWORD"))
    assert "%[env(ARAGORA_REDIS_PASSWORD)]" in cfg
    assert "%[env(ARAGORA_REDIS_PASSWORD),length]" in cfg
    assert "REDIS_PASSWORD)" not in cfg.replace("ARAGORA_REDIS_PASSWORD)", "")
    assert "requirepass" not in cfg
    assert "password" not in cfg.lower().replace("_password", "")


def test_each_server_is_checked_and_dropped_when_demoted() -> None:
    cfg = render_haproxy_cfg(HaproxySpec(servers=NODES, check_interval_ms=500, fall=3, rise=2))
    assert "server redis-0 127.0.0.1:7001 check" in cfg
    assert "server redis-1 127.0.0.1:7002 check" in cfg
    assert "on-marked-down shutdown-sessions" in cfg
    assert "inter 500ms" in cfg
    assert "fall 3" in cfg
    assert "rise 2" in cfg
    assert "expect string role:master" in cfg
    assert "connected_slaves" not in cfg


def test_min_replicas_pattern_counts_from_the_minimum() -> None:
    cfg = render_haproxy_cfg(HaproxySpec(servers=NODES, min_replicas=2))
    assert "tcp-check expect rstring connected_slaves:([2-9]|[1-9][0-9]+)" in cfg


def test_tls_checks_verify_without_terminating_client_tls() -> None:
    spec = HaproxySpec(servers=NODES, tls_ca_file="/ca.pem", tls_server_name="redis.local")
    server_line = next(
        line for line in render_haproxy_cfg(spec).splitlines() if "default-server" in line
    )
    assert "check-ssl verify required ca-file /ca.pem" in server_line
    assert "check-sni redis.local verifyhost redis.local" in server_line
    assert " ssl " not in server_line + " "  # data traffic is passed through, not re-encrypted


def test_resolvers_only_when_asked() -> None:
    assert "resolvers" not in render_haproxy_cfg(HaproxySpec(servers=NODES))
    cfg = render_haproxy_cfg(HaproxySpec(servers=NODES, resolve_hostnames=True))
    assert "resolvers dns" in cfg
    assert "init-addr last,libc,none" in cfg


def test_username_goes_into_auth_with_its_byte_length() -> None:
    assert check_commands("P", "app").startswith(r'"*3\r\n\x244\r\nAUTH\r\n\x243\r\napp\r\n')
    assert check_commands("P", None).startswith(r'"*2\r\n\x244\r\nAUTH\r\n\x24%[env(P),length]')


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"servers": ()}, "servers"),
        ({"servers": (HostPort("127.0.0.1", 0),)}, "servers"),
        ({"servers": (HostPort("bad host", 6379),)}, "servers"),
        ({"bind": HostPort("127.0.0.1", 70000)}, "bind"),
        ({"stats_bind": HostPort("127.0.0.1", 6379)}, "stats_bind"),
        ({"password_env": "1BAD"}, "password_env"),
        ({"password_env": "A B"}, "password_env"),
        ({"username": 'x"y'}, "username"),
        ({"username": "50%"}, "username"),
        ({"check_interval_ms": 0}, "check_interval_ms"),
        ({"fall": 0}, "fall"),
        ({"rise": 0}, "rise"),
        ({"min_replicas": 10}, "min_replicas"),
        ({"min_replicas": -1}, "min_replicas"),
        ({"idle_timeout_s": 0}, "idle_timeout_s"),
        ({"check_timeout_ms": 5}, "check_timeout_ms"),
        ({"tls_ca_file": "/a b/ca.pem"}, "tls_ca_file"),
        ({"tls_server_name": "redis.local"}, "tls_server_name"),
    ],
)
def test_bad_fields_raise_config_error_naming_them(change: dict[str, object], field: str) -> None:
    spec = replace(HaproxySpec(servers=NODES), **change)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as raised:
        render_haproxy_cfg(spec)
    assert raised.value.variable == field


# --- against real redis-server processes ---------------------------------------------------


@contextmanager
def running_haproxy(tmp_path: Path, spec: HaproxySpec, env: dict[str, str]) -> Iterator[HostPort]:
    """Run haproxy for ``spec`` (stats on a free port); yield the stats address."""
    stats = HostPort("127.0.0.1", pick_free_ports(1)[0])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_haproxy_cfg(replace(spec, stats_bind=stats)))
    log = (tmp_path / "haproxy.log").open("wb")
    proc = subprocess.Popen(
        [HAPROXY, "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}
    )
    try:
        yield stats
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def server_states(stats: HostPort) -> dict[str, str]:
    """Each backend server's status (UP, DOWN, ...) from HAProxy's CSV stats.

    A server not checked yet shows as ``INI``: HAProxy starts it as UP.
    """
    try:
        with urllib.request.urlopen(f"http://{stats.render()}/stats;csv", timeout=2) as reply:
            text = reply.read().decode().lstrip("# ")
    except OSError:
        return {}
    rows = csv.DictReader(io.StringIO(text))
    return {
        r["svname"]: "INI" if "INI" in r["check_status"] else r["status"].split()[0]
        for r in rows
        if r["pxname"] == "redis_master" and r["svname"] not in ("FRONTEND", "BACKEND")
    }


def wait_state(stats: HostPort, server: str, wanted: str, timeout: float = 20.0) -> None:
    """Wait until HAProxy has checked ``server`` and reports ``wanted``."""
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        seen = server_states(stats)
        if seen.get(server) == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"{server} never became {wanted}; last seen {seen}")


def _spec_for(stack: LocalStack, bind: int, **fields: object) -> HaproxySpec:
    node = stack.address("redis-0")
    return HaproxySpec(servers=(node,), bind=HostPort("127.0.0.1", bind), **fields)  # type: ignore[arg-type]


def test_master_is_up_and_reachable_through_haproxy(
    tmp_path: Path, standalone: LocalStack, free_port: int
) -> None:
    spec = _spec_for(standalone, free_port, min_replicas=0)
    with running_haproxy(tmp_path, spec, {"REDIS_PASSWORD": standalone.password}) as stats:
        wait_state(stats, "redis-0", "UP")
        client = redis.Redis(port=free_port, password=standalone.password, socket_timeout=5)
        assert client.set("aragora:haproxy:probe", "1")
        assert client.get("aragora:haproxy:probe")
        client.close()
    assert standalone.password not in (tmp_path / "haproxy.cfg").read_text()


def test_wrong_password_marks_the_node_down(
    tmp_path: Path, standalone: LocalStack, free_port: int
) -> None:
    spec = _spec_for(standalone, free_port)
    with running_haproxy(tmp_path, spec, {"REDIS_PASSWORD": "wrong"}) as stats:
        wait_state(stats, "redis-0", "DOWN")


def test_master_without_enough_replicas_is_down(
    tmp_path: Path, standalone: LocalStack, free_port: int
) -> None:
    spec = _spec_for(standalone, free_port, min_replicas=1)
    with running_haproxy(tmp_path, spec, {"REDIS_PASSWORD": standalone.password}) as stats:
        wait_state(stats, "redis-0", "DOWN")


def test_acl_user_with_any_password_characters(
    tmp_path: Path, standalone: LocalStack, free_port: int
) -> None:
    odd = "a b\"c'd\\e%[f]$4\r\n$HOME é\t"
    admin = standalone.client("redis-0")
    admin.acl_setuser(
        "hxcheck", enabled=True, passwords=["+" + odd], commands=["+@all"], keys=["*"]
    )
    try:
        spec = _spec_for(standalone, free_port, username="hxcheck", password_env="HX_PASS")
        with running_haproxy(tmp_path, spec, {"HX_PASS": odd}) as stats:
            wait_state(stats, "redis-0", "UP")
            client = redis.Redis(port=free_port, username="hxcheck", password=odd, socket_timeout=5)
            assert client.ping()
            client.close()
    finally:
        admin.acl_deluser("hxcheck")
        admin.close()


def test_tls_check_passes_and_clients_keep_end_to_end_tls(
    tmp_path: Path, standalone_tls: LocalStack, free_port: int
) -> None:
    ca = standalone_tls.settings.ssl_ca_certs
    assert ca is not None
    spec = _spec_for(standalone_tls, free_port, tls_ca_file=ca, tls_server_name="localhost")
    with running_haproxy(tmp_path, spec, {"REDIS_PASSWORD": standalone_tls.password}) as stats:
        wait_state(stats, "redis-0", "UP")
        client = redis.Redis(
            port=free_port,
            password=standalone_tls.password,
            ssl=True,
            ssl_ca_certs=ca,
            socket_timeout=5,
        )
        assert client.ping()
        client.close()
