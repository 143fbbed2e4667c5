"""The ARAGORA_REDIS_* contract: every row in both directions, every bad input."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from aragora_redis import ConfigError, HostPort, RedisSettings

# --- from_env: each row of the contract table -------------------------------------------


def test_defaults_match_aragora() -> None:
    s = RedisSettings.from_env({})
    assert (s.mode, s.host, s.port, s.db) == ("standalone", "localhost", 6379, 0)
    assert (s.socket_timeout, s.socket_connect_timeout) == (5.0, 5.0)
    assert (s.max_connections, s.health_check_interval) == (50, 30)
    assert s.cluster_read_from_replicas is True
    assert s.cluster_skip_full_coverage is False
    assert s.rate_limit_fail_open is False
    assert s.sentinel_master == "mymaster"


def test_aragora_url_wins_over_redis_url() -> None:
    s = RedisSettings.from_env({"ARAGORA_REDIS_URL": "redis://a:1/0", "REDIS_URL": "redis://b:2/0"})
    assert (s.host, s.port) == ("a", 1)


def test_redis_url_alone_is_used() -> None:
    s = RedisSettings.from_env({"REDIS_URL": "rediss://user:p%40ss@cache.internal:6380/3"})
    assert (s.host, s.port, s.db, s.ssl, s.username) == ("cache.internal", 6380, 3, True, "user")
    assert s.password is not None
    assert s.password.get_secret_value() == "p@ss"


def test_url_wins_over_host_port_db() -> None:
    env = {
        "ARAGORA_REDIS_URL": "redis://a:1/2",
        "ARAGORA_REDIS_HOST": "b",
        "ARAGORA_REDIS_PORT": "3",
    }
    assert RedisSettings.from_env(env).host == "a"


def test_host_port_db_without_url() -> None:
    env = {"ARAGORA_REDIS_HOST": "r1", "ARAGORA_REDIS_PORT": "6380", "ARAGORA_REDIS_DB": "4"}
    s = RedisSettings.from_env(env)
    assert (s.host, s.port, s.db) == ("r1", 6380, 4)


def test_password_and_username_apply_without_url() -> None:
    env = {"ARAGORA_REDIS_PASSWORD": "pw", "ARAGORA_REDIS_USERNAME": "app"}
    s = RedisSettings.from_env(env)
    assert s.username == "app"
    assert s.password is not None
    assert s.password.get_secret_value() == "pw"
    assert s.url == "redis://app:pw@localhost:6379/0"


def test_password_outside_url_fills_a_url_without_one() -> None:
    env = {"ARAGORA_REDIS_URL": "redis://h:1/0", "ARAGORA_REDIS_PASSWORD": "pw"}
    assert RedisSettings.from_env(env).url == "redis://:pw@h:1/0"


def test_password_contradicting_url_is_refused_without_showing_it() -> None:
    env = {
        "ARAGORA_REDIS_URL": "redis://:first-pw-1@h:1/0",
        "ARAGORA_REDIS_PASSWORD": "second-pw-2",
    }
    with pytest.raises(ConfigError) as err:
        RedisSettings.from_env(env)
    assert err.value.variable == "ARAGORA_REDIS_PASSWORD"
    assert "first-pw-1" not in str(err.value)
    assert "second-pw-2" not in str(err.value)


def test_ssl_variables() -> None:
    ca = Path(__file__)  # any existing file stands for the bundle
    env = {
        "ARAGORA_REDIS_SSL": "TRUE",
        "ARAGORA_REDIS_SSL_CERT_REQS": "optional",
        "ARAGORA_REDIS_SSL_CA_CERTS": str(ca),
    }
    s = RedisSettings.from_env(env)
    assert (s.ssl, s.ssl_cert_reqs, s.ssl_ca_certs) == (True, "optional", str(ca))
    assert s.url.startswith("rediss://")


def test_ssl_contradicting_url_scheme_is_refused() -> None:
    env = {"ARAGORA_REDIS_URL": "redis://h:1/0", "ARAGORA_REDIS_SSL": "true"}
    with pytest.raises(ConfigError, match="ARAGORA_REDIS_SSL"):
        RedisSettings.from_env(env)


def test_sentinel_hosts_trimmed_empties_dropped_last_colon_default_port() -> None:
    env = {"ARAGORA_REDIS_SENTINEL_HOSTS": " s1:26380 , ,s2,[fe80::1]:26381, ::1 ,"}
    s = RedisSettings.from_env(env)
    assert s.mode == "sentinel"
    assert s.sentinel_hosts == (
        HostPort("s1", 26380),
        HostPort("s2", 26379),
        HostPort("fe80::1", 26381),
        HostPort("::1", 26379),
    )


def test_sentinel_master_and_password() -> None:
    env = {
        "ARAGORA_REDIS_SENTINEL_HOSTS": "s1",
        "ARAGORA_REDIS_SENTINEL_MASTER": "aragora-master",
        "ARAGORA_REDIS_SENTINEL_PASSWORD": "spw",
    }
    s = RedisSettings.from_env(env)
    assert s.sentinel_master == "aragora-master"
    assert s.sentinel_password is not None
    assert s.sentinel_password.get_secret_value() == "spw"


def test_cluster_nodes_default_port_and_flags() -> None:
    env = {
        "ARAGORA_REDIS_CLUSTER_NODES": "n1,n2:7001",
        "ARAGORA_REDIS_CLUSTER_READ_FROM_REPLICAS": "no",
        "ARAGORA_REDIS_CLUSTER_SKIP_FULL_COVERAGE": "On",
    }
    s = RedisSettings.from_env(env)
    assert s.mode == "cluster"
    assert s.cluster_nodes == (HostPort("n1", 6379), HostPort("n2", 7001))
    assert (s.cluster_read_from_replicas, s.cluster_skip_full_coverage) == (False, True)


def test_sentinel_detected_before_cluster() -> None:
    env = {"ARAGORA_REDIS_SENTINEL_HOSTS": "s", "ARAGORA_REDIS_CLUSTER_NODES": "n"}
    s = RedisSettings.from_env(env)
    assert s.mode == "sentinel"
    assert s.cluster_nodes == ()


def test_explicit_mode_is_never_overridden() -> None:
    env = {"ARAGORA_REDIS_MODE": "cluster", "ARAGORA_REDIS_CLUSTER_NODES": "n"}
    env["ARAGORA_REDIS_SENTINEL_HOSTS"] = "s"
    assert RedisSettings.from_env(env).mode == "cluster"


def test_explicit_standalone_with_sentinel_hosts_is_refused() -> None:
    env = {"ARAGORA_REDIS_MODE": "standalone", "ARAGORA_REDIS_SENTINEL_HOSTS": "s"}
    with pytest.raises(ConfigError, match="ARAGORA_REDIS_MODE"):
        RedisSettings.from_env(env)


def test_timeouts_pool_health_and_threshold() -> None:
    env = {
        "ARAGORA_REDIS_SOCKET_TIMEOUT": "0.25",
        "ARAGORA_REDIS_SOCKET_CONNECT_TIMEOUT": "1",
        "ARAGORA_REDIS_MAX_CONNECTIONS": "10000",
        "ARAGORA_REDIS_HEALTH_CHECK_INTERVAL": "0",
        "ARAGORA_REDIS_FAILURE_THRESHOLD": "5",
    }
    s = RedisSettings.from_env(env)
    assert (s.socket_timeout, s.socket_connect_timeout) == (0.25, 1.0)
    assert (s.max_connections, s.health_check_interval, s.failure_threshold) == (10000, 0, 5)


@pytest.mark.parametrize("word", ["true", "TRUE", "1", "yes", "On"])
def test_fail_open_true_words(word: str) -> None:
    assert RedisSettings.from_env({"ARAGORA_RATE_LIMIT_FAIL_OPEN": word}).rate_limit_fail_open


@pytest.mark.parametrize("word", ["false", "False", "0", "no", "OFF"])
def test_fail_open_false_words(word: str) -> None:
    env = {"ARAGORA_RATE_LIMIT_FAIL_OPEN": word}
    assert not RedisSettings.from_env(env).rate_limit_fail_open


def test_session_ttl_overrides() -> None:
    env = {"ARAGORA_SESSION_DEBATE_TTL": "60", "ARAGORA_SESSION_WIDGET_TTL": "5"}
    s = RedisSettings.from_env(env)
    assert s.session_ttl_overrides == {"debate": 60, "widget": 5}
    assert s.to_env()["ARAGORA_SESSION_DEBATE_TTL"] == "60"


def test_empty_values_count_as_unset() -> None:
    env = {"ARAGORA_REDIS_URL": "", "ARAGORA_REDIS_PORT": " ", "ARAGORA_REDIS_MODE": ""}
    assert RedisSettings.from_env(env) == RedisSettings()


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARAGORA_REDIS_PORT", "6390")
    assert RedisSettings.from_env().port == 6390


# --- to_env: the superset Aragora's readers need ----------------------------------------


def test_to_env_emits_the_superset_with_literal_booleans() -> None:
    s = RedisSettings(
        mode="sentinel",
        host="m",
        port=6380,
        password="pw",
        username="app",
        sentinel_hosts=(HostPort("s1", 26379), HostPort("::1", 26380)),
        sentinel_master="aragora-master",
        sentinel_password="spw",
        rate_limit_fail_open=True,
    )
    env = s.to_env()
    assert env["ARAGORA_REDIS_URL"] == env["REDIS_URL"] == "redis://app:pw@m:6380/0"
    assert env["ARAGORA_REDIS_MODE"] == "sentinel"
    assert env["ARAGORA_REDIS_CLUSTER_MODE"] == "standalone"
    assert env["ARAGORA_REDIS_SENTINEL_HOSTS"] == "s1:26379,[::1]:26380"
    assert env["ARAGORA_REDIS_SENTINEL_PASSWORD"] == "spw"
    assert env["ARAGORA_REDIS_PASSWORD"] == "pw"
    assert env["ARAGORA_REDIS_SSL"] == "false"
    assert env["ARAGORA_RATE_LIMIT_FAIL_OPEN"] == "true"
    assert env["ARAGORA_REDIS_CLUSTER_SKIP_FULL_COVERAGE"] == "false"
    assert env["ARAGORA_RATE_LIMIT_BACKEND"] == env["ARAGORA_STATE_BACKEND"] == "redis"
    for name in ("HOST", "PORT", "DB", "SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT"):
        assert f"ARAGORA_REDIS_{name}" in env
    for name in ("MAX_CONNECTIONS", "HEALTH_CHECK_INTERVAL", "SSL_CERT_REQS", "USERNAME"):
        assert f"ARAGORA_REDIS_{name}" in env


def test_to_env_cluster_nodes() -> None:
    s = RedisSettings(mode="cluster", cluster_nodes=(HostPort("n1", 7000),))
    assert s.to_env()["ARAGORA_REDIS_CLUSTER_NODES"] == "n1:7000"


def test_masked_env_hides_every_secret() -> None:
    s = RedisSettings(password="hunter2-x", sentinel_password="s3cret-y")
    s = s.replace(mode="sentinel", sentinel_hosts=(HostPort("s", 1),))
    text = repr(s.to_env(mask_secrets=True))
    assert "hunter2-x" not in text
    assert "s3cret-y" not in text
    assert "***" in text


def test_repr_str_and_describe_never_show_passwords() -> None:
    s = RedisSettings(password="hunter2-x", username="app")
    for text in (repr(s), str(s), s.describe(), s.redacted_url):
        assert "hunter2-x" not in text


# --- bad input: the message names the variable, shows the value, says what is expected --

BAD = [
    ({"ARAGORA_REDIS_PORT": "http"}, "ARAGORA_REDIS_PORT", "'http'"),
    ({"ARAGORA_REDIS_PORT": "70000"}, "ARAGORA_REDIS_PORT", "1 to 65535"),
    ({"ARAGORA_REDIS_PORT": "0"}, "ARAGORA_REDIS_PORT", "1 to 65535"),
    ({"ARAGORA_REDIS_MODE": "replicated"}, "ARAGORA_REDIS_MODE", "standalone, sentinel, cluster"),
    ({"ARAGORA_REDIS_MODE": "sentinel"}, "ARAGORA_REDIS_SENTINEL_HOSTS", "host[:port]"),
    (
        {"ARAGORA_REDIS_MODE": "sentinel", "ARAGORA_REDIS_SENTINEL_HOSTS": " , "},
        "ARAGORA_REDIS_SENTINEL_HOSTS",
        "host[:port]",
    ),
    ({"ARAGORA_REDIS_MODE": "cluster"}, "ARAGORA_REDIS_CLUSTER_NODES", "host[:port]"),
    ({"ARAGORA_REDIS_URL": "http://h:1"}, "ARAGORA_REDIS_URL", "redis:// or rediss://"),
    ({"REDIS_URL": "unix:///tmp/r.sock"}, "REDIS_URL", "redis:// or rediss://"),
    ({"ARAGORA_REDIS_URL": "redis://:pw@/0"}, "ARAGORA_REDIS_URL", "no host"),
    ({"ARAGORA_REDIS_URL": "redis://h:99999"}, "ARAGORA_REDIS_URL", "redis[s]://"),
    ({"ARAGORA_REDIS_URL": "redis://h:1/x"}, "ARAGORA_REDIS_URL", "not a whole number"),
    ({"ARAGORA_REDIS_URL": "redis://h:0/0"}, "ARAGORA_REDIS_URL", "bad port"),
    ({"ARAGORA_REDIS_SSL_CA_CERTS": "/nonexistent/ca.pem"}, "ARAGORA_REDIS_SSL_CA_CERTS", "PEM"),
    ({"ARAGORA_REDIS_SOCKET_TIMEOUT": "-1"}, "ARAGORA_REDIS_SOCKET_TIMEOUT", "above 0"),
    ({"ARAGORA_REDIS_SOCKET_TIMEOUT": "fast"}, "ARAGORA_REDIS_SOCKET_TIMEOUT", "'fast'"),
    ({"ARAGORA_REDIS_SOCKET_CONNECT_TIMEOUT": "nan"}, "SOCKET_CONNECT_TIMEOUT", "above 0"),
    ({"ARAGORA_REDIS_MAX_CONNECTIONS": "0"}, "ARAGORA_REDIS_MAX_CONNECTIONS", "1 to 10000"),
    ({"ARAGORA_REDIS_MAX_CONNECTIONS": "10001"}, "ARAGORA_REDIS_MAX_CONNECTIONS", "1 to 10000"),
    ({"ARAGORA_REDIS_MAX_CONNECTIONS": "many"}, "ARAGORA_REDIS_MAX_CONNECTIONS", "'many'"),
    (
        {"ARAGORA_REDIS_SENTINEL_HOSTS": "s1,:26379"},
        "ARAGORA_REDIS_SENTINEL_HOSTS",
        "host is empty",
    ),
    ({"ARAGORA_REDIS_SENTINEL_HOSTS": "s1:x"}, "ARAGORA_REDIS_SENTINEL_HOSTS", "'x'"),
    ({"ARAGORA_REDIS_CLUSTER_NODES": "[::1"}, "ARAGORA_REDIS_CLUSTER_NODES", "[ipv6-address]"),
    ({"ARAGORA_REDIS_SSL": "maybe"}, "ARAGORA_REDIS_SSL", "true or false"),
    ({"ARAGORA_RATE_LIMIT_FAIL_OPEN": "2"}, "ARAGORA_RATE_LIMIT_FAIL_OPEN", "true or false"),
    ({"ARAGORA_REDIS_SSL_CERT_REQS": "strict"}, "ARAGORA_REDIS_SSL_CERT_REQS", "required"),
    ({"ARAGORA_REDIS_DB": "-1"}, "ARAGORA_REDIS_DB", "whole number"),
    ({"ARAGORA_REDIS_SHARDED": "yes please"}, "ARAGORA_REDIS_SHARDED", "true or false"),
    (
        {"ARAGORA_REDIS_SHARDED": "true", "ARAGORA_REDIS_CLUSTER_NODES": "n1"},
        "ARAGORA_REDIS_SHARDED",
        "only with standalone",
    ),
    ({"ARAGORA_SESSION_AUTH_TTL": "0"}, "ARAGORA_SESSION_AUTH_TTL", "whole number"),
    ({"ARAGORA_SESSION_AUTH_TTL": "1h"}, "ARAGORA_SESSION_AUTH_TTL", "'1h'"),
]


@pytest.mark.parametrize(("env", "variable", "expected"), BAD, ids=[str(b[0]) for b in BAD])
def test_bad_input_is_named(env: dict[str, str], variable: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        RedisSettings.from_env(env)
    message = str(err.value)
    assert variable in message
    assert err.value.variable.endswith(variable)
    assert expected in message


@pytest.mark.parametrize(
    "url",
    ["http://app:hunter2-x@h:1", "redis://app:hunter2-x@:1/0", "redis://:hunter2-x@h:1/db"],
)
def test_bad_url_message_masks_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        RedisSettings.from_env({"ARAGORA_REDIS_URL": url})
    assert "hunter2-x" not in str(err.value)
    assert "***" in str(err.value)


def test_constructor_errors_are_config_errors_too() -> None:
    with pytest.raises(ConfigError, match="ARAGORA_REDIS_MAX_CONNECTIONS"):
        RedisSettings(max_connections=0)
    with pytest.raises(ConfigError, match="ARAGORA_REDIS_MODE"):
        RedisSettings(mode="replicated")


# --- round trip: from_env(to_env(s)) == s for every valid s ----------------------------

_label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_hostname = st.lists(_label, min_size=1, max_size=3).map(".".join)
_ipv6 = st.ip_addresses(v=6).map(str)
_host = st.one_of(_hostname, st.ip_addresses(v=4).map(str), _ipv6)
_hostport = st.builds(HostPort, _host, st.integers(1, 65535))
_hostlist = st.lists(_hostport, min_size=1, max_size=4).map(tuple)
_secret = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() != "" and "\x00" not in t)
_user = st.text(string.ascii_letters + string.digits + "-_.@:", min_size=1, max_size=16)
_kind = st.text(string.ascii_lowercase + string.digits + "_", min_size=1, max_size=10)
_seconds = st.floats(min_value=0.001, max_value=3600, allow_nan=False, allow_infinity=False)


@st.composite
def valid_settings(draw: st.DrawFn) -> RedisSettings:
    mode = draw(st.sampled_from(["standalone", "sentinel", "cluster"]))
    extra: dict[str, object] = {}
    if mode == "sentinel":
        extra["sentinel_hosts"] = draw(_hostlist)
    if mode == "cluster":
        extra["cluster_nodes"] = draw(_hostlist)
    return RedisSettings(
        mode=mode,
        host=draw(_host),
        port=draw(st.integers(1, 65535)),
        db=draw(st.integers(0, 15)),
        username=draw(st.none() | _user),
        password=draw(st.none() | _secret),
        ssl=draw(st.booleans()),
        ssl_cert_reqs=draw(st.sampled_from(["required", "optional", "none"])),
        ssl_ca_certs=draw(st.none() | st.just(__file__)),
        sentinel_master=draw(st.text(string.ascii_letters + "-_", min_size=1, max_size=20)),
        sentinel_password=draw(st.none() | _secret),
        cluster_read_from_replicas=draw(st.booleans()),
        cluster_skip_full_coverage=draw(st.booleans()),
        socket_timeout=draw(_seconds),
        socket_connect_timeout=draw(_seconds),
        max_connections=draw(st.integers(1, 10000)),
        health_check_interval=draw(st.integers(0, 86400)),
        failure_threshold=draw(st.integers(1, 1000)),
        rate_limit_fail_open=draw(st.booleans()),
        sharded=mode == "standalone" and draw(st.booleans()),
        session_ttls=tuple(draw(st.dictionaries(_kind, st.integers(1, 10**8), max_size=3)).items()),
        **extra,
    )


@settings(max_examples=300)
@given(valid_settings())
def test_round_trip(s: RedisSettings) -> None:
    assert RedisSettings.from_env(s.to_env()) == s


@settings(max_examples=200)
@given(valid_settings(), _secret, _secret)
def test_masked_env_never_contains_a_password(s: RedisSettings, pw: str, spw: str) -> None:
    # The section sign never occurs in generated hosts or names, so a hit is a leak.
    pw, spw = f"\u00a7{pw}", f"\u00a7{spw}"
    s = s.replace(password=SecretStr(pw), sentinel_password=SecretStr(spw))
    text = repr(s.to_env(mask_secrets=True)) + repr(s) + str(s) + s.describe()
    assert pw not in text
    assert spw not in text
    assert "\u00a7" not in text
