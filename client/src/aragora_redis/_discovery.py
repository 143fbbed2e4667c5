"""Master discovery through Sentinel, bounded by the configured timeouts.

redis-py asks the sentinels one after another, each with the full socket timeouts.
A client partitioned away from every sentinel (left with the old master only, which
soon refuses writes with NOREPLICAS and so sends the client to Sentinel) waited
15 s per discovery with three sentinels and 5 s timeouts, and the retry policy's two
forced retries held one call for up to 45 s (measured by the drill's
``partition-client`` fault). Here:

- each sentinel gets an equal share of the connect and read timeouts
  (:func:`shared_timeout`), so asking all of them stays within the configured
  timeout; a share never drops below :data:`FLOOR_S` unless the timeout itself is
  shorter (the rate limiter's), and is never longer than today's full timeout;
- after a discovery in which no sentinel answered at all, discoveries fail at once
  for :data:`HOLD_S` (:class:`Unreachable`) with :class:`SentinelsUnreachable`, which
  is not a ConnectionError, so the retry policy does not retry it: the call that
  waited for the sentinels ends then, and calls meanwhile get their error at once
  instead of waiting again. A discovery in which any sentinel answered clears it.

So a call held by unreachable sentinels ends within about one configured timeout.

:class:`BoundedSentinel` and :class:`AsyncBoundedSentinel` are redis-py's
``Sentinel`` twins with this discovery; the decisions are I/O-free.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.exceptions import ConnectionError, RedisError, TimeoutError
from redis.sentinel import MasterNotFoundError, Sentinel

#: A sentinel's share of the timeouts is at least this (or the whole timeout if shorter).
FLOOR_S = 0.25
#: How long discoveries fail at once after one in which no sentinel answered.
HOLD_S = 1.0


def shared_timeout(timeout: float, sentinels: int) -> float:
    """One sentinel's connect or read timeout when ``sentinels`` share ``timeout``."""
    if sentinels <= 1:
        return timeout
    return max(timeout / sentinels, min(timeout, FLOOR_S))


def discovery_kwargs(kwargs: dict[str, Any], sentinels: int) -> dict[str, Any]:
    """``kwargs`` of a sentinel connection with the timeouts shared by ``sentinels``."""
    out = dict(kwargs)
    for name in ("socket_timeout", "socket_connect_timeout"):
        if out.get(name) is not None:
            out[name] = shared_timeout(float(out[name]), sentinels)
    return out


class Unreachable:
    """Remembers a discovery that reached no sentinel, for ``hold_s`` seconds."""

    def __init__(self, hold_s: float = HOLD_S) -> None:
        self.hold_s = hold_s
        self._until = 0.0
        self._lock = threading.Lock()

    def refuses(self, now: float) -> bool:
        """Whether a discovery starting at ``now`` should fail at once."""
        with self._lock:
            return now < self._until

    def record(self, now: float, *, answered: bool) -> None:
        """A discovery ended at ``now``; ``answered``: some sentinel replied."""
        with self._lock:
            self._until = 0.0 if answered else now + self.hold_s


class SentinelsUnreachable(RedisError):
    """No sentinel answered a discovery moments ago: not retried (module doc)."""


def _held(name: str) -> SentinelsUnreachable:
    return SentinelsUnreachable(
        f"No master found for {name!r}: no sentinel answered in the last {HOLD_S:g} s"
    )


class BoundedSentinel(Sentinel):
    """redis-py's ``Sentinel`` whose :meth:`discover_master` is bounded (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.unreachable = Unreachable()

    def discover_master(self, service_name: str) -> tuple[str, int]:
        """The master's address by the first sentinel that knows a healthy one."""
        probe = _Probe(self, service_name)
        for number, sentinel in enumerate(self.sentinels):
            with probe.asking(sentinel):
                if (found := probe.answer(number, sentinel.sentinel_masters())) is not None:
                    return found
        raise probe.give_up()


class AsyncBoundedSentinel(AsyncSentinel):
    """The asyncio twin of :class:`BoundedSentinel`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.unreachable = Unreachable()

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        """The master's address by the first sentinel that knows a healthy one."""
        probe = _Probe(self, service_name)
        for number, sentinel in enumerate(self.sentinels):
            with probe.asking(sentinel):
                if (found := probe.answer(number, await sentinel.sentinel_masters())) is not None:
                    return found
        raise probe.give_up()


class _Probe:
    """One discovery's bookkeeping, shared by the twins: errors, answers, the hold."""

    def __init__(self, owner: Any, name: str) -> None:
        if owner.unreachable.refuses(time.monotonic()):
            raise _held(name)
        self.owner = owner
        self.name = name
        self.errors: list[str] = []

    @contextlib.contextmanager
    def asking(self, sentinel: Any) -> Iterator[None]:
        """Ask ``sentinel``; an unreachable one is noted and the next is asked."""
        try:
            yield
        except (ConnectionError, TimeoutError) as exc:
            self.errors.append(f"{sentinel} - {exc!r}")

    def answer(self, number: int, masters: Any) -> tuple[str, int] | None:
        """The master's address when sentinel ``number`` knows a healthy one (it moves first)."""
        owner = self.owner
        state = masters.get(self.name)
        if not (state and owner.check_master_state(state, self.name)):
            return None
        sentinels = owner.sentinels
        sentinels[0], sentinels[number] = sentinels[number], sentinels[0]
        owner.unreachable.record(time.monotonic(), answered=True)
        forced = owner._force_master_ip
        return (forced if forced is not None else state["ip"]), state["port"]

    def give_up(self) -> MasterNotFoundError:
        """The error after asking every sentinel; remembers when none answered."""
        answered = len(self.errors) < len(self.owner.sentinels)
        self.owner.unreachable.record(time.monotonic(), answered=answered)
        detail = f" : {', '.join(self.errors)}" if self.errors else ""
        return MasterNotFoundError(f"No master found for {self.name!r}{detail}")
