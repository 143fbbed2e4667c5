"""The configs in the sentinel-k8s ConfigMap are the local stack's renderers' output, byte for byte.

ConfigMap part + Secret part of each node equals what :mod:`aragora_redis.conf`
renders for the node's spec (written out here from the stack's settings), the
HAProxy config equals :func:`aragora_redis.haproxy.render_haproxy_cfg`; the
split never puts a password in the public part; and the real ``redis-server``
and ``haproxy`` accept the files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis
from hypothesis import assume, example, given
from hypothesis import strategies as st

from aragora_redis import HostPort
from aragora_redis._engine import ENGINES, Engine
from aragora_redis.conf import (
    AclUser,
    RedisNodeSpec,
    SentinelSpec,
    SentinelTimings,
    TlsFiles,
    redis_conf_parts,
    render_redis_conf,
    render_sentinel_conf,
    sentinel_conf_parts,
)
from aragora_redis.haproxy import HaproxySpec, render_haproxy_cfg
from aragora_redis.local.engine import server_binary
from tests.support import wait_answering

from ..k8s_mocks import K8sRun, passwords, run_k8s, sentinel_k8s
from ..stack_config import changed, stack_file

STACK = "dev-sentinel"
BASE = "aragora-dev"
NAMESPACE = "aragora-redis-dev"
SVC = f"{NAMESPACE}.svc.cluster.local"
TLS = TlsFiles("/tls/tls.crt", "/tls/tls.key", "/tls/ca.crt")
ANY = "0.0.0.0"  # noqa: S104 (HAProxy listens on the pod's addresses)


def data_pod(i: int) -> str:
    return f"{BASE}-redis-{i}.{BASE}-redis-headless.{SVC}"


def sentinel_pod(i: int) -> str:
    return f"{BASE}-sentinel-{i}.{BASE}-sentinel-headless.{SVC}"


@pytest.fixture(scope="module", params=["tls", "plain"])
def deployed(request: pytest.FixtureRequest) -> tuple[bool, K8sRun]:
    tls = request.param == "tls"
    config = stack_file(STACK) if tls else changed(STACK, {"tls": "false",
        **sentinel_k8s(tlsSecretName=None)})  # fmt: skip
    run = run_k8s(config, STACK)
    assert run.error is None, repr(run.error)
    return tls, run


def files(run: K8sRun) -> tuple[dict[str, str], dict[str, str]]:
    config = run.object("ConfigMap", f"{BASE}-config").inputs["data"]
    secret = run.object("Secret", f"{BASE}-auth").inputs["stringData"].value
    return config, secret


def test_redis_conf_is_the_renderers_bytes(deployed: tuple[bool, K8sRun]) -> None:
    tls, run = deployed
    config, secret = files(run)
    password, _ = passwords(run)
    for i in range(3):
        expected = render_redis_conf(
            RedisNodeSpec(
                port=6379,
                dir="/data",
                password=password,
                bind=("*", "-::*"),
                replicaof=HostPort(data_pod(0), 6379) if i else None,
                min_replicas_to_write=1,
                min_replicas_max_lag=10,
                announce_host=data_pod(i),
                tls=TLS if tls else None,
                maxmemory="768mb",  # 75% of the 1Gi memory limit
                maxmemory_policy="volatile-ttl",
            )
        )
        assert config[f"redis-{i}.conf"] + secret["redis-auth.conf"] == expected, f"redis-{i}"


def test_sentinel_conf_is_the_renderers_bytes(deployed: tuple[bool, K8sRun]) -> None:
    tls, run = deployed
    config, secret = files(run)
    password, sentinel_password = passwords(run)
    for i in range(3):
        expected = render_sentinel_conf(
            SentinelSpec(
                port=26379,
                dir="/data",
                master_name="aragora-master",
                master=HostPort(data_pod(0), 6379),
                quorum=2,
                auth_pass=password,
                password=sentinel_password,
                timings=SentinelTimings(5000, 60000, 1),
                bind=("*", "-::*"),
                announce_host=sentinel_pod(i),
                tls=TLS if tls else None,
            )
        )
        full = config[f"sentinel-{i}.conf"] + secret["sentinel-auth.conf"]
        assert full == expected, f"sentinel-{i}"
        assert "sentinel down-after-milliseconds aragora-master 5000" in full.splitlines()
        for option in ("resolve-hostnames", "announce-hostnames"):
            assert f"sentinel {option} yes" in full.splitlines(), option


def test_haproxy_cfg_is_the_renderers_bytes(deployed: tuple[bool, K8sRun]) -> None:
    tls, run = deployed
    config, _ = files(run)
    expected = render_haproxy_cfg(
        HaproxySpec(
            servers=tuple(HostPort(data_pod(i), 6379) for i in range(3)),
            bind=HostPort(ANY, 6379),
            password_env="REDIS_PASSWORD",
            min_replicas=1,
            tls_ca_file="/tls/ca.crt" if tls else None,
            resolve_hostnames=True,
            stats_bind=HostPort(ANY, 8404),
        )
    )
    assert config["haproxy.cfg"] == expected


def test_haproxy_reads_the_password_from_the_secret(deployed: tuple[bool, K8sRun]) -> None:
    run = deployed[1]
    deployment = run.object("Deployment", f"{BASE}-haproxy")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    (env,) = container["env"]
    assert env["name"] == "REDIS_PASSWORD", f"{deployment}: the check's variable"
    ref = env["valueFrom"]["secretKeyRef"]
    assert ref == {"name": f"{BASE}-auth", "key": "redis-password"}, f"{deployment}: {ref}"


PASSWORDS = st.text(min_size=1, max_size=40)


#: A password no config template holds by chance (a generated "0000" is in "10000").
MARKED = "pw-marker-7f3a9c"


@given(PASSWORDS, PASSWORDS)
@example("0000", "0")  # once failed: "0000" is in the template's "10000"
def test_the_public_part_holds_no_password_and_does_not_depend_on_it(a: str, b: str) -> None:
    assume(a != b)  # then equal public parts mean nothing of the password is in them

    def node(password: str) -> RedisNodeSpec:
        users = (AclUser("repl", password + "r"),)
        return RedisNodeSpec(6379, "/data", password, users=users, replication_user="repl")

    def sentinel(password: str) -> SentinelSpec:
        return SentinelSpec(
            26379, "/data", "m", HostPort("h", 6379), auth_pass=password, password=password
        )

    for parts_a, parts_b, full in (
        (redis_conf_parts(node(a)), redis_conf_parts(node(b)), render_redis_conf(node(a))),
        (
            sentinel_conf_parts(sentinel(a)),
            sentinel_conf_parts(sentinel(b)),
            render_sentinel_conf(sentinel(a)),
        ),
    ):
        assert parts_a.public == parts_b.public
        assert parts_a.full == full
        assert parts_a.secret.endswith("\n")
    assert MARKED not in redis_conf_parts(node(MARKED)).public
    assert MARKED not in sentinel_conf_parts(sentinel(MARKED)).public


@pytest.mark.parametrize("engine", ENGINES)
def test_real_redis_runs_the_assembled_config(
    tmp_path: Path, free_port: int, engine: Engine
) -> None:
    """redis-0.conf + redis-auth.conf (TLS off) on a loopback port: it answers to the password,
    has AOF on and, with no replica yet, refuses writes (min-replicas-to-write 1); on
    redis-server 7 and valkey-server 8 alike."""
    run = run_k8s(changed(STACK, {"tls": "false", **sentinel_k8s(tlsSecretName=None)}), STACK)
    config, secret = files(run)
    password, _ = passwords(run)
    path = tmp_path / "redis.conf"
    # Redis changes into `dir` as it reads the file, so /data is swapped for a temp dir.
    text = config["redis-0.conf"] + secret["redis-auth.conf"]
    assert "dir /data\n" in text
    path.write_text(text.replace("dir /data\n", f"dir {tmp_path}\n"))
    argv = [server_binary(engine), str(path), "--port", str(free_port), "--bind", "127.0.0.1"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as server:
        try:
            client = redis.Redis(port=free_port, password=password, socket_timeout=2)
            wait_answering(lambda: client.ping(), server, timeout=20, who="redis-server")
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("maxmemory") == {"maxmemory": str(768 * 1024**2)}
            with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
                client.set("aragora:k8s:probe", "1")
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=free_port, password="wrong", socket_timeout=2).ping()
        finally:
            server.terminate()


def test_real_haproxy_accepts_the_config(tmp_path: Path) -> None:
    run = run_k8s(changed(STACK, {"tls": "false", **sentinel_k8s(tlsSecretName=None)}), STACK)
    config, _ = files(run)
    path = tmp_path / "haproxy.cfg"
    path.write_text(config["haproxy.cfg"])
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        env={"REDIS_PASSWORD": "p", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
