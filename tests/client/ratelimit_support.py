"""Helpers shared by test_ratelimit.py and its asyncio twin."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

from aragora_redis import RedisSettings, keys
from aragora_redis._engine import Engine
from aragora_redis._script import MAX_CHECKS_PER_CALL, SCRIPT, SHA
from aragora_redis.errors import RateLimiterUnavailable
from aragora_redis.local import LocalStack, up_on_free_ports
from aragora_redis.ratelimit import Check, Decision
from tests.endpoint_support import Forwarder
from tests.support import sentinel_master_address

#: The limiter's timeout where a test is not about a slow or dead Redis: on a busy
#: machine the default 50 ms can expire on a live server, and fail-closed would raise.
CALM = 5.0

#: The exactness runs: WORKERS on one key of BURST tokens, each until it is denied.
#: RATE refills one token in 1000 s, so no run earns one: exactly BURST are admitted,
#: however slowly a loaded machine runs the workers (a refill race would depend on it).
WORKERS, RATE, BURST = 20, 0.001, 50.0


#: Longest a fail-closed check may take against a frozen server: its own 50 ms timeout, no
#: retries. redis-py's default (~3.8 s with retries) would exceed it; scheduling on a
#: loaded machine (load 14 on 2 cores seen in CI-like runs) does not come near it.
NO_RETRY_BOUND = 2.0

#: How long a live server gets to answer the limiter again (a bound, not a figure).
BACK_WITHIN = 15.0


def until_redis(source: Callable[[], str]) -> None:
    """Check until Redis decides: the limiter's short timeout can expire on a busy machine,
    and a restarted or thawed server is back only after its recovery interval."""
    deadline = time.monotonic() + BACK_WITHIN
    while True:
        try:
            if source() == "redis":
                return
        except RateLimiterUnavailable:
            pass
        assert time.monotonic() < deadline, f"not back on Redis within {BACK_WITHIN} s"
        time.sleep(0.05)


async def until_redis_async(source: Callable[[], Awaitable[str]]) -> None:
    """:func:`until_redis` for the asyncio limiter."""
    deadline = time.monotonic() + BACK_WITHIN
    while True:
        try:
            if await source() == "redis":
                return
        except RateLimiterUnavailable:
            pass
        assert time.monotonic() < deadline, f"not back on Redis within {BACK_WITHIN} s"
        await asyncio.sleep(0.05)


def new_key() -> str:
    """A caller id no other test uses."""
    return uuid.uuid4().hex


@contextmanager
def throwaway_redis(folder: Path, engine: Engine = "redis") -> Iterator[LocalStack]:
    """A standalone of our own to kill and freeze (the session ones are shared)."""
    stack = up_on_free_ports(folder, "standalone", engine=engine)
    try:
        yield stack
    finally:
        stack.down()


def policy(stack: LocalStack, *, fail_open: bool) -> RedisSettings:
    """The stack's settings with the failure policy under test (threshold 3)."""
    return stack.settings.replace(rate_limit_fail_open=fail_open, failure_threshold=3)


def evalsha_calls(client: redis.Redis) -> int:
    """How many EVALSHA the server has run."""
    return int(client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def check_stored_bucket(stack: Any, scope: str, key: str, burst: float, rate: float) -> None:
    """The bucket is Aragora's hash (tokens, last_refill), expiring when full again."""
    admin = stack.client("redis-0")
    name = f"aragora:ratelimit:{scope}:{{{key}}}"
    assert set(admin.hgetall(name)) == {"tokens", "last_refill"}
    assert 0 < admin.pttl(name) <= burst / rate * 1000
    admin.close()


def admitted_exactly() -> int:
    """What the exactness runs' bucket admits: its burst, no refill (see RATE)."""
    return int(BURST)


def flush_scripts(stack: LocalStack) -> None:
    """Empty every data node's script cache (an earlier failover may have filled it)."""
    for node in stack.data_nodes:
        client = stack.client(node.name)
        client.script_flush()
        client.close()


def new_master(settings: RedisSettings, address: tuple[str, int]) -> redis.Redis:
    """A plain client to the master a failover just made; the script is not cached there."""
    assert sentinel_master_address(settings) == address
    password = settings.password.get_secret_value() if settings.password else None
    master = redis.Redis(host=address[0], port=address[1], password=password)
    assert master.script_exists(SHA) == [False]  # Redis 7 does not replicate the cache
    return master


def a_primary_and_its_callers(stack: LocalStack, count: int) -> tuple[str, list[str]]:
    """A cluster primary and ``count`` new caller ids whose buckets it serves.

    The callers' buckets spread over many of that primary's slots: a script call
    across them would get CROSSSLOT from it, as from a sharding proxy.
    """
    for node in stack.data_nodes:
        admin = stack.client(node.name, timeout=CALM)
        try:
            if admin.info("replication")["role"] != "master":
                continue
            owned = [
                range(int(r[0]), int(r[1]) + 1)
                for r in admin.execute_command("CLUSTER", "SLOTS")
                if int(r[2][1]) == node.port
            ]
        finally:
            admin.close()
        callers: list[str] = []
        while len(callers) < count:
            caller = new_key()
            if any(bucket_slot(caller) in r for r in owned):
                callers.append(caller)
        return node.name, callers
    raise RuntimeError("no cluster primary answered")


def bucket_slot(caller: str, scope: str = "default") -> int:
    """The cluster slot of ``caller``'s bucket."""
    return key_slot(keys.ratelimit(scope, caller).encode())


def check_one_call_per_slot(checks: list[Check], calls: list[list[str]]) -> None:
    """Each check's key went out in one call; each call's keys share one slot, and
    each slot got one call (its checks share a limit and are fewer than 32)."""
    assert [len({key_slot(k.encode()) for k in call}) for call in calls] == [1] * len(calls)
    sent = sorted(k for call in calls for k in call)
    assert sent == sorted(keys.ratelimit(c.scope, c.key) for c in checks)
    assert len(calls) == len({key_slot(k.encode()) for k in sent}) > 100


@contextmanager
def script_calls(stack: LocalStack, node: str) -> Iterator[list[list[str]]]:
    """The keys of every script call ``node`` gets inside the block, one list per call,
    each key as often as the call checks it (a call sends it once, with a count).

    Read with MONITOR up to a marker sent after the block (no waiting on a clock).
    The script is loaded first, so every call is an EVALSHA with plain arguments.
    """
    admin = stack.client(node, timeout=CALM)
    admin.script_load(SCRIPT)
    calls: list[list[str]] = []
    marker = f"end-of-{new_key()}"
    try:
        with admin.monitor() as monitor:
            yield calls
            admin.echo(marker)  # the monitor has its own connection
            while marker not in (seen := monitor.next_command())["command"]:
                args = seen["command"].split(" ")
                if seen["client_type"] != "lua" and args[0].upper() in ("EVAL", "EVALSHA"):
                    assert args[0].upper() == "EVALSHA", args[:3]
                    n = int(args[2])
                    counts = [int(c) for c in args[6 + n : 6 + 2 * n]]
                    calls.append(
                        [k for k, c in zip(args[3 : 3 + n], counts, strict=True) for _ in range(c)]
                    )
    finally:
        admin.close()


def script_errors(stack: LocalStack, node: str, error: str) -> int:
    """How many ``error`` replies (e.g. CROSSSLOT) ``node`` has given."""
    admin = stack.client(node, timeout=CALM)
    try:
        stats = admin.info("errorstats")
    finally:
        admin.close()
    return int(stats.get(f"errorstat_{error}", {}).get("count", 0))


@contextmanager
def sharding_proxy(stack: LocalStack, node: str) -> Iterator[RedisSettings]:
    """Standalone settings reaching cluster primary ``node`` through a proxy that
    hides its cluster mode, as Azure Managed Redis's EnterpriseCluster proxy does:
    ``INFO cluster`` says ``cluster_enabled:0``, a script across slots gets CROSSSLOT."""
    address = stack.address(node)
    proxy = Forwarder(
        (address.host, address.port), rewrite=(b"cluster_enabled:1", b"cluster_enabled:0")
    )
    try:
        yield stack.node_settings(node).replace(host="127.0.0.1", port=proxy.port)
    finally:
        proxy.close()


def twice_each(callers: list[str]) -> list[Check]:
    """Two buckets of burst 1 per caller (scopes default and x), each checked twice:
    the first check of each bucket is admitted, the second denied."""
    return [Check(k, 1, 1, 1, scope) for k in callers for scope in ("default", "x")] * 2


def check_twice_each(got: list[Decision]) -> None:
    """The decisions of :func:`twice_each` of 150 callers, all by Redis."""
    assert [d.allowed for d in got] == [True] * 300 + [False] * 300
    assert {d.source for d in got} == {"redis"}


def check_refused_once(stack: LocalStack, node: str, before: int, splits: float) -> int:
    """Every call of a batch of :func:`twice_each` of 150 callers, 32 callers' keys a
    call, was refused as CROSSSLOT by ``node`` (``before``: its count until then) and
    counted as split (``splits``, the metric); returns how many."""
    refused = script_errors(stack, node, "CROSSSLOT") - before
    assert refused == -(-600 // MAX_CHECKS_PER_CALL)
    assert splits == refused
    return refused


def few_calls(calls: list[list[str]], checks: int) -> None:
    """``checks`` checks of one limit went out in the fewest calls (32 keys each)."""
    assert [len(c) for c in calls] == [MAX_CHECKS_PER_CALL] * (checks // MAX_CHECKS_PER_CALL) + (
        [checks % MAX_CHECKS_PER_CALL] if checks % MAX_CHECKS_PER_CALL else []
    )
