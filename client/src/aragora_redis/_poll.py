"""What the event readers' twins share: iterating ``get`` in short polls until closed.

:class:`~aragora_redis.subscriptions.Subscription` and
:class:`~aragora_redis.streams.StreamSubscription` (and their asyncio twins) each
define ``get``; iteration is the same loop over it for all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from ._codec import Event

#: How long one ``get`` of an iteration waits before it checks for ``close`` again.
POLL_S = 1.0


class Polled:
    """A sync reader: iterating it yields events until it is closed."""

    _closed = False

    def get(self, timeout: float | None = None) -> Event | None:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Event]:
        while not self._closed:
            event = self.get(timeout=POLL_S)
            if event is not None:
                yield event


class AsyncPolled:
    """The asyncio twin of :class:`Polled`."""

    _closed = False

    async def get(self, timeout: float | None = None) -> Event | None:
        raise NotImplementedError

    async def __aiter__(self) -> AsyncIterator[Event]:
        while not self._closed:
            event = await self.get(timeout=POLL_S)
            if event is not None:
                yield event
