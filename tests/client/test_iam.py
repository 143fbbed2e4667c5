"""The IAM token provider: refresh before expiry (injected clock), thread safety, errors, no extra.

Tokens come from a real google-auth ``Credentials`` whose refresh hands out new ones.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.auth import credentials
from google.auth.exceptions import RefreshError
from redis.exceptions import AuthenticationError

from aragora_redis import ConfigError, HostPort, RedisSettings, iam
from aragora_redis._options import node_kwargs
from aragora_redis.connection import build_redis
from aragora_redis.iam import REFRESH_MARGIN, GcpIamCredentialProvider, needs_refresh

#: A fixed start (naive UTC, as google-auth keeps expiries).
T0 = datetime(2026, 11, 26, 12, 0, 0)
LIFETIME = timedelta(hours=1)


@dataclass
class Clock:
    """Naive UTC time that moves only when a test moves it."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        self.now += delta


@dataclass
class Issued:
    """Every token a :class:`TokenSource` handed out, in order."""

    tokens: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TokenSource(credentials.Credentials):
    """Credentials that, on each refresh, issue a new random token valid for an hour of ``clock``.

    ``fail_with`` makes the next refresh raise it (as the metadata server would).
    """

    def __init__(self, clock: Clock) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # google-auth
        self.clock = clock
        self.issued = Issued()
        self.fail_with: Exception | None = None

    def refresh(self, request: Any) -> None:
        """Issue the next token; ``request`` (the HTTP transport) is not needed."""
        if self.fail_with is not None:
            raise self.fail_with
        with self.issued.lock:
            self.token = f"ya29.{secrets.token_urlsafe(24)}"
            self.expiry = self.clock() + LIFETIME
            self.issued.tokens.append(self.token)

    @property
    def refreshes(self) -> int:
        """How many tokens were issued."""
        return len(self.issued.tokens)


def provider(clock: Clock | None = None) -> tuple[GcpIamCredentialProvider, TokenSource]:
    clock = clock or Clock()
    source = TokenSource(clock)
    return GcpIamCredentialProvider(source, clock=clock), source


@pytest.mark.parametrize(
    ("token", "expiry", "now", "expected"),
    [
        (None, None, T0, True),
        ("", T0 + LIFETIME, T0, True),
        ("t", None, T0, False),
        ("t", T0 + LIFETIME, T0, False),
        ("t", T0 + LIFETIME, T0 + LIFETIME - REFRESH_MARGIN - timedelta(seconds=1), False),
        ("t", T0 + LIFETIME, T0 + LIFETIME - REFRESH_MARGIN, True),
        ("t", T0 + LIFETIME, T0 + LIFETIME + timedelta(hours=2), True),
        ("t", (T0 + LIFETIME).replace(tzinfo=UTC), T0 + LIFETIME - timedelta(minutes=1), True),
    ],
)
def test_needs_refresh(
    token: str | None, expiry: datetime | None, now: datetime, expected: bool
) -> None:
    assert needs_refresh(token, expiry, now, REFRESH_MARGIN) is expected


def test_first_use_refreshes_then_the_token_is_reused() -> None:
    p, source = provider()
    first = p.get_credentials()
    assert first == ("default", source.issued.tokens[0])
    assert p.get_credentials() == first
    assert source.refreshes == 1


def test_refreshes_within_the_margin_of_expiry() -> None:
    clock = Clock()
    p, source = provider(clock)
    old = p.token()
    clock.advance(LIFETIME - REFRESH_MARGIN - timedelta(seconds=1))
    assert p.token() == old, "still more than the margin left"
    clock.advance(timedelta(seconds=1))
    new = p.token()
    assert new != old
    assert source.issued.tokens == [old, new]


def test_concurrent_connections_cause_one_refresh() -> None:
    p, source = provider()
    start = threading.Barrier(8)
    seen: list[str] = []

    def connect() -> None:
        start.wait()
        seen.append(p.token())

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert source.refreshes == 1
    assert set(seen) == {source.issued.tokens[0]}


def test_a_failed_refresh_is_an_authentication_error_without_the_token() -> None:
    clock = Clock()
    p, source = provider(clock)
    old = p.token()
    clock.advance(LIFETIME)
    source.fail_with = RefreshError("metadata server said no")  # type: ignore[no-untyped-call]
    with pytest.raises(AuthenticationError, match="metadata server said no") as caught:
        p.get_credentials()
    assert old not in str(caught.value)
    assert isinstance(caught.value.__cause__, RefreshError)


def test_credentials_without_a_token_are_refused() -> None:
    class Empty(TokenSource):
        def refresh(self, request: Any) -> None:
            self.token = None

    clock = Clock()
    p = GcpIamCredentialProvider(Empty(clock), clock=clock)
    with pytest.raises(AuthenticationError, match="no access token"):
        p.token()


def test_async_refreshes_in_a_thread_and_reuses_the_cache() -> None:
    clock = Clock()
    p, source = provider(clock)

    async def run() -> list[tuple[str, str]]:
        first = await p.get_credentials_async()
        again = await p.get_credentials_async()
        clock.advance(LIFETIME)
        later = await p.get_credentials_async()
        return [first, again, later]

    first, again, later = asyncio.run(run())
    assert first == again == ("default", source.issued.tokens[0])
    assert later == ("default", source.issued.tokens[1])
    assert source.refreshes == 2


def test_username_comes_from_the_settings() -> None:
    s = RedisSettings(auth="gcp-iam", username="app-sa")
    assert iam.provider_for(s).username == "app-sa"
    assert iam.provider_for(s) is iam.provider_for(s), "one provider per process and user"
    assert iam.provider_for(RedisSettings(auth="gcp-iam")).username == "default"


def test_gcp_iam_clients_log_in_with_the_provider_in_every_mode() -> None:
    base = {"auth": "gcp-iam", "username": "app-sa"}
    for s in (
        RedisSettings(**base),
        RedisSettings(**base, mode="cluster", cluster_nodes=(HostPort("10.0.0.1", 6379),)),
        RedisSettings(**base, mode="sentinel", sentinel_hosts=(HostPort("10.0.0.2", 26379),)),
    ):
        kwargs = node_kwargs(s)
        assert kwargs["credential_provider"] is iam.provider_for(s), s.mode
        assert "password" not in kwargs
        assert "username" not in kwargs


def test_without_google_auth_gcp_iam_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)
    iam.use(None, "no-extra")
    with pytest.raises(ConfigError, match=r"aragora-redis\[gcp\]") as caught:
        build_redis(RedisSettings(auth="gcp-iam", username="no-extra"))
    assert caught.value.variable == "ARAGORA_REDIS_AUTH"
    # Password clients never need it.
    build_redis(RedisSettings(password="pw")).close()


def test_the_package_imports_without_google_auth() -> None:
    code = (
        "import sys; sys.modules['google.auth'] = None; sys.modules['google'] = None\n"
        "import aragora_redis, aragora_redis.iam, aragora_redis.connection\n"
        "print(aragora_redis.RedisSettings(auth='gcp-iam').auth)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "gcp-iam"


def test_async_never_waits_for_a_refresh_on_the_event_loop() -> None:
    clock = Clock()
    p, source = provider(clock)
    first = p.token()
    refreshing, release = threading.Event(), threading.Event()

    class Slow(TokenSource):
        def refresh(self, request: Any) -> None:
            refreshing.set()
            release.wait(timeout=30)  # a bound, so a blocked loop fails the test instead of hanging
            super().refresh(request)

    slow = Slow(clock)
    slow.token, slow.expiry = source.token, source.expiry
    p = GcpIamCredentialProvider(slow, clock=clock)
    clock.advance(LIFETIME)
    worker = threading.Thread(target=p.token)
    worker.start()
    refreshing.wait()

    async def run() -> tuple[str, str]:
        pending = asyncio.ensure_future(p.get_credentials_async())
        # The loop stays free while the other thread's refresh holds the lock.
        await asyncio.sleep(0)
        assert not pending.done()
        release.set()
        return await pending

    username, token = asyncio.run(run())
    worker.join()
    assert (username, token) == ("default", slow.issued.tokens[0])
    assert token != first
    assert slow.refreshes == 1
