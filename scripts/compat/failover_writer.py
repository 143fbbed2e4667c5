"""Write through the released Aragora's own Redis paths until stopped; log each acknowledged write.

Run with the Aragora venv's python (``.venv-aragora/bin/python``), in an environment
holding the ARAGORA_REDIS_* values a stack emitted::

    .venv-aragora/bin/python scripts/compat/failover_writer.py <run id>

One thread per path, each writing unique keys as fast as Aragora lets it (1 ms apart):

- ``url_pool``: the shared URL pool (``aragora.server.redis_config.get_redis_client()``), ``SET``;
- ``session_store``: ``RedisSessionStore.set_debate_state`` (it swallows some errors and logs
  them at WARNING: a call that logged one is not counted as acknowledged);
- ``sentinel_client``: ``aragora.storage.redis_ha.get_redis_client()`` (its redis-py Sentinel
  client on a Sentinel stack), ``SET``.

A write is *acknowledged* when Aragora's call returned without error. Prints ``ready`` once
every path has had one acknowledged write, then, when stdin closes, one JSON object:
``{path: {"acked": [[key, unix time], ...], "errors": {kind: count}}}``. The caller
(tests/compat/aragora_failover.py) checks which acknowledged keys the final master holds.
No URL or password is printed. Excluded from mypy (it imports Aragora), like driver.py.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

PACE_S = 0.001
#: After a failed write, as a request handler would see the next request.
AFTER_ERROR_S = 0.05
TTL_S = 600


class _Swallowed(logging.Handler):
    """Marks the thread whose Aragora call logged a swallowed Redis error."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        self.local.failed = record.getMessage()

    def take(self) -> str | None:
        failed: str | None = getattr(self.local, "failed", None)
        self.local.failed = None
        return failed


SWALLOWED = _Swallowed()


def _setter(client: Any, run: str, path: str) -> Callable[[int], str]:
    """``SET`` of a unique key per write through ``client``."""

    def write(i: int) -> str:
        key = f"compat-failover:{run}:{path}:{i}"
        client.set(key, i, ex=TTL_S)
        return key

    return write


def _url_pool(run: str) -> Callable[[int], str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from aragora.server import redis_config

    client = redis_config.get_redis_client()
    if client is None:
        raise RuntimeError("server.redis_config.get_redis_client() returned None")
    return _setter(client, run, "url_pool")


def _session_store(run: str) -> Callable[[int], str]:
    from aragora.server.session_store import RedisSessionStore

    store = RedisSessionStore()

    def write(i: int) -> str:
        loop = f"compat-failover-{run}-{i}"
        store.set_debate_state(loop, {"i": i})
        return str(store._key("debate", loop))

    return write


def _sentinel_client(run: str) -> Callable[[int], str]:
    from aragora.storage.redis_ha import get_redis_client

    client = get_redis_client()
    if client is None:
        raise RuntimeError("storage.redis_ha.get_redis_client() returned None")
    return _setter(client, run, "sentinel_client")


PATHS: dict[str, Callable[[str], Callable[[int], str]]] = {
    "url_pool": _url_pool,
    "session_store": _session_store,
    "sentinel_client": _sentinel_client,
}


def _kind(exc: Exception) -> str:
    """The error's class, and for a server error its code (``ResponseError READONLY``)."""
    name = type(exc).__name__
    if name == "ResponseError" and str(exc).split():
        return f"{name} {str(exc).split()[0]}"
    return name


class Writer(threading.Thread):
    """One path's write loop."""

    def __init__(self, name: str, write: Callable[[int], str], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.write = write
        self.stop = stop
        self.acked: list[tuple[str, float]] = []
        self.errors: Counter[str] = Counter()
        self.first = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            SWALLOWED.take()
            try:
                key = self.write(i)
            except Exception as exc:  # every failure of Aragora's call is an unacknowledged write
                self.errors[_kind(exc)] += 1
                time.sleep(AFTER_ERROR_S)
                continue
            if SWALLOWED.take() is not None:
                self.errors["logged"] += 1
                time.sleep(AFTER_ERROR_S)
                continue
            self.acked.append((key, time.time()))
            self.first.set()
            time.sleep(PACE_S)


def main() -> int:
    """Write until stdin closes, then print the acknowledged writes as JSON."""
    run = sys.argv[1]
    logging.basicConfig(level=logging.WARNING, handlers=[SWALLOWED], force=True)
    stop = threading.Event()
    writers = [Writer(name, make(run), stop) for name, make in PATHS.items()]
    for writer in writers:
        writer.start()
    for writer in writers:
        if not writer.first.wait(30):
            stop.set()
            raise SystemExit(f"{writer.name} never acknowledged a write")
    print("ready", flush=True)
    sys.stdin.read()
    stop.set()
    for writer in writers:
        writer.join(30)
    report: dict[str, Any] = {w.name: {"acked": w.acked, "errors": dict(w.errors)} for w in writers}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
