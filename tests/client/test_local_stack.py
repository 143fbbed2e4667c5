"""The local stack launcher and the ``aragora-redis local`` CLI, against real processes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from aragora_redis import LocalStackError, RedisSettings
from aragora_redis.cli import main
from aragora_redis.local import (
    LocalStack,
    PortInUse,
    StackOptions,
    check_ports_free,
    current_master,
    launch,
    pick_free_ports,
    up,
)
from aragora_redis.local.procs import Proc, spawn, state


def run_cli(*args: str) -> tuple[int, str]:
    """Run ``aragora-redis`` in-process; returns (status, stdout + stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(list(args))
    return status, out.getvalue()


def port_block(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(50):
        base = pick_free_ports(1)[0]
        try:
            check_ports_free(range(base, base + count))
        except LocalStackError:
            continue
        return base
    raise AssertionError("no block of free ports")


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            zombie = (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z"
        except OSError:
            continue
        if text in cmdline and not zombie:
            found.append(int(entry.name))
    return found


def secrets_of(stack: LocalStack) -> list[str]:
    values = [stack.options.password, stack.options.sentinel_password, stack.options.acl_password]
    return [v for v in values if v]


def parse_env_file(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if value.startswith("'") and value.endswith("'"):
            value = value[1:-1].replace("'\\''", "'")
        env[name] = value
    return env


@dataclass
class CliStack:
    directory: Path
    env_file: Path
    up_output: str
    stack: LocalStack


@pytest.fixture(scope="module")
def cli_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliStack]:
    """``aragora-redis local up --tls --acl-user app``: the Sentinel topology and HAProxy,
    once per module."""
    root = tmp_path_factory.mktemp("cli")
    directory, env_file = root / ".local", root / ".env"
    data, sentinels, proxy = port_block(3), port_block(3), pick_free_ports(1)[0]
    status, output = run_cli(
        "local", "up", "--tls", "--acl-user", "app", "--dir", str(directory),
        "--env-file", str(env_file), "--port-base", str(data),
        "--sentinel-port-base", str(sentinels), "--haproxy-port", str(proxy),
    )  # fmt: skip
    assert status == 0, output
    stack = LocalStack.load(directory)
    assert stack is not None
    yield CliStack(directory, env_file, output, stack)
    run_cli("local", "down", "--dir", str(directory))


def test_up_writes_outputs_that_parse_back_to_the_settings(cli_stack: CliStack) -> None:
    settings = cli_stack.stack.settings
    assert settings.mode == "sentinel"
    assert settings.sentinel_master == "aragora-master"
    assert settings.ssl
    assert settings.ssl_ca_certs == str(cli_stack.directory / "tls" / "ca.crt")
    assert settings.username == "app"
    outputs = json.loads((cli_stack.directory / "outputs.json").read_text())
    env_map = outputs.pop("aragoraRedisEnv")
    assert env_map == outputs == settings.to_env()
    assert RedisSettings.from_env(outputs) == settings
    from_file = parse_env_file(cli_stack.env_file.read_text())
    assert from_file == settings.to_env()
    assert RedisSettings.from_env(from_file) == settings


def test_files_with_secrets_are_private(cli_stack: CliStack) -> None:
    stack = cli_stack.stack
    private = [cli_stack.env_file, cli_stack.directory / "outputs.json"]
    private += [cli_stack.directory / "state.json", cli_stack.directory / "tls" / "server.key"]
    private += [node.conf_path for node in stack.nodes.values()]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(cli_stack.directory.stat().st_mode) == 0o700


def test_up_and_status_print_no_secret(cli_stack: CliStack) -> None:
    status, output = run_cli("local", "status", "--dir", str(cli_stack.directory))
    assert status == 0
    for printed in (cli_stack.up_output, output):
        for secret in secrets_of(cli_stack.stack):
            assert secret not in printed
    assert "ARAGORA_REDIS_PASSWORD=***" in cli_stack.up_output
    assert "rediss://app:***@127.0.0.1" in cli_stack.up_output
    for name in ("redis-0", "redis-2", "sentinel-2"):
        assert name in output
    assert "2 peers" in output


def test_the_stack_is_reachable_over_tls_through_sentinel(cli_stack: CliStack) -> None:
    s = cli_stack.stack.settings
    password = s.password.get_secret_value() if s.password else None
    sentinel_password = s.sentinel_password.get_secret_value() if s.sentinel_password else None
    tls = {"ssl": True, "ssl_ca_certs": s.ssl_ca_certs}
    watcher = redis.Sentinel(
        [tuple(h) for h in s.sentinel_hosts],
        sentinel_kwargs={"password": sentinel_password, **tls},
        username=s.username,
        password=password,
        **tls,
    )
    master = watcher.master_for(s.sentinel_master, socket_timeout=2)
    master.set("aragora:test:cli", "1")
    assert master.get("aragora:test:cli") == b"1"
    master.close()
    assert current_master(cli_stack.stack).port != s.port, "the URL names HAProxy, not a node"


def test_the_url_reaches_the_master_through_haproxy_over_tls(cli_stack: CliStack) -> None:
    stack = cli_stack.stack
    s = stack.settings
    assert (s.host, s.port) == stack.address("haproxy")
    assert s.url.startswith("rediss://app:")
    assert s.sentinel_hosts == tuple(stack.address(n.name) for n in stack.sentinels)
    client = redis.Redis.from_url(s.url, ssl_ca_certs=s.ssl_ca_certs, socket_timeout=5)
    try:
        assert client.set("aragora:test:haproxy", "1")
        reached = client.info("server")["tcp_port"]
    finally:
        client.close()
    assert reached == current_master(stack).port
    assert stack.node("haproxy").conf_path.read_text().count("check-ssl verify required") == 1
    for secret in secrets_of(stack):
        assert secret not in stack.node("haproxy").conf_path.read_text()
        assert secret not in " ".join(stack.nodes["haproxy"].argv)
    status, output = run_cli("local", "status", "--dir", str(cli_stack.directory))
    assert status == 0
    assert f"routes to :{reached}" in output


def test_haproxy_needs_the_sentinel_topology(tmp_path: Path) -> None:
    options = StackOptions("standalone", tmp_path, (7001,), haproxy_port=7002)
    with pytest.raises(LocalStackError, match="haproxy_port"):
        options.resolved()


def test_up_again_starts_nothing_new(cli_stack: CliStack) -> None:
    before = sorted(processes_mentioning(str(cli_stack.directory)))
    assert len(before) == 8, "3 redis-server, 3 sentinels, haproxy, the fencing watcher"
    status, output = run_cli("local", "up", "--dir", str(cli_stack.directory), "--tls")
    assert status == 0
    assert "already up" in output
    assert sorted(processes_mentioning(str(cli_stack.directory))) == before


def test_up_brings_back_a_stopped_and_a_frozen_node(cli_stack: CliStack) -> None:
    stack = LocalStack.load(cli_stack.directory)
    assert stack is not None
    stack.kill("redis-2")
    stack.freeze("sentinel-1")
    stack.kill("haproxy")
    status, output = run_cli("local", "status", "--dir", str(cli_stack.directory))
    assert status == 1
    assert "frozen" in output
    assert "stopped" in output
    status, output = run_cli(
        "local", "up", "--dir", str(cli_stack.directory), "--env-file", str(cli_stack.env_file)
    )
    assert status == 0, output
    assert "Brought back redis-2, sentinel-1, haproxy" in output
    stack = LocalStack.load(cli_stack.directory)
    assert stack is not None
    assert all(stack.state(name) == "running" for name in stack.nodes)
    assert run_cli("local", "status", "--dir", str(cli_stack.directory))[0] == 0


def test_port_in_use_is_named_and_nothing_starts(tmp_path: Path) -> None:
    base = port_block(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        status, output = run_cli(
            "local", "up", "--topology", "standalone", "--dir", str(tmp_path / "a"),
            "--env-file", str(tmp_path / ".env"), "--port-base", str(base + 1),
        )  # fmt: skip
        assert status == 1
        assert f"port {base + 1} on 127.0.0.1 already in use" in output
        options = StackOptions("sentinel", tmp_path / "b", (base, base + 1, base + 2), (1, 2, 3))
        with pytest.raises(PortInUse) as err:
            up(options)
        assert err.value.ports == (base + 1,)
    assert not processes_mentioning(str(tmp_path))
    assert not (tmp_path / "b").exists()
    assert not (tmp_path / ".env").exists()


def test_a_port_taken_after_the_check_is_reported_and_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "check_ports_free", lambda *_: None)
    ports = pick_free_ports(6)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports[2]))
        taken.listen()
        options = StackOptions("sentinel", tmp_path, ports[:3], ports[3:])
        with pytest.raises(PortInUse) as err:
            up(options)
    assert err.value.ports == (ports[2],)
    assert not processes_mentioning(str(tmp_path))
    assert LocalStack.load(tmp_path) is None


def test_free_ports_are_drawn_again_after_a_collision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws: list[tuple[int, ...]] = []

    def pick(count: int) -> tuple[int, ...]:
        draws.append(pick_free_ports(count))
        return (held, *draws[-1][1:]) if len(draws) == 1 else draws[-1]

    monkeypatch.setattr(launch, "pick_free_ports", pick)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        held = taken.getsockname()[1]
        stack = launch.up_on_free_ports(tmp_path, "standalone")
    try:
        assert len(draws) == 2
        assert stack.settings.port == draws[1][0]
        assert stack.client("redis-0").ping()
    finally:
        stack.down()


def test_down_stops_exactly_the_recorded_processes(tmp_path: Path) -> None:
    directory = tmp_path / ".local"
    base = port_block(1)
    status, output = run_cli(
        "local", "up", "--topology", "standalone", "--dir", str(directory),
        "--env-file", str(tmp_path / ".env"), "--port-base", str(base),
    )  # fmt: skip
    assert status == 0, output
    stack = LocalStack.load(directory)
    assert stack is not None
    recorded = stack.processes["redis-0"]
    # A stranger whose command line names the same directory must survive `down`.
    port = pick_free_ports(1)[0]
    conf = f'port {port}\nbind 127.0.0.1\ndir {tmp_path}\nsave ""\n'
    (directory / "stranger.conf").write_text(conf)
    stranger = subprocess.Popen(
        ["redis-server", str(directory / "stranger.conf"), "--set-proc-title", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        status, output = run_cli("local", "down", "--dir", str(directory))
        assert status == 0
        assert "Stopped 1 processes: redis-0" in output
        assert state(recorded) == "stopped"
        assert stranger.poll() is None
        assert processes_mentioning(str(directory)) == [stranger.pid]
        assert LocalStack.load(directory) is None
        assert "nothing to stop" in run_cli("local", "down", "--dir", str(directory))[1]
    finally:
        stranger.terminate()
        stranger.wait()


def test_a_reused_pid_is_not_ours(tmp_path: Path) -> None:
    me = Proc(os.getpid(), "0", ("python",))
    assert state(me) == "stopped"
    sleeper = spawn(["sleep", "30"], tmp_path / "log")
    try:
        assert state(sleeper) == "running"
        impostor = Proc(sleeper.pid, sleeper.started, ("sleep", "31"))
        assert state(impostor) == "stopped"
    finally:
        os.kill(sleeper.pid, 9)
    deadline = time.monotonic() + 5
    while state(sleeper) != "stopped" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state(sleeper) == "stopped"


def test_fault_helpers_on_a_standalone(standalone: LocalStack) -> None:
    client = standalone.client("redis-0", timeout=0.3)
    assert client.ping()
    standalone.freeze("redis-0")
    assert standalone.state("redis-0") == "frozen"
    with pytest.raises(redis.TimeoutError):
        client.ping()
    standalone.thaw("redis-0")
    assert client.ping()
    pid = standalone.pid("redis-0")
    standalone.kill("redis-0")
    assert standalone.pid("redis-0") is None
    with pytest.raises(LocalStackError, match="not running"):
        standalone.freeze("redis-0")
    standalone.start("redis-0")
    assert standalone.pid("redis-0") not in (None, pid)
    assert client.ping()
    client.close()


def test_a_node_restarted_by_another_handle_of_the_stack_is_adopted(
    standalone: LocalStack,
) -> None:
    # The drill loads its own LocalStack from the directory and restarts what it killed.
    other = LocalStack.load(standalone.directory)
    assert other is not None
    old = standalone.pid("redis-0")
    other.kill("redis-0")
    other.start("redis-0")
    new = other.pid("redis-0")
    assert new not in (None, old)
    assert standalone.pid("redis-0") == new, "the first handle follows the record on disk"
    assert standalone.state("redis-0") == "running"
    standalone.wait_answers(["redis-0"], timeout=10.0)


def test_sentinel_fixture_is_whole(sentinel: LocalStack) -> None:
    assert [n.name for n in sentinel.data_nodes] == ["redis-0", "redis-1", "redis-2"]
    assert [n.name for n in sentinel.sentinels] == ["sentinel-0", "sentinel-1", "sentinel-2"]
    assert current_master(sentinel).port in {n.port for n in sentinel.data_nodes}
    sentinels = tuple(sentinel.address(n.name) for n in sentinel.sentinels)
    assert sentinel.settings.sentinel_hosts == sentinels


def test_cluster_fixture_is_whole(cluster: LocalStack) -> None:
    nodes = tuple(cluster.address(n.name) for n in cluster.data_nodes)
    assert cluster.settings.cluster_nodes == nodes
    client = cluster.client("redis-0")
    assert client.execute_command("CLUSTER INFO")["cluster_state"] == "ok"
    client.close()


def test_tls_fixture_refuses_plain_connections(standalone_tls: LocalStack) -> None:
    s = standalone_tls.settings
    assert s.ssl
    assert s.ssl_ca_certs
    assert standalone_tls.client("redis-0").ping()
    plain = redis.Redis(host=s.host, port=s.port, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.ConnectionError):
        plain.ping()


def test_a_process_that_exits_at_once_is_spawned_stopped(tmp_path: Path) -> None:
    # It exits at once, as a node whose port is taken does; spawn must not call it
    # unstarted (the caller reads why from its log). Twenty times: it is a race.
    procs = [spawn(["sh", "-c", "exit 3"], tmp_path / "log") for _ in range(20)]
    deadline = time.monotonic() + 5
    while any(state(p) != "stopped" for p in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(state(p) == "stopped" for p in procs)
