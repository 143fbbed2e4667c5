"""The contract details that exist for Aragora's own readers (tests/compat proves them on stacks).

``ARAGORA_REDIS_CLUSTER_MODE`` for its server/redis_cluster.py, ``?ssl_ca_certs=`` in the
URL for its URL consumers, and on TLS Sentinel stacks ``ARAGORA_REDIS_MODE=standalone`` for
its Sentinel client (no TLS to sentinels) with the sentinels in
``ARAGORA_REDIS_TLS_SENTINEL_HOSTS``, which only aragora_redis reads.
"""

from __future__ import annotations

import pytest

from aragora_redis import ConfigError, RedisSettings
from aragora_redis._parse import HostPort

CA = __file__  # any existing file stands for a CA bundle here
SENTINELS = (HostPort("s1", 26379), HostPort("s2", 26380))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("standalone", "standalone"), ("sentinel", "standalone"), ("cluster", "cluster")],
)
def test_cluster_mode_is_emitted(mode: str, expected: str) -> None:
    hosts: dict[str, dict[str, object]] = {
        "sentinel": {"sentinel_hosts": SENTINELS},
        "cluster": {"cluster_nodes": SENTINELS},
    }
    env = RedisSettings(mode=mode, **hosts.get(mode, {})).to_env()
    assert env["ARAGORA_REDIS_CLUSTER_MODE"] == expected


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ARAGORA_REDIS_CLUSTER_MODE": "cluster"}, "ARAGORA_REDIS_CLUSTER_MODE"),
        ({"ARAGORA_REDIS_CLUSTER_MODE": "sharded"}, "ARAGORA_REDIS_CLUSTER_MODE"),
        (
            {"ARAGORA_REDIS_CLUSTER_NODES": "n1:7000", "ARAGORA_REDIS_CLUSTER_MODE": "standalone"},
            "ARAGORA_REDIS_CLUSTER_MODE",
        ),
    ],
)
def test_cluster_mode_must_agree(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        RedisSettings.from_env(env)
    assert err.value.variable == variable


def test_cluster_mode_auto_is_accepted() -> None:
    assert RedisSettings.from_env({"ARAGORA_REDIS_CLUSTER_MODE": "auto"}).mode == "standalone"


def test_private_ca_rides_in_the_tls_url() -> None:
    s = RedisSettings(ssl=True, ssl_ca_certs=CA, password="p w")
    env = s.to_env()
    assert env["ARAGORA_REDIS_URL"].endswith(f"/0?ssl_ca_certs={CA}")
    assert env["REDIS_URL"] == env["ARAGORA_REDIS_URL"]
    assert env["ARAGORA_REDIS_SSL_CA_CERTS"] == CA
    assert "ssl_ca_certs" not in RedisSettings(ssl_ca_certs=CA).url, "only with TLS"


def test_ca_in_the_url_alone_is_read() -> None:
    env = RedisSettings(ssl=True, ssl_ca_certs=CA).to_env()
    del env["ARAGORA_REDIS_SSL_CA_CERTS"]
    assert RedisSettings.from_env(env).ssl_ca_certs == CA


def test_conflicting_ca_names_both() -> None:
    env = RedisSettings(ssl=True, ssl_ca_certs=CA).to_env()
    env["ARAGORA_REDIS_SSL_CA_CERTS"] = __file__ + ".other"
    with pytest.raises(ConfigError) as err:
        RedisSettings.from_env(env)
    assert err.value.variable == "ARAGORA_REDIS_SSL_CA_CERTS"
    assert "ARAGORA_REDIS_URL" in str(err.value)


def test_missing_ca_file_in_the_url_is_named() -> None:
    env = {"ARAGORA_REDIS_URL": "rediss://h:6379/0?ssl_ca_certs=/nonexistent/ca.pem"}
    with pytest.raises(ConfigError) as err:
        RedisSettings.from_env(env)
    assert err.value.variable == "ARAGORA_REDIS_URL"


def test_tls_sentinel_stack_tells_aragora_standalone() -> None:
    s = RedisSettings(mode="sentinel", ssl=True, ssl_ca_certs=CA, sentinel_hosts=SENTINELS)
    env = s.to_env()
    assert env["ARAGORA_REDIS_MODE"] == "standalone"
    assert "ARAGORA_REDIS_SENTINEL_HOSTS" not in env
    assert env["ARAGORA_REDIS_TLS_SENTINEL_HOSTS"] == "s1:26379,s2:26380"
    assert RedisSettings.from_env(env) == s


def test_plain_sentinel_stack_keeps_sentinel_hosts() -> None:
    env = RedisSettings(mode="sentinel", sentinel_hosts=SENTINELS).to_env()
    assert env["ARAGORA_REDIS_MODE"] == "sentinel"
    assert "ARAGORA_REDIS_TLS_SENTINEL_HOSTS" not in env


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"ARAGORA_REDIS_SSL": "false"}, "ARAGORA_REDIS_TLS_SENTINEL_HOSTS"),
        ({"ARAGORA_REDIS_SENTINEL_HOSTS": "s3"}, "ARAGORA_REDIS_TLS_SENTINEL_HOSTS"),
        ({"ARAGORA_REDIS_MODE": "cluster"}, "ARAGORA_REDIS_MODE"),
    ],
)
def test_tls_sentinel_hosts_refusals(extra: dict[str, str], variable: str) -> None:
    env = {"ARAGORA_REDIS_TLS_SENTINEL_HOSTS": "s1,s2", "ARAGORA_REDIS_SSL": "true", **extra}
    with pytest.raises(ConfigError) as err:
        RedisSettings.from_env(env)
    assert err.value.variable == variable


def test_tls_sentinel_hosts_with_explicit_sentinel_mode() -> None:
    env = {
        "ARAGORA_REDIS_TLS_SENTINEL_HOSTS": "s1",
        "ARAGORA_REDIS_MODE": "sentinel",
        "ARAGORA_REDIS_SSL": "true",
    }
    assert RedisSettings.from_env(env).sentinel_hosts == (HostPort("s1", 26379),)
