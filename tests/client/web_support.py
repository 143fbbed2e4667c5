"""Real web servers for the middleware tests: Starlette under uvicorn, and aiohttp.web.

Both apps serve the same routes behind the same sign-in (header ``X-User``, put
where each framework keeps the user: ``scope["user"]`` through Starlette's
AuthenticationMiddleware, ``request[USER]`` in aiohttp) and the rate limit:

- ``/api/items`` 200, ``/api/missing`` 404 raised by the handler, ``/login`` 200,
  ``/health`` 200 (exempt), ``/ws`` a WebSocket that says ``hi`` and closes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from aiohttp import web
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from aragora_redis.aiohttp import USER, rate_limit_middleware
from aragora_redis.asgi import Limit, RateLimitMiddleware
from aragora_redis.local.ports import LOOPBACK

KINDS = ("asgi", "aiohttp")

#: Rates so slow that nothing refills during a test: every count is exact.
LIMITS = {
    "/api/*": Limit(rate=0.001, burst=5, name="api"),
    "/login": Limit(rate=0.001, burst=4, cost=2, name="login"),
    "/ws": Limit(rate=0.001, burst=2, name="ws"),
}
EXEMPT = ("/health",)


class HeaderAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        user = conn.headers.get("x-user")
        return (AuthCredentials(["authenticated"]), SimpleUser(user)) if user else None


async def _ok(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _missing(request: Request) -> Response:
    raise HTTPException(404)


async def _ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def starlette_app(limiter: Any, options: Mapping[str, Any]) -> Starlette:
    routes = [Route(p, _ok) for p in ("/api/items", "/login", "/health")]
    routes += [Route("/api/missing", _missing), WebSocketRoute("/ws", _ws)]  # type: ignore[list-item]
    middleware = [
        Middleware(AuthenticationMiddleware, backend=HeaderAuth()),
        Middleware(RateLimitMiddleware, limiter=limiter, **options),
    ]
    return Starlette(routes=routes, middleware=middleware)


def aiohttp_app(limiter: Any, options: Mapping[str, Any]) -> web.Application:
    @web.middleware
    async def sign_in(request: web.Request, handler: Any) -> web.StreamResponse:
        if user := request.headers.get("X-User"):
            request[USER] = user
        response: web.StreamResponse = await handler(request)
        return response

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound

    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket_ = web.WebSocketResponse()
        await socket_.prepare(request)
        await socket_.send_str("hi")
        await socket_.close()
        return socket_

    app = web.Application(middlewares=[sign_in, rate_limit_middleware(limiter, **options)])
    for path in ("/api/items", "/login", "/health"):
        app.router.add_get(path, ok)
    app.router.add_get("/api/missing", missing)
    app.router.add_get("/ws", ws)
    return app


def _listening() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(128)
    return sock


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """``app`` under uvicorn on a free loopback port, in this event loop."""
    sock = _listening()
    # proxy_headers off: uvicorn would otherwise rewrite scope["client"] from
    # X-Forwarded-For itself (it trusts 127.0.0.1 by default), before the middleware.
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", proxy_headers=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def serve_aiohttp(app: web.Application) -> AsyncIterator[str]:
    """``app`` on aiohttp's own server on a free loopback port."""
    sock = _listening()
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()
        sock.close()


@asynccontextmanager
async def serve(kind: str, limiter: Any, **options: Any) -> AsyncIterator[str]:
    """The test app of ``kind`` with the rate limit (``LIMITS``, ``EXEMPT`` unless given)."""
    options = {"limits": LIMITS, "exempt": EXEMPT, **options}
    if kind == "asgi":
        async with serve_asgi(starlette_app(limiter, options)) as url:
            yield url
    else:
        async with serve_aiohttp(aiohttp_app(limiter, options)) as url:
            yield url
