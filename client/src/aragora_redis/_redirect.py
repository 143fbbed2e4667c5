"""I/O-free: whether a durable cluster write (SET + WAIT on one connection) goes again.

The durable session put sends SET and WAIT down one connection to the slot's
primary, outside redis-py's cluster routing, so it decides itself what a failure
means (within the data-node retry budget of :mod:`aragora_redis._retry`):

- ``MOVED``: the slot has a new primary, which the reply names; send the write there
  at once, and refresh the slot map for the commands after it. The write follows the
  reply, not the refreshed map: just after a failover the node a refresh asks may not
  have heard of it yet and still name the old primary (a durable put that routed by
  the refreshed map met MOVED five times in a row, and gave up, in 1 of 10 real
  ``CLUSTER FAILOVER`` runs on a loaded machine);
- ``ASK``: the slot is being migrated and the key may be on the importing node;
  send ``ASKING`` there, then the write, at once;
- a connection error or timeout, ``CLUSTERDOWN``, ``TRYAGAIN``: the slot's primary
  is gone or not yet replaced (a failover); pause, refresh the slot map and route
  again, until the budget is spent. SET of the same value is idempotent, so
  sending it again is harmless. As for any command, no attempt as slow as the last
  starts if it would end past the client's timeout from the write's start.
"""

from __future__ import annotations

import math
import random
import time
from typing import NamedTuple

from redis.exceptions import (
    AskError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    RedisError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

from ._retry import next_pause

#: Redirects (MOVED, ASK) one write follows before the error is the caller's.
MAX_REDIRECTS = 5


class Retry(NamedTuple):
    """How to send the write again."""

    #: Refresh the slot map first, then route by the key.
    refresh: bool
    #: Send ASKING to this node (host, port) first, instead of routing by the key.
    ask: tuple[str, int] | None = None
    #: Send to this node (host, port), the slot's primary a MOVED reply named.
    moved_to: tuple[str, int] | None = None
    #: Pause before going again (the slot has no reachable primary yet).
    pause: bool = False


def retry_for(exc: BaseException) -> Retry | None:
    """How to go again after ``exc``, or None when it is the caller's error."""
    if isinstance(exc, MovedError):  # a subclass of AskError
        return Retry(refresh=True, moved_to=(exc.host, int(exc.port)))
    if isinstance(exc, AskError):
        return Retry(refresh=False, ask=(exc.host, int(exc.port)))
    if isinstance(exc, ConnectionError | TimeoutError | ClusterDownError | SlotNotCoveredError):
        return Retry(refresh=True, pause=True)
    if isinstance(exc, TryAgainError):
        return Retry(refresh=False, pause=True)
    return None


class Budget:
    """The retry budget of one durable cluster write (redirects go again at once).

    ``timeout_s``: the client's timeout, which no attempt as slow as the last takes the
    write past.
    """

    def __init__(self, timeout_s: float = math.inf) -> None:
        self.timeout_s = timeout_s
        self.started = time.monotonic()
        self.attempted = self.started
        self.failures = 0
        self.redirects = 0

    def attempt(self) -> None:
        """An attempt starts now."""
        self.attempted = time.monotonic()

    @property
    def deadline(self) -> float:
        """When the write's time is up (monotonic clock)."""
        return self.started + self.timeout_s

    def after(self, exc: RedisError) -> tuple[Retry, float]:
        """How to go again after ``exc``, and the pause first; raises ``exc`` when it is
        the caller's (not retryable, or the budget is spent)."""
        retry = retry_for(exc)
        pause = self.pause_for(retry)
        if retry is None or pause is None:
            raise exc
        return retry, pause

    def pause_for(self, retry: Retry | None) -> float | None:
        """How long to pause before going again as ``retry`` says; None: give up."""
        if retry is None:
            return None
        if not retry.pause:  # a redirect names the node: go at once
            self.redirects += 1
            return 0.0 if self.redirects <= MAX_REDIRECTS else None
        self.failures += 1
        now = time.monotonic()
        return next_pause(
            self.failures,
            now - self.started,
            random.random(),
            last_s=now - self.attempted,
            timeout_s=self.timeout_s,
        )
