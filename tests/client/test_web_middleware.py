"""The ASGI and aiohttp middlewares on real servers, real Redis and real HTTP (httpx).

Each test runs twice: Starlette under uvicorn, and aiohttp's own server. The
limits are so slow (0.001 token/s) that nothing refills during a test, so every
count below is exact and no assertion depends on timing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect

from aragora_redis._parse import text
from aragora_redis.asgi import Limit
from aragora_redis.local import LocalStack
from aragora_redis.ratelimit import AsyncRateLimiter
from tests.client import ratelimit_support as rs
from tests.client.web_support import KINDS, serve, serve_asgi, starlette_app

each_server = pytest.mark.parametrize("kind", KINDS)


def user() -> dict[str, str]:
    return {"X-User": uuid.uuid4().hex}


def client(source: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(transport=transport, trust_env=False, timeout=30)


def fields(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    h = response.headers
    return h.get("RateLimit-Policy"), h.get("RateLimit"), h.get("Retry-After")


def remaining(response: httpx.Response) -> int:
    _, field, _ = fields(response)
    assert field is not None
    return int(field.split(";r=")[1].split(";")[0])


def reset(response: httpx.Response) -> int:
    _, field, _ = fields(response)
    assert field is not None
    return int(field.split(";t=")[1])


@asynccontextmanager
async def signed_in(
    kind: str, limiter: AsyncRateLimiter
) -> AsyncIterator[Callable[[str], Awaitable[httpx.Response]]]:
    """GET on the test app of ``kind``, always as the same new signed-in user."""
    me = user()
    async with serve(kind, limiter) as url, client() as http:
        yield lambda path: http.get(f"{url}{path}", headers=me)


@pytest.fixture
async def limiter(standalone: LocalStack) -> AsyncIterator[AsyncRateLimiter]:
    admin = standalone.client("redis-0")
    stale = admin.keys("aragora:ratelimit:http:*")
    if stale:  # buckets of addresses an earlier test filled
        admin.delete(*stale)
    admin.close()
    got = AsyncRateLimiter.from_settings(standalone.settings, timeout=rs.CALM)
    yield got
    await got.aclose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalStack]:
    with rs.throwaway_redis(tmp_path) as stack:
        yield stack


@each_server
async def test_the_bucket_holds_and_429_comes_exactly_when_it_is_empty(
    kind: str, limiter: AsyncRateLimiter
) -> None:
    async with signed_in(kind, limiter) as get:
        got = [await get("/api/items") for _ in range(8)]
    assert [r.status_code for r in got] == [200] * 5 + [429] * 3
    assert {fields(r)[0] for r in got} == {'"api";q=5;w=5000'}
    assert [remaining(r) for r in got] == [4, 3, 2, 1, 0, 0, 0, 0]
    assert all(0 < reset(r) <= 5000 for r in got)
    assert all(fields(r)[2] is None for r in got[:5])
    for denied in got[5:]:
        assert denied.headers["Retry-After"] == str(reset(denied))
        assert int(denied.headers["Retry-After"]) >= 1
        assert denied.headers["Content-Type"] == "application/problem+json"
        assert denied.json()["violated-policies"] == ["api"]


@each_server
async def test_fifty_concurrent_requests_get_exactly_the_burst(
    kind: str, limiter: AsyncRateLimiter
) -> None:
    async with signed_in(kind, limiter) as get:
        got = await asyncio.gather(*(get("/api/items") for _ in range(50)))
    assert sorted(r.status_code for r in got) == [200] * 5 + [429] * 45
    assert sorted(remaining(r) for r in got if r.status_code == 200) == [0, 1, 2, 3, 4]


@each_server
async def test_cost_exempt_paths_unlimited_paths_and_app_errors(
    kind: str, limiter: AsyncRateLimiter
) -> None:
    async with signed_in(kind, limiter) as get:
        login = [await get("/login") for _ in range(3)]
        health = [await get("/health") for _ in range(20)]
        missing = await get("/api/missing")
        elsewhere = await get("/nowhere")
    # Cost 2 of a burst of 4: two requests, counted in requests.
    assert [r.status_code for r in login] == [200, 200, 429]
    assert [fields(r)[0] for r in login] == ['"login";q=2;w=4000'] * 3
    assert [remaining(r) for r in login] == [1, 0, 0]
    assert all(r.status_code == 200 and fields(r) == (None, None, None) for r in health)
    assert missing.status_code == 404
    assert remaining(missing) == 4
    assert elsewhere.status_code == 404
    assert fields(elsewhere) == (None, None, None)


@each_server
async def test_the_caller_is_the_signed_in_user_else_the_address(
    kind: str, limiter: AsyncRateLimiter, standalone: LocalStack
) -> None:
    me = user()
    async with serve(kind, limiter) as url, client() as http:
        anonymous = [await http.get(f"{url}/api/items") for _ in range(6)]
        signed_in = await http.get(f"{url}/api/items", headers=me)
    assert [r.status_code for r in anonymous] == [200] * 5 + [429]
    assert signed_in.status_code == 200
    admin = standalone.client("redis-0")
    assert admin.exists("aragora:ratelimit:http:{api:ip:127.0.0.1}")
    assert admin.exists(f"aragora:ratelimit:http:{{api:user:{me['X-User']}}}")
    admin.close()


@each_server
async def test_forwarded_for_cannot_be_spoofed(
    kind: str, limiter: AsyncRateLimiter, standalone: LocalStack
) -> None:
    # 127.0.0.2 plays the trusted proxy; 127.0.0.1 is a client talking directly.
    async with (
        serve(kind, limiter, trusted_proxies=["127.0.0.2"]) as url,
        client() as direct,
        client("127.0.0.2") as proxy,
    ):
        forged = [
            await direct.get(f"{url}/api/items", headers={"X-Forwarded-For": f"203.0.113.{i}"})
            for i in range(6)
        ]
        # The client forges the left part; the proxy appends the address it saw.
        relayed = [
            await proxy.get(
                f"{url}/api/items", headers={"X-Forwarded-For": f"203.0.113.{i}, 198.51.100.7"}
            )
            for i in range(6)
        ]
        other = await proxy.get(f"{url}/api/items", headers={"X-Forwarded-For": "198.51.100.8"})
    assert [r.status_code for r in forged] == [200] * 5 + [429]
    assert [r.status_code for r in relayed] == [200] * 5 + [429]
    assert other.status_code == 200
    admin = standalone.client("redis-0")
    buckets = {text(k).split("{")[1] for k in admin.keys("aragora:ratelimit:http:*")}
    assert buckets == {"api:ip:127.0.0.1}", "api:ip:198.51.100.7}", "api:ip:198.51.100.8}"}
    admin.close()


@each_server
async def test_websocket_handshakes_are_limited(kind: str, limiter: AsyncRateLimiter) -> None:
    me = user()
    async with serve(kind, limiter) as url:
        uri = url.replace("http://", "ws://") + "/ws"
        for left in (1, 0):
            async with ws_connect(uri, additional_headers=me, proxy=None) as ws:
                assert await ws.recv() == "hi"
                assert ws.response is not None
                if kind == "asgi":  # aiohttp sends the handshake from the handler
                    assert ws.response.headers["RateLimit"].startswith(f'"ws";r={left};')
        with pytest.raises(websockets.InvalidStatus) as refused:
            await ws_connect(uri, additional_headers=me, proxy=None)
    assert refused.value.response.status_code == 429
    assert int(refused.value.response.headers["Retry-After"]) >= 1
    assert json.loads(refused.value.response.body or b"{}")["violated-policies"] == ["ws"]


async def test_without_the_denial_extension_an_asgi_websocket_is_refused_with_403(
    limiter: AsyncRateLimiter,
) -> None:
    app = starlette_app(limiter, {"limits": {"/ws": Limit(rate=0.001, burst=1)}})

    async def without_extensions(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "extensions": {}}, receive, send)

    me = user()
    async with serve_asgi(without_extensions) as url:
        uri = url.replace("http://", "ws://") + "/ws"
        async with ws_connect(uri, additional_headers=me, proxy=None) as ws:
            assert await ws.recv() == "hi"
        with pytest.raises(websockets.InvalidStatus) as refused:
            await ws_connect(uri, additional_headers=me, proxy=None)
    assert refused.value.response.status_code == 403


async def redis_killed(kind: str, stack: LocalStack, *, fail_open: bool) -> list[httpx.Response]:
    """One request with Redis up, then Redis killed: 7 to the API and one to /health."""
    limiter = AsyncRateLimiter.from_settings(rs.policy(stack, fail_open=fail_open), timeout=rs.CALM)
    me = user()
    async with serve(kind, limiter) as url, client() as http:
        assert (await http.get(f"{url}/api/items", headers=me)).status_code == 200
        stack.kill("redis-0")
        got = [await http.get(f"{url}/api/items", headers=me) for _ in range(7)]
        got.append(await http.get(f"{url}/health"))
    await limiter.aclose()
    return got


@each_server
async def test_redis_gone_fail_open_decides_from_memory(kind: str, own_redis: LocalStack) -> None:
    *got, health = await redis_killed(kind, own_redis, fail_open=True)
    # Memory starts the bucket afresh: five more, then 429, never an error.
    assert [r.status_code for r in got] == [200] * 5 + [429] * 2
    assert [remaining(r) for r in got] == [4, 3, 2, 1, 0, 0, 0]
    assert got[-1].headers["Retry-After"] == str(reset(got[-1]))
    assert health.status_code == 200


@each_server
async def test_redis_gone_fail_closed_answers_503(kind: str, own_redis: LocalStack) -> None:
    # Past the breaker's threshold (3) too: then the limiter does not even ask.
    *got, health = await redis_killed(kind, own_redis, fail_open=False)
    assert [r.status_code for r in got] == [503] * 7
    for r in got:
        assert fields(r) == ('"api";q=5;w=5000', None, "1")
        assert r.json()["status"] == 503
    assert health.status_code == 200
