"""``python -m aragora_redis._fencer_main --env``: the deployed watcher reads the contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from aragora_redis import HostPort
from aragora_redis._fencer_main import env_source, main
from aragora_redis.errors import ConfigError

ENV = {
    "ARAGORA_REDIS_MODE": "sentinel",
    "ARAGORA_REDIS_SENTINEL_HOSTS": "s-0.ns.svc:26379,s-1.ns.svc:26379,s-2.ns.svc:26379",
    "ARAGORA_REDIS_SENTINEL_MASTER": "aragora-master",
    "ARAGORA_REDIS_PASSWORD": "data-secret",
    "ARAGORA_REDIS_SENTINEL_PASSWORD": "sentinel-secret",
    "ARAGORA_REDIS_SSL": "true",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    return {**ENV, "ARAGORA_REDIS_SSL_CA_CERTS": str(ca)}


def test_env_mode_reads_sentinels_master_passwords_and_ca(env: dict[str, str]) -> None:
    settings, ready = env_source({**env, "ARAGORA_REDIS_FENCER_READY": "/run/fencer/ready"})
    assert settings.sentinel_hosts == (
        HostPort("s-0.ns.svc", 26379),
        HostPort("s-1.ns.svc", 26379),
        HostPort("s-2.ns.svc", 26379),
    )
    assert settings.sentinel_master == "aragora-master"
    assert settings.password is not None
    assert settings.password.get_secret_value() == "data-secret"
    assert settings.sentinel_password is not None
    assert settings.sentinel_password.get_secret_value() == "sentinel-secret"
    assert settings.ssl
    assert settings.ssl_ca_certs == env["ARAGORA_REDIS_SSL_CA_CERTS"]
    assert ready == Path("/run/fencer/ready")
    assert "secret" not in repr(settings)


def test_env_mode_without_ready_file(env: dict[str, str]) -> None:
    assert env_source(env)[1] is None


@pytest.mark.parametrize(
    "change",
    [{"ARAGORA_REDIS_MODE": "standalone"}, {"ARAGORA_REDIS_SENTINEL_HOSTS": ""}],
)
def test_env_mode_refuses_anything_but_a_sentinel_stack(
    env: dict[str, str], change: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match="ARAGORA_REDIS_"):
        env_source({**env, **change})


def test_bad_arguments_show_the_usage() -> None:
    with pytest.raises(SystemExit, match="usage"):
        main([], {})
