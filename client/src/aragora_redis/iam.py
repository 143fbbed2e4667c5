"""Google Cloud IAM access tokens as Redis credentials (``ARAGORA_REDIS_AUTH=gcp-iam``).

Memorystore for Redis Cluster and Memorystore for Valkey with IAM auth have no
AUTH string: a client sends ``AUTH default <access token>`` on every new
connection. Tokens expire (one hour after they are issued, by default); a
connection that logged in stays logged in after its token expires, but a new
one needs a valid token. :class:`GcpIamCredentialProvider` is a redis-py
``CredentialProvider`` that hands out the current token and refreshes it a few
minutes before it expires, so a connection opened at any moment gets a token
that is still valid.

google-auth is the optional extra ``aragora-redis[gcp]``: this module imports
without it, and asking for a provider without it raises :class:`ConfigError`.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from redis.credentials import CredentialProvider
from redis.exceptions import AuthenticationError

from .errors import ConfigError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from .settings import RedisSettings

#: What the token must allow; Memorystore checks the IAM role, not the scope.
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
#: Memorystore's IAM auth logs every principal in as the default user.
USERNAME = "default"
#: Refresh this long before expiry, so a token handed out is good for at least as long.
REFRESH_MARGIN = timedelta(minutes=5)
EXTRA = "aragora-redis[gcp]"

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current UTC time, naive, as google-auth writes ``Credentials.expiry``."""
    return datetime.now(UTC).replace(tzinfo=None)


def needs_refresh(
    token: str | None, expiry: datetime | None, now: datetime, margin: timedelta
) -> bool:
    """Whether a token must be refreshed before it is handed out (I/O-free).

    No token: yes. No known expiry: no (the credentials never expire). Else yes
    once ``now`` is within ``margin`` of ``expiry``.
    """
    if not token:
        return True
    if expiry is None:
        return False
    return now >= _naive_utc(expiry) - margin


class GcpIamCredentialProvider(CredentialProvider):
    """``(username, access token)`` for each new Redis connection; thread-safe.

    ``credentials`` default to Application Default Credentials
    (``google.auth.default``), looked up on first use. ``clock`` returns naive
    UTC time (tests inject one). The token is cached and refreshed under a lock,
    so concurrent connections cause one refresh, not one each.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        username: str = USERNAME,
        refresh_margin: timedelta = REFRESH_MARGIN,
        clock: Clock = utcnow,
    ) -> None:
        # Checked now, so a missing extra fails when the client is built, not at first use.
        _google_auth()
        _import("google.auth.transport.requests")
        self.username = username
        self._credentials = credentials
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._request: Any = None

    def get_credentials(self) -> tuple[str, str]:
        """The username and a token valid for at least the refresh margin."""
        return self.username, self.token()

    async def get_credentials_async(self) -> tuple[str, str]:
        """The asyncio twin: a refresh (HTTP to Google) runs in a worker thread."""
        cached = self._cached()
        if cached is not None:
            return self.username, cached
        return self.username, await asyncio.to_thread(self.token)

    def token(self) -> str:
        """The current access token, refreshed first when it is missing or about to expire.

        Raises redis-py's :class:`AuthenticationError` (the google-auth error as
        ``__cause__``) when no token can be had; the token never appears in a message.
        """
        with self._lock:
            try:
                credentials = self._loaded()
                if self._stale(credentials):
                    credentials.refresh(self._transport())  # type: ignore[no-untyped-call]  # google-auth
            except _import("google.auth.exceptions").GoogleAuthError as exc:
                raise AuthenticationError(f"no Google Cloud IAM access token: {exc}") from exc
            token = credentials.token
            if not token:
                raise AuthenticationError("the Google Cloud credentials gave no access token")
            return str(token)

    def _cached(self) -> str | None:
        # Never wait for the lock on the event loop: a refresh holding it may take a while.
        if not self._lock.acquire(blocking=False):
            return None
        try:
            c = self._credentials
            return None if c is None or self._stale(c) else str(c.token)
        finally:
            self._lock.release()

    def _stale(self, c: Credentials) -> bool:
        return needs_refresh(c.token, c.expiry, self._clock(), self._margin)

    def _loaded(self) -> Credentials:
        if self._credentials is None:
            credentials, _project = _google_auth().default(scopes=list(SCOPES))
            self._credentials = credentials
        return self._credentials

    def _transport(self) -> Any:
        if self._request is None:
            self._request = _import("google.auth.transport.requests").Request()
        return self._request


_providers: dict[str, GcpIamCredentialProvider] = {}
_providers_lock = threading.Lock()


def provider_for(settings: RedisSettings) -> GcpIamCredentialProvider:
    """The process-wide provider for ``settings`` (its username, else ``default``).

    One per username, so every client of the process shares one token and one
    refresh. :func:`use` replaces it, e.g. with impersonated credentials.
    """
    username = settings.username or USERNAME
    with _providers_lock:
        if username not in _providers:
            _providers[username] = GcpIamCredentialProvider(username=username)
        return _providers[username]


def use(provider: GcpIamCredentialProvider | None, username: str = USERNAME) -> None:
    """Make ``provider`` the one :func:`provider_for` returns for ``username``.

    ``None`` forgets it: the next client gets a fresh default provider.
    """
    with _providers_lock:
        if provider is None:
            _providers.pop(username, None)
        else:
            _providers[username] = provider


def _google_auth() -> Any:
    return _import("google.auth")


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            "ARAGORA_REDIS_AUTH",
            f"is gcp-iam but {module} cannot be imported ({exc}); expected {EXTRA} installed",
        ) from None


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
