"""``make bench``: our rate-limit check next to a PING and the ``limits`` library.

One process, one redis-server started here on a free loopback port (no
persistence) and stopped at the end. Every subject runs in three modes: sync
sequential, asyncio with ``--inflight`` checks in flight, and batched (``--batch``
checks per round trip, sync). Modes and subjects are interleaved over ``--rounds``
rounds, so a noisy neighbour slows them all alike. Prints p50/p99 latency (of one
call; in batched mode of one round trip), checks per second and both as a ratio to
PING in the same mode, then the targets; ``--json PATH`` also writes them.

Then the web row (:mod:`bench_asgi`): a minimal ASGI app under uvicorn without
and with :class:`aragora_redis.asgi.RateLimitMiddleware` (also over a limiter in memory and
one that allows at once, and three bounds: the floor, a layer that only adds its two header
fields; the floor plus one awaited shared check with Redis and the check free; and that
with the round trip made, a PING for each batch; and the plain app in a second process, the
run's noise), ``--inflight`` concurrent
requests, on the same redis-server (``--web-only`` runs just that), under each of
uvicorn's server configurations (``--web-server`` picks one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
from limits import RateLimitItemPerSecond
from limits import strategies as sync_strategies
from limits.aio import storage as async_storage
from limits.aio import strategies as async_strategies
from limits.storage import RedisStorage
from rich.console import Console
from rich.table import Table

from aragora_redis import RedisSettings
from aragora_redis.local.ports import LOOPBACK, pick_free_ports
from aragora_redis.ratelimit import AsyncRateLimiter, Check, RateLimiter

# Run as a file, it imports its web row from scripts/ as the tests import scripts.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_asgi import MAX_OVERHEAD, SERVER_NAMES, SERVERS, overhead
from scripts.bench_asgi import as_json as web_json
from scripts.bench_asgi import measure as measure_web
from scripts.bench_asgi import table as web_table

KEYS = 1000  # distinct callers; each has RATE per second, so no check is ever denied
RATE = 1000
MODES = ("sync", "asyncio", "batched")

SyncOp = Callable[[int], object]
AsyncOp = Callable[[int], Awaitable[object]]
BatchOp = Callable[[int], object]


@dataclass
class Row:
    subject: str
    mode: str
    latencies_ns: list[int] = field(default_factory=list)
    checks: int = 0
    seconds: float = 0.0

    def quantile(self, q: float) -> float:
        data = sorted(self.latencies_ns)
        return data[min(len(data) - 1, int(q * len(data)))] / 1000 if data else float("nan")

    @property
    def rate(self) -> float:
        return self.checks / self.seconds if self.seconds else 0.0


@dataclass
class Subject:
    name: str
    sync: SyncOp
    aio: AsyncOp
    batch: BatchOp | None


@contextmanager
def redis_server() -> Iterator[int]:
    """A throwaway redis-server on a free loopback port."""
    if shutil.which("redis-server") is None:
        sys.exit("redis-server not found; run scripts/setup.sh")
    port = pick_free_ports(1)[0]
    with tempfile.TemporaryDirectory(prefix="aragora-bench-") as folder:
        argv = ["redis-server", "--port", str(port), "--bind", LOOPBACK, "--save", ""]
        argv += ["--appendonly", "no", "--dir", folder, "--logfile", str(Path(folder) / "log")]
        proc = subprocess.Popen(argv)
        try:
            client = redis.Redis(host=LOOPBACK, port=port)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.05)
            client.close()
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


def sync_run(op: SyncOp, seconds: float, row: Row) -> None:
    lat = row.latencies_ns
    clock = time.perf_counter_ns
    i = 0
    start = clock()
    end = start + int(seconds * 1e9)
    now = start
    while now < end:
        op(i)
        t = clock()
        lat.append(t - now)
        now = t
        i += 1
    row.checks += i
    row.seconds += (now - start) / 1e9


def batch_run(op: BatchOp, size: int, seconds: float, row: Row) -> None:
    before = row.checks
    sync_run(op, seconds, row)
    row.checks = before + (row.checks - before) * size


async def async_run(op: AsyncOp, inflight: int, seconds: float, row: Row) -> None:
    clock = time.perf_counter_ns
    start = clock()
    end = start + int(seconds * 1e9)
    counts = [0] * inflight

    async def worker(w: int) -> None:
        lat = row.latencies_ns
        i = w
        while (t0 := clock()) < end:
            await op(i)
            lat.append(clock() - t0)
            counts[w] += 1
            i += inflight

    await asyncio.gather(*(worker(w) for w in range(inflight)))
    row.checks += sum(counts)
    row.seconds += (clock() - start) / 1e9


def subjects(port: int, batch: int, loop_clients: list[Any]) -> list[Subject]:
    url = f"redis://{LOOPBACK}:{port}"
    settings = RedisSettings(host=LOOPBACK, port=port, max_connections=200)
    ping, aping = redis.Redis(host=LOOPBACK, port=port), aredis.Redis(host=LOOPBACK, port=port)
    # A timeout well above any reply's time: the bench measures speed, and on a busy
    # machine a 50 ms read can time out (fail-closed: the run would stop).
    ours = RateLimiter.from_settings(settings, timeout=1.0)
    aours = AsyncRateLimiter.from_settings(settings, timeout=1.0)
    loop_clients += [ping, aping, ours, aours]
    item = RateLimitItemPerSecond(RATE, 1)
    fixed = sync_strategies.FixedWindowRateLimiter(RedisStorage(url))
    moving = sync_strategies.MovingWindowRateLimiter(RedisStorage(url))
    astore = async_storage.RedisStorage(f"async+{url}", implementation="redispy")
    afixed = async_strategies.FixedWindowRateLimiter(astore)
    amoving = async_strategies.MovingWindowRateLimiter(astore)
    checks = [
        [Check(f"{(b * batch + j) % KEYS}", RATE, RATE) for j in range(batch)] for b in range(KEYS)
    ]

    def ping_batch(_: int) -> object:
        with ping.pipeline(transaction=False) as pipe:
            for _ in range(batch):
                pipe.ping()
            return pipe.execute()

    return [
        Subject("redis-py PING", lambda i: ping.ping(), lambda i: aping.ping(), ping_batch),
        Subject(
            "aragora token bucket",
            lambda i: ours.hit(str(i % KEYS), rate=RATE, burst=RATE),
            lambda i: aours.hit(str(i % KEYS), rate=RATE, burst=RATE),
            lambda i: ours.hit_many(checks[i % KEYS]),
        ),
        Subject(
            "limits fixed window",
            lambda i: fixed.hit(item, "f", str(i % KEYS)),
            lambda i: afixed.hit(item, "f", str(i % KEYS)),
            None,
        ),
        Subject(
            "limits moving window",
            lambda i: moving.hit(item, "m", str(i % KEYS)),
            lambda i: amoving.hit(item, "m", str(i % KEYS)),
            None,
        ),
    ]


async def measure(args: argparse.Namespace, port: int) -> list[Row]:
    clients: list[Any] = []
    subs = subjects(port, args.batch, clients)
    rows = {(s.name, m): Row(s.name, m) for s in subs for m in MODES}
    share = args.seconds / args.rounds
    for s in subs:  # warm up: connections, script cache, keys
        sync_run(s.sync, 0.2, Row("", ""))
        await async_run(s.aio, args.inflight, 0.2, Row("", ""))
    for round_ in range(args.rounds):
        # Every other round backwards, so no subject always follows the same one.
        for s in subs if round_ % 2 == 0 else subs[::-1]:
            sync_run(s.sync, share, rows[s.name, "sync"])
            await async_run(s.aio, args.inflight, share, rows[s.name, "asyncio"])
            if s.batch is not None:
                batch_run(s.batch, args.batch, share, rows[s.name, "batched"])
    ping, aping, ours, aours = clients
    ping.close()
    await aping.aclose()
    ours.close()
    await aours.aclose()
    return [r for r in rows.values() if r.checks]


@dataclass
class Target:
    what: str
    measured: float
    wanted: str
    ok: bool


def targets(rows: list[Row]) -> list[Target]:
    by = {(r.subject, r.mode): r for r in rows}
    ours = "aragora token bucket"
    ping = by["redis-py PING", "sync"]
    sync, aio, batched = by[ours, "sync"], by[ours, "asyncio"], by[ours, "batched"]
    fixed, moving = by["limits fixed window", "sync"], by["limits moving window", "sync"]
    afixed, amoving = by["limits fixed window", "asyncio"], by["limits moving window", "asyncio"]
    at_most = [("sync p50 / PING p50", sync.quantile(0.5) / ping.quantile(0.5), 1.15)]
    at_least = [
        ("sync checks/s vs limits moving window", sync.rate, moving.rate),
        ("sync checks/s vs 90% of limits fixed window", sync.rate, 0.9 * fixed.rate),
        ("asyncio checks/s vs limits moving window", aio.rate, amoving.rate),
        ("asyncio checks/s vs 90% of limits fixed window", aio.rate, 0.9 * afixed.rate),
        ("asyncio checks/s", aio.rate, 15_000),
        ("batched checks/s", batched.rate, 60_000),
    ]
    return [Target(w, got, f"<= {want:,.2f}", got <= want) for w, got, want in at_most] + [
        Target(w, got, f">= {want:,.0f}", got >= want) for w, got, want in at_least
    ]


def show(rows: list[Row], goals: list[Target], args: argparse.Namespace, web: list[Table]) -> None:
    ping = {r.mode: r for r in rows if r.subject == "redis-py PING"}
    table = Table(
        title=f"rate-limit check vs PING ({args.seconds:g} s per cell, {args.rounds} rounds)"
    )
    for name in ("check", "mode", "p50 µs", "p99 µs", "checks/s", "p50 ÷ PING", "rate ÷ PING"):
        table.add_column(name, justify="left" if name in ("check", "mode") else "right")
    for r in sorted(rows, key=lambda r: (MODES.index(r.mode), r.subject)):
        base = ping[r.mode]
        table.add_row(
            r.subject,
            r.mode,
            f"{r.quantile(0.5):.0f}",
            f"{r.quantile(0.99):.0f}",
            f"{r.rate:,.0f}",
            f"{r.quantile(0.5) / base.quantile(0.5):.2f}",
            f"{r.rate / base.rate:.2f}",
        )
    console = Console(width=max(Console().width, 110))
    if rows:
        console.print(table)
    for one in web:
        console.print(one)
    goal_table = Table(title="targets")
    for name in ("target", "measured", "wanted", ""):
        goal_table.add_column(name)
    for g in goals:
        mark = "[green]ok[/]" if g.ok else "[red]missed[/]"
        goal_table.add_row(g.what, f"{g.measured:,.2f}", g.wanted, mark)
    console.print(goal_table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per subject and mode")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved slices of --seconds")
    parser.add_argument("--inflight", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--web-seconds", type=float, default=12.0, help="per web subject")
    parser.add_argument("--web-only", action="store_true", help="only the ASGI middleware row")
    parser.add_argument(
        "--web-server",
        choices=[*SERVERS, "all"],
        default="all",
        help="uvicorn's HTTP parser and loop for the web row (default: each in turn)",
    )
    args = parser.parse_args(argv)
    servers = list(SERVERS) if args.web_server == "all" else [args.web_server]
    with redis_server() as port:
        rows = [] if args.web_only else asyncio.run(measure(args, port))
        web = {
            s: measure_web(port, args.inflight, args.web_seconds, args.rounds, s) for s in servers
        }
    web_goals = [
        Target(
            f"ASGI middleware overhead at {args.inflight} concurrent ({SERVER_NAMES[server]}), "
            "% of the app's requests/s",
            overhead(got),
            f"<= {MAX_OVERHEAD:g}",
            overhead(got) <= MAX_OVERHEAD,
        )
        for server, got in web.items()
    ]
    goals = [*([] if args.web_only else targets(rows)), *web_goals]
    tables = [web_table(got, args.inflight, args.web_seconds, s) for s, got in web.items()]
    show(rows, goals, args, tables)
    if args.json:
        out = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "rows": [
                {
                    "subject": r.subject,
                    "mode": r.mode,
                    "p50_us": r.quantile(0.5),
                    "p99_us": r.quantile(0.99),
                    "checks_per_s": r.rate,
                }
                for r in rows
            ],
            "web": {server: web_json(got) for server, got in web.items()},
            "targets": [asdict(g) for g in goals],
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
