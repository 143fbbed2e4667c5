"""The pods' shell scripts, run for real against a local Sentinel topology on loopback.

A data pod that starts follows the master the Sentinels name (or, with no
Sentinel answering, the data node that says ``master``), and keeps its rendered
role only when no one knows a master; a Sentinel's init writes its config from
the ConfigMap and Secret parts, monitoring the current master; the probes tell
ready from not ready.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from aragora_redis import HostPort
from aragora_redis.conf import RedisNodeSpec, SentinelSpec, redis_conf_parts, sentinel_conf_parts
from aragora_redis.local import LocalStack, pick_free_ports, up_on_free_ports
from tests.support import wait_answering

from ..k8s_mocks import scripts

LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Its own topology: the nodes these tests start join it, so the session's stays as it was.
    found = up_on_free_ports(tmp_path_factory.mktemp("k8s-scripts"), "sentinel")
    try:
        yield found
    finally:
        found.down()


def current_master(stack: LocalStack) -> HostPort:
    reply = stack.client("sentinel-0").execute_command(
        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", stack.options.master_name
    )
    host, port = (x.decode() if isinstance(x, bytes) else str(x) for x in reply)
    return HostPort(host, int(port))


def a_replica(stack: LocalStack) -> HostPort:
    master = current_master(stack)
    return next(a for n in stack.data_nodes if (a := stack.address(n.name)) != master)


def shell_spec(
    stack: LocalStack, tmp: Path, self_port: int, **changes: object
) -> scripts.ScriptSpec:
    for name in ("config", "auth", "conf", "sentinel"):
        (tmp / name).mkdir(exist_ok=True)
    spec = scripts.ScriptSpec(
        master_name=stack.options.master_name,
        sentinels=tuple(stack.address(n.name) for n in stack.sentinels),
        data_nodes=(
            *(stack.address(n.name) for n in stack.data_nodes),
            HostPort(LOOPBACK, self_port),
        ),
        self_node=f"{LOOPBACK}:{self_port}",
        tls=False,
        config_dir=str(tmp / "config"),
        auth_dir=str(tmp / "auth"),
        conf_dir=str(tmp / "conf"),
        sentinel_dir=str(tmp / "sentinel"),
    )
    return replace(spec, **changes)  # type: ignore[arg-type]


def environment(stack: LocalStack, pod: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "POD_NAME": pod,
        "REDIS_PASSWORD": stack.password,
        "SENTINEL_PASSWORD": stack.options.sentinel_password or "",
    }


def run_script(
    text: str, tmp: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    path = tmp / "script.sh"
    path.write_text(text)
    return subprocess.run(
        ["sh", str(path), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def closed_ports(count: int) -> tuple[HostPort, ...]:
    return tuple(HostPort(LOOPBACK, p) for p in pick_free_ports(count))


@contextmanager
def data_node(
    stack: LocalStack, tmp: Path, spec: scripts.ScriptSpec, port: int, replicaof: HostPort | None
) -> Iterator[tuple[str, redis.Redis]]:
    """Render the node's parts, run init-redis.sh, then start-redis.sh until the block ends.

    Yields the config the node runs and a client to it.
    """
    node = RedisNodeSpec(
        port=port,
        dir=str(tmp),
        password=stack.password,
        replicaof=replicaof,
        min_replicas_to_write=0,
        announce_host=LOOPBACK,
        repl_diskless_sync_delay=0,
        shutdown_on_sigterm="force",
    )
    parts = redis_conf_parts(node)
    Path(spec.config_dir, "redis-3.conf").write_text(parts.public)
    Path(spec.auth_dir, "redis-auth.conf").write_text(parts.secret)
    env = environment(stack, "aragora-redis-3")
    init = run_script(scripts.init_redis(spec), tmp, env)
    assert init.returncode == 0, init.stderr
    conf = Path(spec.conf_dir, "redis.conf")
    assert conf.read_text() == parts.full, "init-redis.sh writes public + secret"
    start = tmp / "start.sh"
    start.write_text(scripts.start_redis(spec))
    argv = ["sh", str(start)]
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as server:
        client = redis.Redis(port=port, password=stack.password, socket_timeout=2)
        try:
            wait_answering(client.ping, server, timeout=30, who="the node")
            yield conf.read_text(), client
        finally:
            server.terminate()
            server.wait(timeout=30)


def replication(client: redis.Redis) -> dict[str, object]:
    info: dict[str, object] = client.info("replication")
    return info


def test_a_starting_node_follows_the_master_the_sentinels_name(
    stack: LocalStack, tmp_path: Path
) -> None:
    port = pick_free_ports(1)[0]
    spec = shell_spec(stack, tmp_path, port)
    master, wrong = current_master(stack), a_replica(stack)
    with data_node(stack, tmp_path, spec, port, replicaof=wrong) as (conf, client):
        assert f"replicaof {master.host} {master.port}" in conf.splitlines()
        assert f"replicaof {wrong.host} {wrong.port}" not in conf.splitlines()
        info = replication(client)
        assert info["role"] == "slave"
        assert (info["master_host"], info["master_port"]) == (master.host, master.port)


def test_without_sentinels_it_follows_the_node_that_says_master(
    stack: LocalStack, tmp_path: Path
) -> None:
    port = pick_free_ports(1)[0]
    spec = shell_spec(stack, tmp_path, port, sentinels=closed_ports(3))
    master = current_master(stack)
    # Rendered as a master: the data node that answers ROLE master wins over the file.
    with data_node(stack, tmp_path, spec, port, replicaof=None) as (conf, client):
        assert f"replicaof {master.host} {master.port}" in conf.splitlines()
        info = replication(client)
        assert (info["role"], info["master_port"]) == ("slave", master.port)


def test_when_no_one_knows_a_master_the_rendered_role_stands(
    stack: LocalStack, tmp_path: Path
) -> None:
    port = pick_free_ports(1)[0]
    nobody = closed_ports(5)
    spec = shell_spec(
        stack,
        tmp_path,
        port,
        sentinels=nobody[:3],
        data_nodes=(*nobody[3:], HostPort(LOOPBACK, port)),
    )
    with data_node(stack, tmp_path, spec, port, replicaof=None) as (conf, client):
        assert not [line for line in conf.splitlines() if line.startswith("replicaof")]
        assert replication(client)["role"] == "master"


def test_sentinel_init_monitors_the_current_master(stack: LocalStack, tmp_path: Path) -> None:
    port = pick_free_ports(1)[0]
    spec = shell_spec(stack, tmp_path, port)
    master, wrong = current_master(stack), a_replica(stack)
    sentinel = SentinelSpec(
        port=port,
        dir=str(tmp_path),
        master_name=stack.options.master_name,
        master=wrong,
        auth_pass=stack.password,
        password=stack.options.sentinel_password,
        announce_host=LOOPBACK,
    )
    parts = sentinel_conf_parts(sentinel)
    Path(spec.config_dir, "sentinel-1.conf").write_text(parts.public)
    Path(spec.auth_dir, "sentinel-auth.conf").write_text(parts.secret)
    done = run_script(
        scripts.init_sentinel(spec), tmp_path, environment(stack, "aragora-sentinel-1")
    )
    assert done.returncode == 0, done.stderr
    written = Path(spec.sentinel_dir, "sentinel.conf").read_text()
    expected = parts.full.replace(
        f"monitor {stack.options.master_name} {wrong.host} {wrong.port} 2",
        f"monitor {stack.options.master_name} {master.host} {master.port} 2",
    )
    assert expected != parts.full, "the rendered master is a replica"
    assert written == expected
    assert written.endswith(parts.secret), "the password lines stay after `sentinel monitor`"


@contextmanager
def stale_sentinel(stack: LocalStack, tmp: Path) -> Iterator[HostPort]:
    """A real Sentinel that names an old master (a closed port) and talks to no one."""
    port, old_master = pick_free_ports(2)
    directory = tmp / "stale"
    directory.mkdir()
    text = sentinel_conf_parts(
        SentinelSpec(
            port=port,
            dir=str(directory),
            master_name=stack.options.master_name,
            master=HostPort(LOOPBACK, old_master),
            password=stack.options.sentinel_password,
        )
    ).full
    (directory / "sentinel.conf").write_text(text)
    argv = ["redis-server", str(directory / "sentinel.conf"), "--sentinel"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        client = redis.Redis(port=port, password=stack.options.sentinel_password, socket_timeout=2)
        try:
            wait_answering(client.ping, process, timeout=30, who="the node")
            yield HostPort(LOOPBACK, port)
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_the_master_most_sentinels_name_wins_over_a_stale_one(
    stack: LocalStack, tmp_path: Path
) -> None:
    port = pick_free_ports(1)[0]
    master = current_master(stack)
    with stale_sentinel(stack, tmp_path) as stale:
        # The stale one is asked first: the first answer alone would be wrong.
        sentinels = (stale, *(stack.address(n.name) for n in stack.sentinels[:2]))
        spec = shell_spec(stack, tmp_path, port, sentinels=sentinels)
        with data_node(stack, tmp_path, spec, port, replicaof=None) as (conf, client):
            assert f"replicaof {master.host} {master.port}" in conf.splitlines()
            assert replication(client)["master_port"] == master.port


@pytest.mark.parametrize(
    ("check", "target", "ok"),
    [
        ("redis-ready", "master", True),
        ("redis-ready", "replica", True),
        ("redis-alive", "replica", True),
        ("sentinel", "sentinel", True),
        ("redis-ready", "closed", False),
        ("redis-alive", "closed", False),
        ("sentinel", "closed", False),
    ],
)
def test_probes(stack: LocalStack, tmp_path: Path, check: str, target: str, ok: bool) -> None:
    address = {
        "master": current_master(stack),
        "replica": a_replica(stack),
        "sentinel": stack.address("sentinel-0"),
        "closed": closed_ports(1)[0],
    }[target]
    spec = shell_spec(stack, tmp_path, pick_free_ports(1)[0])
    text = scripts.probe(spec, redis_port=address.port, sentinel_port=address.port)
    done = run_script(text, tmp_path, environment(stack, "aragora-redis-0"), check)
    assert (done.returncode == 0) is ok, f"{check} on {target}: {done.returncode} {done.stderr}"
