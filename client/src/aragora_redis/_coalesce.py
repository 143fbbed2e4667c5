"""Asyncio only: checks awaited while no batch is under way go to Redis as one batch.

Fifty tasks each awaiting a check would otherwise be fifty round trips on fifty
connections, and asyncio's per-connection cost (not Redis) would bound the rate.
Batched, they are one write; each task still gets its own decision, decided by
Redis in the order the checks were made.

One batch is under way at a time: the checks made while it is travel together in
the next, sent as soon as its replies are in. Under load a round trip so carries
every check of its time (a write, a read, a task and a timeout for many checks,
not for each few), and a check waits at most one round trip more than alone. When
nothing is under way, the checks of one event-loop turn make the batch, a loop
turn of latency, far less than the round trip they share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ._bucket import Decision, Prepared

Decide = Callable[[list[Prepared]], Awaitable[list[Decision]]]
Waiting = list[tuple[Prepared, "asyncio.Future[Decision]"]]


class Coalescer:
    """Collect checks while a batch is under way (or until the loop turns), then
    decide them together with ``decide``."""

    def __init__(self, decide: Decide) -> None:
        self._decide = decide
        self._waiting: Waiting = []
        self._sender: asyncio.Task[None] | None = None

    def hit(self, p: Prepared) -> asyncio.Future[Decision]:
        """The decision on ``p`` when awaited, made in a batch with the checks waiting with it.

        A future, not a coroutine: one object and one frame less for every check.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        self._waiting.append((p, future))
        sender = self._sender
        if sender is None or sender.done() or sender.get_loop() is not loop:
            self._sender = loop.create_task(self._send())
        return future

    async def drain(self) -> None:
        """Wait for the batches under way (before the connections close)."""
        while True:
            sender = self._sender
            if sender is not None and not sender.done():
                await asyncio.gather(sender, return_exceptions=True)
            elif self._waiting:  # left by a cancelled sender
                self._sender = asyncio.get_running_loop().create_task(self._send())
            else:
                return

    async def _send(self) -> None:
        # A loop turn first: the checks of this one come in, and the loop reads what
        # the server sent meanwhile (the close of an idle connection, which the
        # transport checks for before use).
        await asyncio.sleep(0)
        while self._waiting:  # what came while a batch was under way goes next
            batch, self._waiting = self._waiting, []
            await self._run(batch)

    async def _run(self, batch: Waiting) -> None:
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
