"""I/O-free: whether a durable cluster write (SET + WAIT on one connection) goes again.

The durable session put sends SET and WAIT down one connection to the slot's
primary, outside redis-py's cluster routing, so it decides itself what a failure
means (once: a second failure is the caller's):

- ``MOVED``: the slot has a new primary; refresh the slot map and route again;
- ``ASK``: the slot is being migrated and the key may be on the importing node;
  send ``ASKING`` there, then the write;
- a connection error or timeout: the node may be gone (a failover); refresh the
  slot map and route again. SET of the same value is idempotent, so sending it
  twice is harmless.
"""

from __future__ import annotations

from typing import NamedTuple

from redis.exceptions import AskError, ConnectionError, MovedError, TimeoutError


class Retry(NamedTuple):
    """How to send the write again."""

    #: Refresh the slot map first, then route by the key.
    refresh: bool
    #: Send ASKING to this node (host, port) first, instead of routing by the key.
    ask: tuple[str, int] | None = None


def retry_for(exc: BaseException) -> Retry | None:
    """How to go again after ``exc``, or None when it is the caller's error."""
    if isinstance(exc, MovedError):  # a subclass of AskError
        return Retry(refresh=True)
    if isinstance(exc, AskError):
        return Retry(refresh=False, ask=(exc.host, int(exc.port)))
    if isinstance(exc, ConnectionError | TimeoutError):
        return Retry(refresh=True)
    return None
