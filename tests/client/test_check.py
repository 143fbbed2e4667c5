"""``aragora-redis check`` against real servers: each topology, an ACL user, and faults on a
private Sentinel stack (a Sentinel stopped, a replica killed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aragora_redis import RedisSettings
from aragora_redis._engine import Engine
from aragora_redis.cli import main
from aragora_redis.health import deployment_facts
from aragora_redis.local import LocalStack, probe, up_on_free_ports
from aragora_redis.local.outputs import env_file_text
from aragora_redis.local.record import write_private
from tests.conftest import AclStack


def env_file(settings: RedisSettings, tmp_path: Path) -> str:
    path = tmp_path / "check.env"
    write_private(path, env_file_text(settings.to_env()))
    return str(path)


def check_json(
    settings: RedisSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, object], dict[tuple[str, str], str]]:
    code = main(["check", "--env-file", env_file(settings, tmp_path), "--json", *extra])
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    checks = document["checks"]
    assert isinstance(checks, list)
    return code, document, {(c["check"], c["target"]): c["status"] for c in checks}


def test_a_lone_master_fails_the_replica_check(
    standalone: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, by = check_json(standalone.settings, tmp_path, capsys)
    where = standalone.address("redis-0").render()
    assert code == 1
    assert document["ok"] is False
    assert by[("role", where)] == "ok"
    assert by[("replicas", where)] == "fail"
    assert by[("latency", where)] == "ok"
    assert by[("memory", where)] == "warn", "the local stack sets no maxmemory"
    assert main(["check", "--env-file", env_file(standalone.settings, tmp_path)]) == 1
    table = capsys.readouterr().out
    assert "replicas" in table
    assert "FAIL: 1 failed" in table


def test_the_sentinel_stack_passes(
    sentinel: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, by = check_json(sentinel.settings, tmp_path, capsys)
    assert code == 0, document
    assert set(by.values()) <= {"ok", "warn"}
    assert [k for k, v in by.items() if v == "warn"] == [k for k in by if k[0] == "memory"], (
        "only the missing maxmemory warns"
    )
    links = [target for check, target in by if check == "link"]
    assert len(links) == 2
    for node in sentinel.sentinels:
        where = sentinel.address(node.name).render()
        assert by[("quorum", where)] == "ok"
        assert by[("sentinel peers", where)] == "ok"
    assert sentinel.settings.password is not None
    assert sentinel.settings.password.get_secret_value() not in json.dumps(document)


def test_the_sentinel_stack_with_tls_passes(
    sentinel_tls: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, _ = check_json(sentinel_tls.settings, tmp_path, capsys)
    assert code == 0, document


def test_the_cluster_passes_for_each_master(
    cluster: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, by = check_json(cluster.settings, tmp_path, capsys)
    assert code == 0, document["checks"]
    masters = [target for check, target in by if check == "role"]
    assert len(masters) == 3
    for where in masters:
        assert by[("cluster state", where)] == "ok"
        assert by[("replicas", where)] == "ok"
    assert len([k for k in by if k[0] == "link"]) == 3


def test_an_acl_user_without_info_fails_the_role_check_and_says_why(
    acl: AclStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, by = check_json(acl.settings, tmp_path, capsys)
    where = acl.stack.address("redis-0").render()
    assert code == 1
    assert by[("latency", where)] == "ok", "PING is allowed"
    assert by[("role", where)] == "fail"
    checks = document["checks"]
    assert isinstance(checks, list)
    role = next(c for c in checks if c["check"] == "role")
    assert "'info'" in role["value"]
    assert "+info" in role["value"]


def test_bad_settings_and_thresholds_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("ARAGORA_REDIS_MODE=sentinel\n")
    assert main(["check", "--env-file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ARAGORA_REDIS_SENTINEL_HOSTS" in err
    assert err.count("\n") == 1
    good = tmp_path / "good.env"
    good.write_text("ARAGORA_REDIS_URL=redis://127.0.0.1:1/0\n")
    args = ["check", "--env-file", str(good), "--memory-warn-pct", "95"]
    assert main(args) == 2
    assert "--memory-warn-pct" in capsys.readouterr().err


def test_nothing_listening_fails_with_the_reason(
    free_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = RedisSettings(host="127.0.0.1", port=free_port)
    code, document, by = check_json(settings, tmp_path, capsys, "--timeout", "1")
    assert code == 1
    assert by == {("role", f"127.0.0.1:{free_port}"): "fail"}
    assert "Connection refused" in json.dumps(document["checks"])


@pytest.fixture
def private_sentinel(tmp_path: Path, engine: Engine) -> Iterator[LocalStack]:
    stack = up_on_free_ports(tmp_path / "private", "sentinel", engine=engine)
    try:
        yield stack
    finally:
        stack.down()


def test_a_stopped_sentinel_and_a_killed_replica_fail_their_checks(
    private_sentinel: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = private_sentinel
    settings = stack.settings
    stopped = stack.address("sentinel-1").render()
    stack.stop("sentinel-1")
    code, _, by = check_json(settings, tmp_path, capsys)
    assert code == 1
    assert [k for k, v in by.items() if v == "fail"] == [("sentinel", stopped)]
    for other in ("sentinel-0", "sentinel-2"):
        assert by[("quorum", stack.address(other).render())] == "ok"

    killed = stack.address("redis-2").render()
    stack.kill("redis-2")
    master = stack.node_settings("redis-0")
    # The master drops the replica when its connection closes; wait for that, not for a time.
    probe.wait_until(
        lambda: probe.info(master, "replication").get("connected_slaves") == "1",
        "the master to drop the killed replica",
        timeout=30,
    )
    code, _, by = check_json(settings, tmp_path, capsys)
    assert code == 1
    assert by[("link", killed)] == "fail", "Sentinel still lists the dead replica"
    assert by[("link", stack.address("redis-1").render())] == "ok"
    assert by[("replicas", stack.address("redis-0").render())] == "ok", "1 replica is enough"
    facts = deployment_facts(settings)
    (master_facts,) = facts.masters
    dead = next(r for r in master_facts.replicas if r.address == killed)
    assert dead.error is not None
    assert "Connection refused" in dead.error
