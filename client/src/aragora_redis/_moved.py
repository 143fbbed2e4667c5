"""I/O-free: the one decision "this reply says the node is not the primary", for every
connection that writes to a primary, Sentinel-managed or behind a managed endpoint's
DNS name, sync and asyncio alike.

:func:`primary_moved` reads an error reply:

- ``READONLY`` (a replica), ``MASTERDOWN`` (a replica that lost its primary),
  ``LOADING`` (a node still loading its data set) and, on Valkey 8+, ``-REDIRECT
  host:port`` (a replica answering a connection that sent ``CLIENT CAPA redirect``)
  say the node is not the primary: the command did not run, so it may go again,
  and every connection to that node is stale (``elsewhere``);
- ``NOREPLICAS`` comes from a primary short of replicas for a moment (just after a
  promotion): the command did not run either, but the node is still the primary.

The connections then raise :class:`PrimaryMoved` instead of the reply: a redis-py
``ConnectionError``, so the client's bounded retry reconnects (asking Sentinel, or
resolving the endpoint's name again) and sends the command again.

A write whose reply is lost (a reset or a timeout after it was sent) may have run.
Stores whose write is not idempotent mark it with :func:`at_most_once`; the
connections then raise :class:`OutcomeUnknown`, which redis-py does not retry.
Both are redis-py-level signals and reach callers as
:class:`~aragora_redis.errors.RedisUnavailable` through :mod:`aragora_redis._boundary`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    MasterDownError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
)

#: Error codes meaning "this node cannot take the command, try again", and whether
#: they also mean the node is not the primary (drop every connection to it).
CODES: dict[str, bool] = {
    "READONLY": True,
    "MASTERDOWN": True,
    "LOADING": True,
    "REDIRECT": True,
    "NOREPLICAS": False,
}
#: Sent by a new connection: Valkey 8+ replicas then answer -REDIRECT, to reads as
#: well as writes. Redis 7 and older Valkey answer an error, which is ignored (as
#: redis-py ignores its own CLIENT SETINFO being refused).
CAPA_REDIRECT = ("CLIENT", "CAPA", "redirect")


@dataclass(frozen=True)
class Moved:
    """What a "not the primary" reply says."""

    code: str
    #: The node is not the primary: every connection to it is stale.
    elsewhere: bool
    #: Where a Valkey replica says the primary is (informative: clients reconnect
    #: through the endpoint's name or Sentinel, which TLS certificates cover).
    redirect: tuple[str, int] | None = None


class PrimaryMoved(ConnectionError):
    """Raised by a connection in place of a "not the primary" reply (nothing ran)."""

    def __init__(self, where: str, moved: Moved) -> None:
        super().__init__(f"{where} answered {moved.code}: not the primary; reconnecting")
        self.moved = moved


class OutcomeUnknown(RedisError):
    """The reply of a write that is not idempotent was lost: it may or may not have run."""


def parse_redirect(text: str) -> tuple[str, int] | None:
    """``host:port`` of a ``-REDIRECT`` reply (IPv6 with or without brackets), or None."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        return None
    return host, int(port)


def primary_moved(exc: BaseException) -> Moved | None:
    """The "not the primary" reply ``exc`` is, or None for any other error."""
    if isinstance(exc, PrimaryMoved):
        return exc.moved
    if isinstance(exc, ReadOnlyError):  # redis-py drops the code from the message
        return Moved("READONLY", True)
    if isinstance(exc, BusyLoadingError):
        return Moved("LOADING", True)
    if isinstance(exc, MasterDownError):
        return Moved("MASTERDOWN", True)
    if not isinstance(exc, ResponseError):
        return None
    code, _, rest = str(exc).partition(" ")
    if code not in CODES:
        return None
    return Moved(code, CODES[code], parse_redirect(rest) if code == "REDIRECT" else None)


_AT_MOST_ONCE: ContextVar[bool] = ContextVar("aragora_redis_at_most_once", default=False)


@contextmanager
def at_most_once() -> Iterator[None]:
    """Within the block (this thread or task), a write whose reply is lost is not sent again."""
    token = _AT_MOST_ONCE.set(True)
    try:
        yield
    finally:
        _AT_MOST_ONCE.reset(token)


def in_at_most_once() -> bool:
    """Whether the current thread or task is inside :func:`at_most_once`."""
    return _AT_MOST_ONCE.get()


def reply_lost(exc: BaseException) -> bool:
    """True when ``exc``, read after sending an at-most-once write, leaves its outcome unknown."""
    return (
        _AT_MOST_ONCE.get()
        and isinstance(exc, ConnectionError | TimeoutError)
        and primary_moved(exc) is None
    )
