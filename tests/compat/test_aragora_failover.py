"""With fencing, the seed's bare SENTINEL FAILOVER loses no write of Aragora's own clients.

One failover (``SENTINEL FAILOVER <master>``, nothing paused first) on a Sentinel stack
with HAProxy and the fencing watcher, while the released Aragora writes through its
shared URL pool, its session store and its own Sentinel client
(tests/compat/aragora_failover.py). Every write Aragora's call acknowledged must be on
the final master, and every path must write again after the switch. Outages are
printed, not asserted; ``make compat-failover`` measures them over 5 runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aragora_redis.local import LocalStack, up_on_free_ports
from tests.compat.aragora_driver import ensure_venv
from tests.compat.aragora_failover import PATHS, measure

pytestmark = pytest.mark.parametrize("engine", ["redis"], indirect=True)


@pytest.fixture
def fenced(tmp_path: Path, engine: str) -> Iterator[LocalStack]:
    stack = up_on_free_ports(tmp_path / "stack", "sentinel", haproxy=True, engine=engine)
    try:
        yield stack
    finally:
        stack.down()


def test_seed_failover_loses_no_write_of_aragoras_paths(fenced: LocalStack, engine: str) -> None:
    assert fenced.options.runs_fencing
    results = measure(fenced, ensure_venv())
    for path in PATHS:
        r = results[path]
        print(f"{path}: {r.lost} of {r.acked} lost, outage {r.outage_s} s, errors {r.errors}")
    for path in PATHS:
        r = results[path]
        assert r.acked > 0, f"{path} acknowledged nothing"
        assert r.lost == 0, f"{path} lost {r.lost} acknowledged writes"
        assert r.back, f"{path} wrote nothing after the switch"
