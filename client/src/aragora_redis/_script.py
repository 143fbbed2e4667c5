"""I/O-free: the token-bucket script's calls and replies.

Which checks go in which call (:func:`calls`, in every mode: the keys of one call
share a slot, as a Redis Cluster and sharding proxies such as Azure Managed Redis's
EnterpriseCluster policy require even of a "standalone" endpoint), the call as
redis-py arguments (:func:`command`) or as RESP bytes (:func:`pack`,
:func:`pack_calls`), and
:class:`Replies`, which turns the replies into decisions as they arrive and notes
the calls a server without the script (NOSCRIPT) must get again as EVAL.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redis.crc import key_slot
from redis.exceptions import NoScriptError, RedisError

from . import _lua, _metrics
from ._bucket import Decision, Prepared, parse_reply

SCRIPT = _lua.source("token_bucket")
SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()

#: The most checks one script call decides: a call blocks the server while it runs
#: (a few µs a check). The calls of a batch still go out in one write.
MAX_CHECKS_PER_CALL = 32

Group = Sequence[int]


_ONE_CALL: list[Group] = [(0,)]


def calls(ps: Sequence[Prepared], slot: Callable[[str], int] | None = None) -> list[Group]:
    """The checks ``ps`` in script calls: each call's keys share one slot and one limit.

    A script's keys must hash to one slot on a Redis Cluster and behind a sharding
    proxy that answers CROSSSLOT, so calls never span slots, whatever the mode.
    Within a slot, :func:`runs` keeps the order, so checks of one key (always one
    slot) are decided in the order they were made. ``slot`` defaults to Redis
    Cluster's own key slot (:func:`key_slot`).
    """
    if len(ps) == 1:
        return _ONE_CALL
    slot_of = slot or _slot
    slots: dict[int, list[int]] = {}
    for i, p in enumerate(ps):
        slots.setdefault(slot_of(p.key), []).append(i)
    # Most slots of a batch of many callers hold one check: a call of its own.
    return [g for order in slots.values() for g in (runs(ps, order) if order[1:] else (order,))]


@functools.lru_cache(maxsize=4096)
def _slot(key: str) -> int:
    """The Redis Cluster slot of ``key`` (of its hash tag); cached, as keys recur."""
    return key_slot(key.encode())


def runs(ps: Sequence[Prepared], order: Iterable[int]) -> list[Group]:
    """Checks ``order`` of ``ps`` in calls: runs of one (rate, burst, cost), in order.

    One call takes its limits once, so a check costs the server only its key; the
    order is kept, so checks of one key are decided in the order they were made.
    The caller makes sure the keys of ``order`` share a slot (:func:`calls`).
    """
    groups: list[Group] = []
    group: list[int] = []
    limits = None
    for i in order:
        if ps[i][1:] != limits or len(group) == MAX_CHECKS_PER_CALL:
            group = []
            groups.append(group)
            limits = ps[i][1:]
        group.append(i)
    return groups


def command(ps: Sequence[Prepared], group: Group, load: bool) -> tuple[Any, ...]:
    """The call deciding checks ``group`` of ``ps``, as redis-py arguments.

    EVALSHA, or with ``load`` EVAL (which also puts the script back in the cache).
    Every check of a group has the same (rate, burst, cost).
    """
    args: list[Any] = ["EVAL", SCRIPT] if load else ["EVALSHA", SHA]
    args.append(len(group))
    args.extend(ps[i].key for i in group)
    args.extend(ps[group[0]][1:])
    return tuple(args)


_EVALSHA = b"$7\r\nEVALSHA\r\n$40\r\n%s\r\n" % SHA.encode()
_EVAL = b"$4\r\nEVAL\r\n$%d\r\n%s\r\n" % (len(SCRIPT.encode()), SCRIPT.encode())


def pack(ps: Sequence[Prepared], group: Group, load: bool) -> bytes:
    """:func:`command` as RESP bytes, written here rather than by redis-py's encoder.

    The encoder would be a third of a check's client time; keys recur and so do
    limits, so their encodings are cached.
    """
    if len(group) == 1:  # the common call: one check, one key
        return _one(ps[group[0]], load)
    out = [_head(len(group), load)]
    out += [_bulk_key(ps[i].key) for i in group]
    out.append(_bulk_limits(*ps[group[0]][1:]))
    return b"".join(out)


def pack_calls(ps: Sequence[Prepared], groups: Sequence[Group], load: bool) -> list[bytes]:
    """Every call of ``groups`` as one buffer, for one write (one system call).

    A batch of checks of many callers is a call per slot, so up to one a check:
    written piece by piece they would cost a ``sendall`` each.
    """
    return [b"".join([pack(ps, g, load) for g in groups])]


@functools.lru_cache(maxsize=4096)
def _one(p: Prepared, load: bool) -> bytes:
    return _head(1, load) + _bulk_key(p.key) + _bulk_limits(*p[1:])


@functools.lru_cache(maxsize=2 * MAX_CHECKS_PER_CALL)
def _head(numkeys: int, load: bool) -> bytes:
    count = b"%d" % numkeys
    return b"*%d\r\n%s$%d\r\n%s\r\n" % (
        6 + numkeys,
        _EVAL if load else _EVALSHA,
        len(count),
        count,
    )


@functools.lru_cache(maxsize=4096)
def _bulk_key(key: str) -> bytes:
    raw = key.encode()
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


@functools.lru_cache(maxsize=1024)
def _bulk_limits(rate: float, burst: float, cost: float) -> bytes:
    texts = [repr(x).encode() for x in (rate, burst, cost)]
    return b"".join(b"$%d\r\n%s\r\n" % (len(t), t) for t in texts)


class Replies:
    """The decisions of one round trip, filled in call by call as the replies arrive."""

    __slots__ = ("_decisions", "_loading", "_ps", "missing")

    def __init__(self, ps: Sequence[Prepared]) -> None:
        self._ps = ps
        self._decisions: list[Decision | None] = [None] * len(ps)
        self._loading = False
        #: Calls answered NOSCRIPT, to send again with :meth:`reload`.
        self.missing: list[Group] = []

    def take(self, group: Group, reply: Any) -> None:
        """Read the reply of the call for ``group``; an error reply other than
        NOSCRIPT (or NOSCRIPT to an EVAL) is raised."""
        if isinstance(reply, RedisError):
            if not isinstance(reply, NoScriptError) or self._loading:
                raise reply
            self.missing.append(group)
            return
        ps, decisions = self._ps, self._decisions
        for j, i in enumerate(group):
            decisions[i] = parse_reply(ps[i], reply[2 * j], reply[2 * j + 1])

    def reload(self) -> list[Group]:
        """The calls to send again as EVAL; from now on NOSCRIPT is an error."""
        self._loading = True
        missing, self.missing = self.missing, []
        _metrics.script_reloaded(len(missing))
        return missing

    def decisions(self) -> list[Decision]:
        """Every check's decision, in the order of the checks."""
        out = [d for d in self._decisions if d is not None]
        if len(out) != len(self._decisions):
            raise RuntimeError("a check got no reply")
        return out
