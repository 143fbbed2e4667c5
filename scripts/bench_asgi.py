"""``make bench``'s web row: a minimal ASGI app under uvicorn, without and with the middleware.

Eight uvicorn processes serve the same three-line ASGI app: bare; wrapped in
:class:`aragora_redis.asgi.RateLimitMiddleware` (every request checked on the bench's
redis-server, never denied: the limit is far above the load); wrapped with an
in-memory limiter, which splits the cost into the middleware's own and Redis's; wrapped
with a limiter that allows at once (the middleware's own code alone, the least any
limiter behind it costs, one handing out tokens taken in advance included); wrapped
in the floor, a layer that only adds the two header fields every response must carry (what
any middleware meeting the issue costs at the least); and wrapped in the bound of an
awaited check, the floor plus one check per request through the limiter's own coalescer
(a future, answered by a shared batch a loop turn later) with a Redis that answers at once
and no bucket (what any middleware that awaits a shared Redis
round trip for every request costs at the least, were Redis and the check free); and wrapped
in the bound of a round trip, that bound with the round trip made: one PING on the bench's
redis-server for each batch (what any middleware that asks Redis for every request costs
at the least); and bare again, in a process of its own (the same app in two processes can
differ by several per cent, so that row's "overhead" is the run's own noise). This
process drives them with ``--inflight`` keep-alive HTTP/1.1 connections (a small asyncio
client: httpx would spend more CPU than the servers and hide their difference),
alternating between them over the rounds so a noisy neighbour slows all alike. Overhead is the
share of the plain app's throughput the middleware costs.

Each server configuration of :data:`SERVERS` is measured on its own: uvicorn's pure-Python
one (h11, asyncio's loop: ``pip install uvicorn``) and the one ``uvicorn[standard]``
(and so ``fastapi[standard]``) installs and uvicorn then picks by itself (httptools,
uvloop). The faster the server, the larger the middleware's share of a request.

The module is also what uvicorn imports: the apps of :data:`APPS` (``limited_app`` finds
the Redis port in ``ARAGORA_BENCH_REDIS_PORT``).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.asyncio.connection import Connection
from rich.table import Table

from aragora_redis import RedisSettings
from aragora_redis._bucket import Decision, MemoryBuckets, Prepared, prepare
from aragora_redis._coalesce import Coalescer
from aragora_redis.asgi import Limit, RateLimitMiddleware
from aragora_redis.local.ports import LOOPBACK, pick_free_ports
from aragora_redis.ratelimit import AsyncRateLimiter

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PORT_VARIABLE = "ARAGORA_BENCH_REDIS_PORT"
REQUEST = b"GET /items HTTP/1.1\r\nHost: bench\r\n\r\n"
LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
LIMITED = "with RateLimitMiddleware"
ROUND_TRIP = "bound of a round trip: the floor and one awaited shared PING"
#: The plain app again, in a process of its own: its "overhead" is the run's own noise.
NOISE = "plain app, a second process: this run's noise"
#: Each subject's row name, and the app of this module uvicorn serves for it.
APPS = {
    "plain app": "plain_app",
    LIMITED: "limited_app",
    "middleware, limiter in memory": "memory_app",
    "middleware, a limiter that answers at once": "instant_app",
    "floor: the two fields, no limiter": "floor_app",
    "bound: the floor and one awaited shared check, Redis free": "awaited_app",
    ROUND_TRIP: "pinged_app",
    NOISE: "plain_app",
}
SUBJECTS = tuple(APPS)
#: The subjects whose CPU includes the bench's redis-server's.
ON_REDIS = (LIMITED, ROUND_TRIP)
#: The most the middleware may cost, as a share of the plain app's throughput.
MAX_OVERHEAD = 10.0
#: uvicorn's HTTP parser and event loop, named as the bench prints them. Explicit, so
#: which one runs does not depend on what happens to be installed.
SERVERS: dict[str, list[str]] = {
    "h11": ["--http", "h11", "--loop", "asyncio"],
    "standard": ["--http", "httptools", "--loop", "uvloop"],
}
#: How the tables name them.
SERVER_NAMES = {
    "h11": "h11, asyncio loop",
    "standard": "httptools, uvloop: uvicorn's standard extra",
}


async def plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The smallest useful HTTP app: 200 and two bytes."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


_limiter: list[AsyncRateLimiter] = []


def _bench_limiter() -> AsyncRateLimiter:
    # Made on the first request, in uvicorn's event loop.
    if not _limiter:
        port = int(os.environ[PORT_VARIABLE])
        settings = RedisSettings(host=LOOPBACK, port=port, max_connections=200)
        # A timeout well above any reply's time: fail-closed must not stop the run.
        _limiter.append(AsyncRateLimiter.from_settings(settings, timeout=1.0))
    return _limiter[0]


BENCH_LIMIT = Limit(rate=1e9, burst=1e9, name="bench")
limited_app = RateLimitMiddleware(plain_app, limiter=_bench_limiter, default=BENCH_LIMIT)


class MemoryLimiter:
    """The fallback's token buckets alone: what the middleware costs without Redis."""

    def __init__(self) -> None:
        self._buckets = MemoryBuckets(10_000, time.monotonic)

    async def hit(
        self, key: str, *, rate: float, burst: float, cost: float = 1, scope: str = "default"
    ) -> Decision:
        return self._buckets.hit(prepare(key, rate, burst, cost, scope))


memory_app = RateLimitMiddleware(plain_app, limiter=MemoryLimiter(), default=BENCH_LIMIT)


FREE_CHECK = prepare("bench", BENCH_LIMIT.rate, BENCH_LIMIT.burst)
FREE_DECISION = Decision(True, BENCH_LIMIT.burst, 0.0, "redis")


class InstantLimiter:
    """A limiter that allows every check at once, with no bucket, wait or Redis: the
    middleware's own cost (route, caller, fields), the least any limiter behind it adds
    to, a lease of tokens taken in advance included."""

    async def hit(
        self, key: str, *, rate: float, burst: float, cost: float = 1, scope: str = "default"
    ) -> Decision:
        return FREE_DECISION


instant_app = RateLimitMiddleware(plain_app, limiter=InstantLimiter(), default=BENCH_LIMIT)

#: ``RateLimit-Policy`` and ``RateLimit`` as the middleware sends them for ``BENCH_LIMIT``.
FLOOR_FIELDS = (
    (b"ratelimit-policy", b'"bench";q=1000000000;w=1'),
    (b"ratelimit", b'"bench";r=999999999;t=0'),
)


def _with_fields(send: Send) -> Send:
    """``send``, adding :data:`FLOOR_FIELDS` to the response's start."""

    async def send_with_fields(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *FLOOR_FIELDS]
        await send(message)

    return send_with_fields


async def floor_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The least any middleware meeting issue 17 costs: one more ASGI layer adding the
    two fields to every response, with no limiter, caller or route at all."""
    if scope["type"] != "http":
        await plain_app(scope, receive, send)
        return
    await plain_app(scope, receive, _with_fields(send))


async def _answer_at_once(ps: Sequence[Prepared]) -> list[Decision]:
    """A Redis that costs nothing: every check allowed, no round trip."""
    return [FREE_DECISION] * len(ps)


def _awaiting(checks: Coalescer) -> ASGIApp:
    """The floor, plus one check per request through ``checks``, the limiter's coalescer (a
    future, a batch task a loop turn later) deciding with a check that costs nothing. No
    limiter, bucket, caller or route."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await plain_app(scope, receive, send)
            return
        await checks.hit(FREE_CHECK)
        await plain_app(scope, receive, _with_fields(send))

    return app


#: The least any middleware costs that awaits one shared Redis round trip per request:
#: :func:`_awaiting` with a Redis that answers at once.
awaited_app = _awaiting(Coalescer(_answer_at_once))

PING = b"*1\r\n$4\r\nPING\r\n"
_ping_connection: list[Connection] = []


async def _ping_for_all(ps: Sequence[Prepared]) -> list[Decision]:
    """One PING on the bench's redis-server for a whole batch, every check allowed."""
    if not _ping_connection:  # made on the first batch, in uvicorn's event loop
        connection = Connection(host=LOOPBACK, port=int(os.environ[PORT_VARIABLE]))
        await connection.connect()
        _ping_connection.append(connection)
    connection = _ping_connection[0]
    await connection.send_packed_command(PING, check_health=False)
    await connection.read_response()
    return [FREE_DECISION] * len(ps)


#: The least any middleware costs that asks Redis for every request: :func:`_awaiting`
#: with the round trip made, one PING (one connection, redis-py's reply reader) for each
#: batch of checks. No script, bucket, caller or route.
pinged_app = _awaiting(Coalescer(_ping_for_all))


@dataclass
class WebRow:
    subject: str
    latencies_ns: list[int] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    not_ok: int = 0
    cpu_seconds: float = 0.0  # of the uvicorn process (and for the middleware, Redis's)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        data = sorted(self.latencies_ns)
        return data[min(len(data) - 1, int(q * len(data)))] / 1000 if data else float("nan")

    @property
    def cpu_us(self) -> float:
        """Server CPU per request, µs: unlike throughput, not skewed by CPU others take."""
        return self.cpu_seconds / self.requests * 1e6 if self.requests else float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def uvicorn_server(app: str, redis_port: int, server: str) -> Iterator[tuple[int, int]]:
    """``bench_asgi:<app>`` under uvicorn (``server`` of :data:`SERVERS`) in its own process;
    yields its port and pid."""
    port = pick_free_ports(1)[0]
    argv = [sys.executable, "-m", "uvicorn", f"bench_asgi:{app}", "--app-dir"]
    argv += [str(Path(__file__).parent), "--host", LOOPBACK, "--port", str(port)]
    argv += SERVERS[server]
    argv += ["--log-level", "warning", "--no-access-log", "--lifespan", "off"]
    proc = subprocess.Popen(argv, env={**os.environ, PORT_VARIABLE: str(redis_port)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((LOOPBACK, port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


async def drive(port: int, inflight: int, seconds: float, row: WebRow) -> None:
    """``inflight`` keep-alive connections sending requests back to back for ``seconds``."""
    clock = time.perf_counter_ns
    start = clock()
    end = start + int(seconds * 1e9)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        lat = row.latencies_ns
        while (t0 := clock()) < end:
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            found = LENGTH.search(head)
            await reader.readexactly(int(found.group(1)) if found else 0)
            lat.append(clock() - t0)
            row.requests += 1
            row.not_ok += head[9:12] != b"200"
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(inflight)))
    row.seconds += (clock() - start) / 1e9


def measure(
    redis_port: int, inflight: int, seconds: float, rounds: int, server: str
) -> list[WebRow]:
    """Each of :data:`SUBJECTS` under ``server``, ``seconds`` each, interleaved over ``rounds``."""
    rows = [WebRow(s) for s in SUBJECTS]
    with redis.Redis(host=LOOPBACK, port=redis_port) as admin:
        redis_pid = int(admin.info("server")["process_id"])
    with ExitStack() as servers:
        started = [
            servers.enter_context(uvicorn_server(APPS[s], redis_port, server)) for s in SUBJECTS
        ]
        ports = [port for port, _ in started]
        pids = [
            [pid, *([redis_pid] if s in ON_REDIS else [])]
            for (_, pid), s in zip(started, SUBJECTS, strict=True)
        ]

        async def run() -> None:
            for port in ports:  # warm up: connections, the script cache
                await drive(port, inflight, 0.5, WebRow(""))
            for round_ in range(rounds):
                order = list(range(len(rows)))
                if round_ % 2:
                    order.reverse()
                for i in order:
                    before = cpu_seconds(pids[i])
                    await drive(ports[i], inflight, seconds / rounds, rows[i])
                    rows[i].cpu_seconds += cpu_seconds(pids[i]) - before

        asyncio.run(run())
    return rows


def overhead(rows: list[WebRow]) -> float:
    """The share (%) of the plain app's throughput the middleware (on Redis) costs."""
    plain, limited = rows[0], rows[1]
    return (1 - limited.rate / plain.rate) * 100 if plain.rate else float("nan")


def table(rows: list[WebRow], inflight: int, seconds: float, server: str) -> Table:
    """The web row as the bench prints it."""
    plain = rows[0]
    title = f"minimal ASGI app under uvicorn ({SERVER_NAMES[server]}), {inflight} concurrent"
    title += f" ({seconds:g} s each)"
    out = Table(title=title)
    for name in ("app", "requests/s", "p50 µs", "p99 µs", "CPU µs/request", "overhead"):
        out.add_column(name, justify="left" if name == "app" else "right")
    for r in rows:
        cost = f"{(1 - r.rate / plain.rate) * 100:.1f}%" if r is not plain else ""
        out.add_row(
            r.subject + (f" ({r.not_ok} not 200)" if r.not_ok else ""),
            f"{r.rate:,.0f}",
            f"{r.quantile(0.5):,.0f}",
            f"{r.quantile(0.99):,.0f}",
            f"{r.cpu_us:,.0f}",
            cost,
        )
    return out


def as_json(rows: list[WebRow]) -> list[dict[str, float | str]]:
    """The web rows for ``--json``."""
    return [
        {
            "subject": r.subject,
            "requests_per_s": r.rate,
            "p50_us": r.quantile(0.5),
            "p99_us": r.quantile(0.99),
            "cpu_us_per_request": r.cpu_us,
            "not_ok": r.not_ok,
        }
        for r in rows
    ]
