"""The I/O-free decisions of the web middlewares: limits by path, the caller, the fields."""

from __future__ import annotations

import json

import pytest

from aragora_redis import ConfigError
from aragora_redis._bucket import Decision
from aragora_redis._httplimit import (
    HttpLimits,
    Limit,
    Policy,
    bucket,
    caller_key,
    denied,
    headers,
    identity,
    unavailable,
)
from aragora_redis.asgi import _Encoded

API = Limit(rate=5, burst=20)
LOGIN = Limit(rate=0.1, burst=3, name="login")


def limits(default: Limit | None = None, trusted_proxies: tuple[str, ...] = ()) -> HttpLimits:
    rules = {"/api/*": API, "/api/admin/*": Limit(1, 2), "/login": LOGIN}
    exempt = ["/api/health", "/static/*"]
    return HttpLimits(rules, default=default, exempt=exempt, trusted_proxies=trusted_proxies)


def test_exact_paths_beat_prefixes_and_the_longest_prefix_wins() -> None:
    rules = limits(default=Limit(100, 100))
    assert rules.match("/login").name == "login"  # type: ignore[union-attr]
    assert rules.match("/login/x").name == "default"  # type: ignore[union-attr]
    assert rules.match("/api/users").name == "/api/*"  # type: ignore[union-attr]
    assert rules.match("/api/admin/x").name == "/api/admin/*"  # type: ignore[union-attr]
    assert rules.match("/other").name == "default"  # type: ignore[union-attr]


def test_exempt_paths_and_unmatched_paths_without_a_default_are_not_limited() -> None:
    rules = limits()
    assert rules.match("/api/health") is None
    assert rules.match("/static/app.js") is None
    assert rules.match("/other") is None
    assert rules.match("/api/healthz") is not None


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (lambda: Limit(rate=0, burst=1), "rate"),
        (lambda: Limit(rate=1, burst=1, cost=2), "cost"),
        (lambda: Limit(rate=1, burst=1, name="caf\u00e9"), "name"),
        (lambda: HttpLimits({"api/*": API}), "path"),
        (lambda: HttpLimits(trusted_proxies=["10.0.0.300"]), "trusted_proxies"),
    ],
)
def test_bad_configuration_names_the_setting(bad: object, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        bad()  # type: ignore[operator]
    assert err.value.variable == field


def test_policy_field_is_in_requests_of_the_limit_cost() -> None:
    assert Policy.of(API, "x").field == '"x";q=20;w=4'
    assert Policy.of(LOGIN, "/login").field == '"login";q=3;w=30'
    assert Policy.of(Limit(rate=2, burst=10, cost=2), "/up").field == '"/up";q=5;w=5'
    assert Policy.of(Limit(rate=100, burst=10), 'a"b\\').field == '"a\\"b\\\\";q=10;w=1'


def test_allowed_fields_count_requests_left_and_seconds_until_full() -> None:
    policy = Policy.of(Limit(rate=2, burst=10, cost=2), "/up")
    got = dict(headers(policy, Decision(True, 6.0, 0.0, "redis")))
    assert got == {"RateLimit-Policy": '"/up";q=5;w=5', "RateLimit": '"/up";r=3;t=2'}
    full = dict(headers(policy, Decision(True, 10.0, 0.0, "fallback")))
    assert full["RateLimit"] == '"/up";r=5;t=0'


@pytest.mark.parametrize("remaining", [10.0, 8.0, 7.999, 6.0, 3.5, 0.0])
def test_the_asgi_fields_of_an_allowed_request_are_the_headers_encoded(remaining: float) -> None:
    policy = Policy.of(Limit(rate=2, burst=10, cost=2), "/up")
    decision = Decision(True, remaining, 0.0, "redis")
    want = [(k.lower().encode(), v.encode()) for k, v in headers(policy, decision)]
    encoded = _Encoded(policy)
    assert list(encoded.allowed(decision)) == want
    assert list(encoded.allowed(decision)) == want  # the second time from the cache


def test_a_denial_has_retry_after_equal_to_t_rounded_up() -> None:
    policy = Policy.of(LOGIN, "/login")
    got = dict(headers(policy, Decision(False, 0.25, 7.5, "redis")))
    assert got["RateLimit"] == '"login";r=0;t=8'
    assert got["Retry-After"] == "8"
    tiny = dict(headers(policy, Decision(False, 0.999, 0.01, "redis")))
    assert tiny["Retry-After"] == "1"


def test_denied_and_unavailable_replies() -> None:
    policy = Policy.of(LOGIN, "/login")
    reply = denied(policy, Decision(False, 0.0, 10.0, "redis"))
    assert reply.status == 429
    assert ("Retry-After", "10") in reply.headers
    assert ("Content-Type", "application/problem+json") in reply.headers
    body = json.loads(reply.body)
    assert body["violated-policies"] == ["login"]
    assert body["retry_after"] == 10
    down = unavailable(policy, 3)
    assert down.status == 503
    assert dict(down.headers) == {
        "RateLimit-Policy": '"login";q=3;w=30',
        "Retry-After": "3",
        "Content-Type": "application/problem+json",
    }


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy() -> None:
    rules = limits(trusted_proxies=("10.0.0.0/8", "::1"))
    assert rules.client_address("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"
    assert rules.client_address("10.1.2.3", ["198.51.100.1"]) == "198.51.100.1"
    assert rules.client_address("::1", ["2001:db8::1"]) == "2001:db8::1"
    assert rules.client_address("::ffff:10.0.0.1", ["198.51.100.1"]) == "198.51.100.1"
    assert rules.client_address("10.1.2.3", []) == "10.1.2.3"


def test_forwarded_for_is_walked_from_the_right_so_a_forged_entry_is_never_reached() -> None:
    rules = limits(trusted_proxies=("10.0.0.0/8",))
    # The client wrote "1.1.1.1"; the first proxy appended the real peer 198.51.100.7.
    forged = ["1.1.1.1, 198.51.100.7", "10.0.0.5"]
    assert rules.client_address("10.0.0.9", forged) == "198.51.100.7"
    assert rules.client_address("10.0.0.9", ["10.0.0.2, 10.0.0.3"]) == "10.0.0.2"
    assert rules.client_address("10.0.0.9", ["198.51.100.7:4711"]) == "198.51.100.7"
    assert rules.client_address("10.0.0.9", ["[2001:db8::7]:443"]) == "2001:db8::7"
    assert rules.client_address("10.0.0.9", ["1.1.1.1, unknown"]) == "unknown"


def test_without_trusted_proxies_forwarded_for_is_ignored() -> None:
    rules = limits()
    assert not rules.trusts("127.0.0.1")
    assert rules.client_address("127.0.0.1", ["1.1.1.1"]) == "127.0.0.1"
    assert rules.client_address(None) == "unknown"


class StarletteLikeUser:
    def __init__(self, name: str, authenticated: bool = True) -> None:
        self.display_name = name
        self.is_authenticated = authenticated

    @property
    def identity(self) -> str:
        raise NotImplementedError


def test_identity_reads_strings_and_starlette_like_users() -> None:
    assert identity("alice") == "alice"
    assert identity("") is None
    assert identity(None) is None
    assert identity(StarletteLikeUser("bob")) == "bob"
    assert identity(StarletteLikeUser("", authenticated=False)) is None
    assert caller_key("alice", "1.2.3.4") == "user:alice"
    assert caller_key(None, "1.2.3.4") == "ip:1.2.3.4"


def test_bucket_ids_are_valid_redis_key_parts_and_distinct() -> None:
    policy = Policy.of(API, "/api/*")
    assert bucket(policy, "user:a{b}") == "/api/*:user:a%7Bb%7D"
    assert bucket(policy, "user:a%7Bb%7D") != bucket(policy, "user:a{b}")
    assert "\n" not in bucket(policy, "user:x\ny")
