"""Helpers shared by test_ratelimit.py and its asyncio twin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from aragora_redis import RedisSettings
from aragora_redis._script import SHA
from aragora_redis.local import LocalStack, up_on_free_ports
from tests.support import sentinel_master_address

#: The limiter's timeout where a test is not about a slow or dead Redis: on a busy
#: machine the default 50 ms can expire on a live server, and fail-closed would raise.
CALM = 5.0

#: The exactness runs: workers on one key for SECONDS at RATE tokens/s, BURST at most.
WORKERS, SECONDS, RATE, BURST = 20, 3.0, 200.0, 50.0


def new_key() -> str:
    """A caller id no other test uses."""
    return uuid.uuid4().hex


@contextmanager
def throwaway_redis(folder: Path) -> Iterator[LocalStack]:
    """A standalone of our own to kill and freeze (the session ones are shared)."""
    stack = up_on_free_ports(folder, "standalone")
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


def admitted_at_most(elapsed: float) -> float:
    """What a bucket may admit in ``elapsed`` seconds: the burst, the refill, one in flight."""
    return BURST + RATE * elapsed + 1


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
