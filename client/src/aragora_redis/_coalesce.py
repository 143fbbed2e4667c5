"""Asyncio only: checks awaited in the same event-loop turn go to Redis as one batch.

Fifty tasks each awaiting a check would otherwise be fifty round trips on fifty
connections, and asyncio's per-connection cost (not Redis) would bound the rate.
Batched, they are one script call; each task still gets its own decision, decided
by Redis in the order the checks were made. A batch costs its checks one loop turn
of latency, far less than the round trip they share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ._bucket import Decision, Prepared

Decide = Callable[[list[Prepared]], Awaitable[list[Decision]]]


class Coalescer:
    """Collect checks until the loop turns, then decide them together with ``decide``."""

    def __init__(self, decide: Decide) -> None:
        self._decide = decide
        self._waiting: list[tuple[Prepared, asyncio.Future[Decision]]] = []
        self._batches: set[asyncio.Task[None]] = set()

    async def hit(self, p: Prepared) -> Decision:
        """The decision on ``p``, made in a batch with the checks of this loop turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.append((p, future))
        return await future

    async def drain(self) -> None:
        """Wait for the batches under way (before the connections close)."""
        while self._waiting or self._batches:
            await asyncio.gather(*self._batches, asyncio.sleep(0), return_exceptions=True)

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run(self, batch: list[tuple[Prepared, asyncio.Future[Decision]]]) -> None:
        try:
            decisions = await self._decide([p for p, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # e.g. RateLimiterUnavailable (fail-closed): each caller gets it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), decision in zip(batch, decisions, strict=True):
            if not future.done():  # its caller may have been cancelled meanwhile
                future.set_result(decision)
