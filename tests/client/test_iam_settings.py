"""ARAGORA_REDIS_AUTH in the contract: parsed, rendered only when not the default, checked."""

from __future__ import annotations

import pytest

from aragora_redis import ConfigError, RedisSettings

CLUSTER = {
    "ARAGORA_REDIS_MODE": "cluster",
    "ARAGORA_REDIS_CLUSTER_NODES": "10.0.0.7:6379",
    "ARAGORA_REDIS_SSL": "true",
}


def test_default_is_password_and_is_not_rendered() -> None:
    s = RedisSettings.from_env({})
    assert s.auth == "password"
    assert "ARAGORA_REDIS_AUTH" not in s.to_env()


@pytest.mark.parametrize("raw", ["gcp-iam", " GCP-IAM "])
def test_gcp_iam_round_trips(raw: str) -> None:
    s = RedisSettings.from_env({**CLUSTER, "ARAGORA_REDIS_AUTH": raw})
    assert s.auth == "gcp-iam"
    env = s.to_env()
    assert env["ARAGORA_REDIS_AUTH"] == "gcp-iam"
    assert "ARAGORA_REDIS_PASSWORD" not in env
    assert RedisSettings.from_env(env) == s


def test_password_can_be_said_explicitly() -> None:
    s = RedisSettings.from_env({"ARAGORA_REDIS_AUTH": "password", "ARAGORA_REDIS_PASSWORD": "pw"})
    assert s.auth == "password"


def test_unknown_value_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        RedisSettings.from_env({"ARAGORA_REDIS_AUTH": "iam"})
    assert caught.value.variable == "ARAGORA_REDIS_AUTH"
    assert "got 'iam', expected one of password, gcp-iam" in str(caught.value)
    with pytest.raises(ConfigError) as direct:
        RedisSettings(auth="iam")
    assert direct.value.variable == "ARAGORA_REDIS_AUTH"


@pytest.mark.parametrize(
    "env",
    [
        {"ARAGORA_REDIS_PASSWORD": "s3cr3t-pw"},
        {"ARAGORA_REDIS_URL": "rediss://:s3cr3t-pw@10.0.0.7:6379/0"},
    ],
    ids=["password variable", "password in the URL"],
)
def test_gcp_iam_with_a_password_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        RedisSettings.from_env({"ARAGORA_REDIS_AUTH": "gcp-iam", **env})
    assert caught.value.variable == "ARAGORA_REDIS_AUTH"
    assert "expected no password" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)
