"""The stores through a planned failover behind a managed-style endpoint.

The endpoint (tests/endpoint_support.py) is a forwarder whose target moves to the
promoted node while open connections stay on the demoted one, as a DNS endpoint
does. The switch is the ``FAILOVER`` command on the primary (ElastiCache's
test-failover and Memorystore's ``limited-data-loss`` are planned the same way):
writes are paused until the replica caught up, so no acknowledged write may be lost.

Writers are threads of ``sessions.put``, one key per write; every acknowledged key
must be on the new primary afterwards, and every error must reach them as
``RedisUnavailable`` (anything else a writer raised is collected and fails the test).
Durations and error counts (a write whose retries all ran before the endpoint moved)
are printed and recorded, never asserted.
The metrics must count the demoted node's replies and one endpoint failover.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest

from aragora_redis import RedisUnavailable, connect
from aragora_redis.drill.observe import first_after, longest_gap
from tests.endpoint_support import ManagedEndpoint, wait_for
from tests.metrics_support import bound_reader, total

#: A thread's uncaught exception fails the test too (the writers collect their own).
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
WRITERS = 4
ENOUGH_ACKS = 200


class _Writers:
    """Threads writing one new session each, recording acknowledgements and errors."""

    def __init__(self, put: Callable[[str], None]) -> None:
        self._put = put
        self.lock = threading.Lock()
        self.acks: list[tuple[float, str]] = []
        self.errors: list[tuple[float, str]] = []
        #: Anything else a writer raised (it ended that writer): must stay empty.
        self.crashed: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(i,)) for i in range(WRITERS)]

    def _write(self, worker: int) -> None:
        try:
            self._write_until_stopped(worker)
        except BaseException as exc:  # collected, so that the test fails on it
            with self.lock:
                self.crashed.append(exc)

    def _write_until_stopped(self, worker: int) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            sid = f"w{worker}-{n}-{uuid.uuid4().hex[:8]}"
            try:
                self._put(sid)
            except RedisUnavailable as exc:
                with self.lock:
                    self.errors.append((time.monotonic(), type(exc.__cause__).__name__))
                continue
            with self.lock:
                self.acks.append((time.monotonic(), sid))

    def acks_after(self, t: float) -> int:
        with self.lock:
            if self.crashed:
                raise AssertionError(f"a writer died of {self.crashed[0]!r}")
            return sum(1 for at, _ in self.acks if at > t)

    def __enter__(self) -> _Writers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def test_planned_failover_behind_an_endpoint_loses_no_acknowledged_write(
    endpoint: ManagedEndpoint, record_property: Callable[[str, object], None]
) -> None:
    stores = connect(endpoint.settings)
    run = uuid.uuid4().hex[:8]
    try:

        def put(sid: str) -> None:
            stores.sessions.put("auth", f"{run}-{sid}", 1)

        with bound_reader() as reader, _Writers(put) as load:
            started = time.monotonic()
            wait_for(lambda: load.acks_after(started) >= ENOUGH_ACKS, "writes before the switch")
            switch_at = time.monotonic()
            old, new = endpoint.switch(planned=True)
            moved_at = time.monotonic()
            wait_for(lambda: load.acks_after(moved_at) >= ENOUGH_ACKS, "writes after the switch")
        left_on_old = endpoint.forwarder.open_to(endpoint.address(old))
    finally:
        stores.close()

    acks, errors = list(load.acks), list(load.errors)
    primary = endpoint.node(new)
    try:
        pipe = primary.pipeline(transaction=False)
        for _, sid in acks:
            pipe.exists(f"aragora:session:auth:{run}-{sid}")
        found = pipe.execute()
    finally:
        primary.close()
    lost = [sid for (_, sid), there in zip(acks, found, strict=True) if not there]
    times = [at for at, _ in acks]
    outage = longest_gap(times, switch_at, first_after(times, moved_at) or moved_at)
    for name, value in (
        ("acked_writes", len(acks)),
        ("lost_writes", len(lost)),
        ("write_outage_s", round(outage, 3)),
        ("caller_errors", len(errors)),
    ):
        record_property(name, value)
    print(
        f"planned FAILOVER {old} -> {new} behind the endpoint: {len(acks)} acked writes, "
        f"{len(lost)} lost, longest write gap {outage:.3f} s, {len(errors)} caller errors "
        f"({sorted({e for _, e in errors})}), {left_on_old} connections still on {old}"
    )
    assert load.crashed == [], "every error reached the writers as RedisUnavailable"
    assert any(at > moved_at for at in times), "the writers kept writing after the switch"
    assert lost == [], f"{len(lost)} acknowledged writes lost"
    moved = total(reader, "aragora_redis.primary_moved", aragora_redis__mode="endpoint")
    assert moved >= 1, "the demoted node's READONLY replies are counted"
    failovers = total(reader, "aragora_redis.failovers", aragora_redis__mode="endpoint")
    assert failovers == 1, "however many connections heard it"
