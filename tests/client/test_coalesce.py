"""I/O-free (asyncio): checks awaited together are decided in one batch."""

from __future__ import annotations

import asyncio

import pytest

from aragora_redis import RateLimiterUnavailable
from aragora_redis._bucket import Decision, Prepared, prepare
from aragora_redis._coalesce import Coalescer


async def test_checks_of_one_loop_turn_are_decided_together() -> None:
    batches: list[int] = []

    async def decide(ps: list[Prepared]) -> list[Decision]:
        batches.append(len(ps))
        await asyncio.sleep(0)
        return [Decision(True, p.burst - p.cost, 0.0, "redis") for p in ps]

    batcher = Coalescer(decide)
    got = await asyncio.gather(*(batcher.hit(prepare(f"k{i}", 1, 10, i % 3)) for i in range(20)))
    assert batches == [20]
    assert [d.remaining for d in got] == [10 - i % 3 for i in range(20)]
    await batcher.drain()


async def test_checks_made_while_a_batch_is_under_way_go_together_next() -> None:
    batches: list[list[str]] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def decide(ps: list[Prepared]) -> list[Decision]:
        batches.append([p.key.split("{")[1][:-1] for p in ps])  # the caller ids
        if len(batches) == 1:
            started.set()
            await release.wait()  # the first round trip is slow
        return [Decision(True, 0.0, 0.0, "redis") for _ in ps]

    batcher = Coalescer(decide)
    first = asyncio.gather(*(batcher.hit(prepare(f"a{i}", 1, 10)) for i in range(3)))
    await started.wait()  # the first batch is under way
    later = []
    for turn in range(4):  # checks of several loop turns wait for it
        later.append(asyncio.ensure_future(batcher.hit(prepare(f"b{turn}", 1, 10))))
        await asyncio.sleep(0)
    assert len(batches) == 1
    release.set()
    await first
    await asyncio.gather(*later)
    assert batches == [["a0", "a1", "a2"], ["b0", "b1", "b2", "b3"]]
    await batcher.drain()
    # Nothing under way: the next check starts a batch of its own.
    await batcher.hit(prepare("c", 1, 10))
    assert batches[-1] == ["c"]


async def test_a_cancelled_batch_does_not_stop_the_next() -> None:
    started = asyncio.Event()

    async def decide(ps: list[Prepared]) -> list[Decision]:
        if ps[0].key.endswith("{slow}"):
            started.set()
            await asyncio.sleep(3600)
        return [Decision(True, 0.0, 0.0, "redis") for _ in ps]

    batcher = Coalescer(decide)
    slow = asyncio.ensure_future(batcher.hit(prepare("slow", 1, 10)))
    await started.wait()
    assert batcher._sender is not None
    batcher._sender.cancel()  # as at the loop's shutdown
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert (await batcher.hit(prepare("next", 1, 10))).allowed
    await batcher.drain()


async def test_a_failed_batch_fails_each_of_its_checks() -> None:
    async def decide(ps: list[Prepared]) -> list[Decision]:
        raise RateLimiterUnavailable("down")

    batcher = Coalescer(decide)
    results = await asyncio.gather(
        *(batcher.hit(prepare("k", 1, 2)) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RateLimiterUnavailable) for r in results)
