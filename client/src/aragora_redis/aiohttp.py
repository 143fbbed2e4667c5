"""Rate limiting for aiohttp.web (``pip install "aragora-redis[aiohttp]"``).

::

    app = web.Application(middlewares=[
        rate_limit_middleware(
            lambda: app[STORES].rate_limiter,   # an AsyncRateLimiter, or a callable
            limits={"/login": Limit(rate=0.2, burst=5), "/api/*": Limit(rate=10, burst=50)},
            exempt=["/health"],
            trusted_proxies=["10.0.0.0/8"],
        )
    ])

The same decisions as :class:`aragora_redis.asgi.RateLimitMiddleware`: one check of
the existing limiter per request; the caller is the signed-in user the app stored
as ``request[USER]`` (aiohttp 3.14+ warns about plain string keys; ``request["user"]``
is read too) by a middleware listed before this one, else the address
of the connection's peer, read from ``X-Forwarded-For`` only when the peer is one
of ``trusted_proxies``; 429 with ``Retry-After`` when denied, 503 when Redis is
gone and the limiter is fail-closed; ``RateLimit-Policy`` and ``RateLimit`` on
every limited response, including the app's ``HTTPException`` answers.

A WebSocket handshake reaches the middleware before its handler, so it is limited
like any request and refused with a plain 429 / 503. A response the handler has
already sent (``prepare``: WebSocket, streaming) gets no fields: its headers are
gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from . import _httplimit as core
from ._httpcheck import LimiterSource, check, resolve
from ._httplimit import HttpLimits, Limit

__all__ = ["USER", "Limit", "default_key", "rate_limit_middleware"]

#: Where the app puts the signed-in user (a string, or an object with ``identity``):
#: a ``web.RequestKey`` where aiohttp has them (3.14+), else the string ``"user"``.
USER: Any = web.RequestKey("user", object) if hasattr(web, "RequestKey") else "user"


def default_key(limits: HttpLimits, request: web.Request) -> str:
    """``user:<id>`` from ``request[USER]``, else ``ip:<client address>``."""
    user = core.identity(request.get(USER) or request.get("user"))
    if user:
        return core.caller_key(user, "")
    peername = request.transport.get_extra_info("peername") if request.transport else None
    peer = peername[0] if isinstance(peername, tuple) and peername else request.remote
    forwarded = request.headers.getall(hdrs.X_FORWARDED_FOR, []) if limits.trusts(peer) else []
    return core.caller_key(None, limits.client_address(peer, forwarded))


def rate_limit_middleware(
    limiter: LimiterSource,
    *,
    limits: Mapping[str, Limit] | None = None,
    default: Limit | None = None,
    exempt: Iterable[str] = (),
    trusted_proxies: Iterable[str] = (),
    key: Callable[[web.Request], str] | None = None,
    unavailable_retry_after: int = core.UNAVAILABLE_RETRY_AFTER,
) -> Middleware:
    """An aiohttp middleware limiting requests per caller and path pattern.

    The arguments are those of :class:`aragora_redis.asgi.RateLimitMiddleware`;
    ``key`` takes the request.
    """
    rules = HttpLimits(limits, default=default, exempt=exempt, trusted_proxies=trusted_proxies)
    get_limiter = resolve(limiter)

    def caller(request: web.Request) -> str:
        return key(request) if key is not None else default_key(rules, request)

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        policy = rules.match(request.path)
        if policy is None:
            return await handler(request)
        got = await check(get_limiter(), policy, caller(request), unavailable_retry_after)
        if isinstance(got, core.Reply):
            return web.Response(status=got.status, body=got.body, headers=got.headers)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.extend(got)
            raise
        if not response.prepared:
            response.headers.extend(got)
        return response

    return rate_limit
