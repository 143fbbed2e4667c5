"""Rate limiting for any ASGI app (Starlette, FastAPI, Quart, ...), with no framework needed.

::

    app.add_middleware(
        RateLimitMiddleware,
        limiter=lambda: app.state.stores.rate_limiter,   # an AsyncRateLimiter, or a callable
        limits={"/login": Limit(rate=0.2, burst=5), "/api/*": Limit(rate=10, burst=50)},
        exempt=["/health"],
        trusted_proxies=["10.0.0.0/8"],
    )

Every limited request is one check of the existing :class:`~aragora_redis.ratelimit.
AsyncRateLimiter` (concurrent checks share a round trip). The caller is, by default,
the signed-in user the app put in ``scope["user"]`` (a string, or an object like
Starlette's ``request.user``; so the authentication middleware must run before this
one, i.e. be added after it), else the client address of ``scope["client"]``, read
from ``X-Forwarded-For`` only when the direct peer is one of ``trusted_proxies``.

- allowed: the app's response gets ``RateLimit-Policy`` and ``RateLimit``
  (draft-ietf-httpapi-ratelimit-headers-10);
- denied: 429 with ``Retry-After``, the same fields and a problem+json body;
- Redis gone: a fail-open limiter decides from memory (same answers as above), a
  fail-closed one raises :class:`~aragora_redis.RateLimiterUnavailable`, answered as
  503 with ``Retry-After``.

WebSocket handshakes are limited like requests. Allowed, the fields go on the
``websocket.accept`` message. Denied, where the server offers the
``websocket.http.response`` extension (uvicorn does) the client gets the same 429 or
503 response; elsewhere the handshake is closed before it is accepted, which the
server answers with 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from . import _httplimit as core
from ._bucket import Decision
from ._httpcheck import AsyncLimiter, LimiterSource, decide, resolve
from ._httplimit import HttpLimits, Limit

__all__ = ["AsyncLimiter", "Limit", "RateLimitMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Fields = tuple[tuple[bytes, bytes], ...]

#: The most (``r``, ``t``) pairs of one policy kept encoded.
_MAX_ENCODED = 1024
_NAMES: dict[str, bytes] = {}


def _encode(fields: list[core.Header]) -> list[tuple[bytes, bytes]]:
    names = _NAMES
    return [
        (names.get(k) or names.setdefault(k, k.lower().encode("latin-1")), v.encode("latin-1"))
        for k, v in fields
    ]


class _Encoded:
    """One policy's fields on an allowed response, as ASGI wants them (bytes), each made once.

    An allowed request's fields depend only on the policy and two small integers,
    which repeat; building and encoding them was a measurable part of a request.
    """

    __slots__ = ("_made", "_policy", "_policy_field", "_prefix")

    def __init__(self, policy: core.Policy) -> None:
        self._policy = policy
        self._policy_field = (b"ratelimit-policy", policy.field.encode("latin-1"))
        self._prefix = f"{policy.quoted};r="
        self._made: dict[tuple[int, int], Fields] = {}

    def allowed(self, decision: Decision) -> Fields:
        """``RateLimit-Policy`` and ``RateLimit``: :func:`core.headers` of an allowed request."""
        key = (core.left(self._policy, decision), core.full_in(self._policy, decision))
        fields = self._made.get(key)
        if fields is None:
            if len(self._made) >= _MAX_ENCODED:
                self._made.clear()
            value = f"{self._prefix}{key[0]};t={key[1]}".encode("latin-1")
            fields = self._made[key] = (self._policy_field, (b"ratelimit", value))
        return fields


class RateLimitMiddleware:
    """Pure ASGI middleware: token buckets per caller and per path pattern.

    ``limiter`` is an :class:`~aragora_redis.ratelimit.AsyncRateLimiter` or a
    callable returning one (called per request). ``limits``, ``default``,
    ``exempt`` and ``trusted_proxies`` are those of :class:`HttpLimits`. ``key``,
    when given, names the caller from the scope instead of the default.
    ``unavailable_retry_after`` is the ``Retry-After`` of a 503.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: LimiterSource,
        *,
        limits: Mapping[str, Limit] | None = None,
        default: Limit | None = None,
        exempt: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
        key: Callable[[Scope], str] | None = None,
        unavailable_retry_after: int = core.UNAVAILABLE_RETRY_AFTER,
    ) -> None:
        self.app = app
        self.limits = HttpLimits(
            limits, default=default, exempt=exempt, trusted_proxies=trusted_proxies
        )
        self._limiter = resolve(limiter)
        self._key = key or self.default_key
        self._retry_after = unavailable_retry_after
        self._encoded: dict[core.Policy, _Encoded] = {}

    def default_key(self, scope: Scope) -> str:
        """``user:<id>`` from ``scope["user"]``, else ``ip:<client address>``."""
        user = scope.get("user")
        if user is not None and (name := core.identity(user)):
            return core.caller_key(name, "")
        client = scope.get("client")
        peer = client[0] if client else None
        if not self.limits.trusts(peer):
            return core.peer_key(peer)
        forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        return core.caller_key(None, self.limits.client_address(peer, forwarded))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request (HTTP or WebSocket handshake), then pass it on or refuse it."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        policy = self.limits.match(scope["path"])
        if policy is None:
            await self.app(scope, receive, send)
            return
        got = await decide(self._limiter(), policy, self._key(scope), self._retry_after)
        if isinstance(got, core.Reply):
            await _refuse(scope, receive, send, got)
            return
        encoded = self._encoded.get(policy)
        if encoded is None:  # once per policy: the policies are fixed at construction
            encoded = self._encoded[policy] = _Encoded(policy)
        extra = encoded.allowed(got)

        async def send_with_fields(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                # A new list: the app's may be shared between its responses.
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_fields)


async def _refuse(scope: Scope, receive: Receive, send: Send, reply: core.Reply) -> None:
    fields = _encode(reply.headers)
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": reply.status, "headers": fields})
        await send({"type": "http.response.body", "body": reply.body})
        return
    if (await receive())["type"] != "websocket.connect":
        return  # the client left before its handshake was answered
    if "websocket.http.response" in (scope.get("extensions") or {}):
        start = {"type": "websocket.http.response.start", "status": reply.status}
        await send({**start, "headers": fields})
        await send({"type": "websocket.http.response.body", "body": reply.body})
    else:
        await send({"type": "websocket.close", "code": 1008})
