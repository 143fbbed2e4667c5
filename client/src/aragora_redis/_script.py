"""I/O-free: the token-bucket script's calls and replies.

Which checks go in which call (:func:`chunks` for one master, :func:`by_slot` for
a cluster), the call as redis-py arguments (:func:`command`) or as RESP bytes
(:func:`pack`), and :class:`Replies`, which turns the replies into decisions as
they arrive and notes the calls a server without the script (NOSCRIPT) must get
again as EVAL.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import NoScriptError, RedisError

from . import _lua
from ._bucket import Decision, Prepared, parse_reply

SCRIPT = _lua.source("token_bucket")
SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()

#: The most checks one script call decides. Calls of a batch go out together and
#: their replies are read while the server runs the next call; a call also blocks
#: the server for as long as it runs (a few µs a check).
MAX_CHECKS_PER_CALL = 32

Group = Sequence[int]


def chunks(count: int) -> list[Group]:
    """Checks ``0..count-1`` in calls of at most :data:`MAX_CHECKS_PER_CALL`."""
    step = MAX_CHECKS_PER_CALL
    return [range(i, min(i + step, count)) for i in range(0, count, step)]


def by_slot(ps: Sequence[Prepared], slot: Callable[[str], int]) -> list[Group]:
    """Checks grouped so that each call's keys share a Redis Cluster slot."""
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(ps):
        groups.setdefault(slot(p.key), []).append(i)
    step = MAX_CHECKS_PER_CALL
    return [g[j : j + step] for g in groups.values() for j in range(0, len(g), step)]


def command(ps: Sequence[Prepared], group: Group, load: bool) -> tuple[Any, ...]:
    """The call deciding checks ``group`` of ``ps``, as redis-py arguments.

    EVALSHA, or with ``load`` EVAL (which also puts the script back in the cache).
    """
    args: list[Any] = ["EVAL", SCRIPT] if load else ["EVALSHA", SHA]
    args.append(len(group))
    args.extend(ps[i].key for i in group)
    for i in group:
        args += ps[i][1:]
    return tuple(args)


_EVALSHA = b"$7\r\nEVALSHA\r\n$40\r\n%s\r\n" % SHA.encode()
_EVAL = b"$4\r\nEVAL\r\n$%d\r\n%s\r\n" % (len(SCRIPT.encode()), SCRIPT.encode())


def pack(ps: Sequence[Prepared], group: Group, load: bool) -> bytes:
    """:func:`command` as RESP bytes, written here rather than by redis-py's encoder.

    The encoder would be a third of a check's client time; keys recur and so do
    (rate, burst, cost), so their encodings are cached.
    """
    numkeys = b"%d" % len(group)
    out = [b"*%d\r\n" % (3 + 4 * len(group)), _EVAL if load else _EVALSHA]
    out.append(b"$%d\r\n%s\r\n" % (len(numkeys), numkeys))
    out += [_bulk_key(ps[i].key) for i in group]
    out += [_bulk_args(ps[i].rate, ps[i].burst, ps[i].cost) for i in group]
    return b"".join(out)


@functools.lru_cache(maxsize=4096)
def _bulk_key(key: str) -> bytes:
    raw = key.encode()
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


@functools.lru_cache(maxsize=1024)
def _bulk_args(rate: float, burst: float, cost: float) -> bytes:
    texts = [repr(x).encode() for x in (rate, burst, cost)]
    return b"".join(b"$%d\r\n%s\r\n" % (len(t), t) for t in texts)


class Replies:
    """The decisions of one round trip, filled in call by call as the replies arrive."""

    def __init__(self, ps: Sequence[Prepared]) -> None:
        self._ps = ps
        self._decisions: list[Decision | None] = [None] * len(ps)
        self._loading = False
        #: Calls answered NOSCRIPT, to send again with :meth:`reload`.
        self.missing: list[Group] = []

    def take(self, group: Group, reply: Any) -> None:
        """Read the reply of the call for ``group``; an error reply other than
        NOSCRIPT (or NOSCRIPT to an EVAL) is raised."""
        if isinstance(reply, NoScriptError) and not self._loading:
            self.missing.append(group)
            return
        if isinstance(reply, RedisError):
            raise reply
        ps, decisions = self._ps, self._decisions
        for j, i in enumerate(group):
            decisions[i] = parse_reply(ps[i], reply[2 * j], reply[2 * j + 1])

    def reload(self) -> list[Group]:
        """The calls to send again as EVAL; from now on NOSCRIPT is an error."""
        self._loading = True
        missing, self.missing = self.missing, []
        return missing

    def decisions(self) -> list[Decision]:
        """Every check's decision, in the order of the checks."""
        out = [d for d in self._decisions if d is not None]
        if len(out) != len(self._decisions):
            raise RuntimeError("a check got no reply")
        return out
