"""``aragora-redis env``: real stack outputs (the Pulumi program under mocks, the local stack's
outputs.json) to dotenv, a Kubernetes Secret and JSON, and every malformed input refused."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no type information
import pytest
from pydantic import SecretStr
from ruamel.yaml import YAML

from aragora_redis import HostPort, RedisSettings
from aragora_redis.cli import main
from aragora_redis.commands.envfile import read_env_file
from aragora_redis.local.outputs import write_outputs
from tests.infra.gcp_mocks import CA_CERTS, run_gcp
from tests.infra.harness import run_program
from tests.infra.stack_config import stack_file

PEM = "".join(CA_CERTS)


def outputs_document(run: Any, *, show_secrets: bool = True) -> str:
    """What ``pulumi stack output --json [--show-secrets]`` prints for a mocked run."""
    assert run.error is None, repr(run.error)
    return json.dumps(
        {
            name: out.value if show_secrets or not out.secret else "[secret]"
            for name, out in run.outputs.items()
        }
    )


@pytest.fixture(scope="module")
def gcp_outputs() -> str:
    return outputs_document(run_gcp(stack_file("prod-gcp"), "prod-gcp"))


@pytest.fixture(scope="module")
def aws_run() -> Any:
    return run_program(stack_file("prod-aws"), "prod-aws")


def sentinel_settings() -> RedisSettings:
    return RedisSettings(
        mode="sentinel",
        host="127.0.0.1",
        port=7000,
        password=SecretStr("p4ss'word$x"),
        sentinel_hosts=(HostPort("127.0.0.1", 7100), HostPort("127.0.0.1", 7101)),
        sentinel_master="aragora-master",
        sentinel_password=SecretStr("sentinel-secret"),
    )


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("sys.stdin", io.StringIO(stdin))
            code = main(args)
    else:
        code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_default_reads_the_local_outputs_and_writes_a_private_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sentinel_settings()
    write_outputs(settings, tmp_path / ".local" / "outputs.json", tmp_path / "unused.env")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["env"], capsys)
    assert (code, err) == (0, "")
    written = tmp_path / ".env"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert RedisSettings.from_env(read_env_file(written)) == settings
    assert "p4ss" not in out, "the summary shows a secret"
    assert "sentinel-secret" not in out, "the summary shows a secret"
    assert "ARAGORA_REDIS_PASSWORD=***" in out


def test_gcp_outputs_write_the_ca_next_to_the_dotenv(
    gcp_outputs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "outputs.json"
    source.write_text(gcp_outputs)
    out_file = tmp_path / "deploy" / "redis.env"
    code, out, _ = run_cli(["env", "--from", str(source), "--out", str(out_file)], capsys)
    assert code == 0
    env = read_env_file(out_file)
    ca = Path(env["ARAGORA_REDIS_SSL_CA_CERTS"])
    assert ca == out_file.parent / "aragora-redis-ca.pem"
    assert ca.read_text() == PEM
    settings = RedisSettings.from_env(env)
    assert settings.ssl
    assert settings.ssl_ca_certs == str(ca)
    assert str(ca) in out


def test_special_characters_survive_a_shell_and_the_env_reader(
    aws_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(
        ["env", "--from", "-", "--out", str(tmp_path / ".env")],
        capsys,
        stdin=outputs_document(aws_run),
    )
    assert code == 0
    expected = {name: out.value for name, out in aws_run.outputs.items()}["aragoraRedisEnv"]
    assert "!" in expected["ARAGORA_REDIS_PASSWORD"], "the mocks' password has specials"
    assert read_env_file(tmp_path / ".env") == expected
    shell = subprocess.run(
        ["bash", "-c", f"set -a; . {tmp_path / '.env'}; env -0"],
        capture_output=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    sourced = dict(line.split("=", 1) for line in shell.stdout.decode().split("\0") if line)
    assert {k: sourced[k] for k in expected} == expected


@pytest.mark.parametrize("base64_values", [False, True])
def test_k8s_secret_is_a_valid_manifest_holding_env_and_ca(
    gcp_outputs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], base64_values: bool
) -> None:
    target = tmp_path / "secret.yaml"
    args = ["env", "--from", "-", "--format", "k8s-secret", "--out", str(target)]
    args += ["--name", "aragora-redis-env", "--namespace", "aragora"]
    code, out, _ = run_cli([*args, *(["--base64"] if base64_values else [])], capsys, gcp_outputs)
    assert code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    manifest = YAML(typ="safe").load(target.read_text())
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)
    assert manifest["metadata"] == {
        "name": "aragora-redis-env",
        "namespace": "aragora",
        "labels": {"app.kubernetes.io/name": "aragora-redis"},
    }
    if base64_values:
        items = {k: base64.b64decode(v).decode() for k, v in manifest["data"].items()}
    else:
        items = manifest["stringData"]
    assert items["ca.pem"] == PEM
    assert items["ARAGORA_REDIS_SSL_CA_CERTS"] == "/etc/aragora-redis/ca.pem"
    env = {k: v for k, v in items.items() if k != "ca.pem"}
    source_env = json.loads(gcp_outputs)["aragoraRedisEnv"]
    # URL consumers trust the private CA through the URL (Aragora ignores the variable there).
    for name in ("ARAGORA_REDIS_URL", "REDIS_URL"):
        assert env[name] == source_env[name] + "?ssl_ca_certs=/etc/aragora-redis/ca.pem"
    assert {k: v for k, v in env.items() if k != "ARAGORA_REDIS_SSL_CA_CERTS"} == {
        **source_env,
        "ARAGORA_REDIS_URL": env["ARAGORA_REDIS_URL"],
        "REDIS_URL": env["REDIS_URL"],
    }
    assert source_env["ARAGORA_REDIS_PASSWORD"] not in out


def test_a_local_ca_file_goes_into_the_k8s_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text(PEM)
    settings = sentinel_settings().replace(ssl=True, ssl_ca_certs=str(ca))
    write_outputs(settings, tmp_path / "outputs.json", tmp_path / "unused.env")
    target = tmp_path / "secret.yaml"
    args = ["env", "--from", str(tmp_path / "outputs.json"), "--format", "k8s-secret"]
    code, _, _ = run_cli([*args, "--out", str(target), "--ca-file", "/run/ca/bundle.pem"], capsys)
    assert code == 0
    items = YAML(typ="safe").load(target.read_text())["stringData"]
    assert items["ca.pem"] == PEM
    assert items["ARAGORA_REDIS_SSL_CA_CERTS"] == "/run/ca/bundle.pem"
    ca.write_text("not a certificate")
    code, _, err = run_cli([*args, "--out", str(target)], capsys)
    assert code == 1
    assert "ARAGORA_REDIS_SSL_CA_CERTS" in err
    assert "no PEM certificate" in err


def test_json_to_stdout_only_with_out_dash(
    gcp_outputs: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        ["env", "--from", "-", "--format", "json", "--out", "-"], capsys, gcp_outputs
    )
    assert code == 0
    env = json.loads(out)
    password = json.loads(gcp_outputs)["ARAGORA_REDIS_PASSWORD"]
    assert env["ARAGORA_REDIS_PASSWORD"] == password
    assert password not in err
    assert "ARAGORA_REDIS_PASSWORD=***" in err
    assert Path(env["ARAGORA_REDIS_SSL_CA_CERTS"]).read_text() == PEM


def test_secret_outputs_read_without_show_secrets_are_named(
    aws_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    masked = outputs_document(aws_run, show_secrets=False)
    code, _, err = run_cli(["env", "--from", "-", "--out", str(tmp_path / ".env")], capsys, masked)
    assert code == 1
    assert err.count("\n") == 1, err
    assert "aragoraRedisEnv" in err
    assert "--show-secrets" in err
    assert not (tmp_path / ".env").exists()
    per_variable = {k: v for k, v in json.loads(masked).items() if k != "aragoraRedisEnv"}
    code, _, err = run_cli(["env", "--from", "-"], capsys, json.dumps(per_variable))
    assert code == 1
    assert "--show-secrets" in err
    assert err.split(":")[1].strip() in {"ARAGORA_REDIS_PASSWORD", "ARAGORA_REDIS_URL"}, err


VALID = json.dumps({"ARAGORA_REDIS_MODE": "standalone", "ARAGORA_REDIS_URL": "redis://h:6379/0"})


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("not json {", "stdin: is not JSON"),
        ("[1, 2]", "stdin: holds a list"),
        ("{}", "ARAGORA_REDIS_MODE: missing from stdin"),
        (json.dumps({"aragoraRedisEnv": "x"}), "aragoraRedisEnv: in stdin is str"),
        (json.dumps({**json.loads(VALID), "ARAGORA_REDIS_PORT": 6379}), "ARAGORA_REDIS_PORT"),
        (
            json.dumps({**json.loads(VALID), "ARAGORA_REDIS_SOCKET_TIMEOUT": "soon"}),
            "ARAGORA_REDIS_SOCKET_TIMEOUT",
        ),
        (json.dumps({**json.loads(VALID), "aragoraRedisCaPem": "nope"}), "aragoraRedisCaPem"),
        (json.dumps({"aragoraRedisEnv": {"ARAGORA_REDIS_MODE": "sentinel"}}), "ARAGORA_REDIS_URL"),
    ],
)
def test_malformed_outputs_give_one_line_and_exit_1(
    text: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["env", "--from", "-", "--out", str(tmp_path / "x")], capsys, text)
    assert code == 1
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert named in err
    assert out == ""
    assert not (tmp_path / "x").exists()


def test_missing_source_and_bad_secret_name_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["env"], capsys)
    assert code == 1
    assert "--from" in err
    assert ".local/outputs.json" in err
    args = ["env", "--from", "-", "--format", "k8s-secret", "--name", "Bad_Name"]
    code, _, err = run_cli(args, capsys, VALID)
    assert code == 1
    assert "--name" in err
    assert "'Bad_Name'" in err


def test_env_reader_unquotes_shell_quoting(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# c\nexport A='it'\\''s $HOME'\nB=\"x y\"\nC=plain=1\nD=''\n")
    assert read_env_file(path) == {"A": "it's $HOME", "B": "x y", "C": "plain=1", "D": ""}
