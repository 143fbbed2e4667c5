"""I/O-free: the token-bucket script's calls and replies.

Which checks go in which call (:func:`calls`): on a server that may shard keys (a
Redis Cluster, a sharding proxy such as Azure Managed Redis's EnterpriseCluster
policy behind a "standalone" endpoint) every call's keys share a slot; on a plain
server, where slots do not exist, a call takes up to 32 keys of one limit.
:func:`by_slot` decides which, from what the settings, the server (``INFO
cluster``, :func:`reports_cluster`) and a CROSSSLOT reply said; :func:`split`
regroups the calls a server refused as CROSSSLOT. The call as redis-py arguments
(:func:`command`) or as RESP bytes (:func:`pack`, :func:`pack_calls`), and
:class:`Replies`, which turns the replies into decisions as they arrive and notes
the calls a server without the script (NOSCRIPT) or refusing keys of several slots
(CROSSSLOT) must get again.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redis.crc import key_slot
from redis.exceptions import ClusterCrossSlotError, NoScriptError, RedisError

from . import _lua, _metrics
from ._bucket import Decision, Prepared, parse_reply, parse_run

SCRIPT = _lua.source("token_bucket")
SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()

#: The most checks one script call decides: a call blocks the server while it runs
#: (a few µs a key; more checks of one key cost little). The calls of a batch still
#: go out in one write.
MAX_CHECKS_PER_CALL = 32

Group = Sequence[int]


_ONE_CALL: list[Group] = [(0,)]


def by_slot(*, cluster: bool, sharded: bool, server: bool | None, refused: bool) -> bool:
    """Whether each script call must keep its keys in one slot.

    Yes on a cluster (``cluster``: the contract's mode), when the settings say the
    endpoint shards keys (``sharded``: ``ARAGORA_REDIS_SHARDED``, a proxy that looks
    like one server), when the server reports cluster mode (``server``: from
    :func:`reports_cluster`; ``None`` while not known, and then it may be sharded),
    and for good once a server refused a call as CROSSSLOT (``refused``). Otherwise
    the server is one unsharded Redis, and a call takes many callers' keys.
    """
    return cluster or sharded or refused or server is not False


def reports_cluster(info: Any) -> bool | None:
    """Whether an ``INFO cluster`` reply says ``cluster_enabled:1``; ``None`` when the
    reply is not one (an error such as NOPERM, or no such field)."""
    if isinstance(info, bytes):
        info = info.decode(errors="replace")
    if not isinstance(info, str):
        return None
    for line in info.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "cluster_enabled":
            return value.strip() == "1"
    return None


def calls(
    ps: Sequence[Prepared],
    slot: Callable[[str], int] | None = None,
    *,
    slots: bool = True,
) -> list[Group]:
    """The checks ``ps`` in script calls of one limit, with ``slots`` also of one slot.

    ``slots`` comes from :func:`by_slot`. Within a slot (or the whole batch without
    ``slots``), :func:`runs` keeps the order, so checks of one key (always one slot)
    are decided in the order they were made. ``slot`` defaults to Redis Cluster's own
    key slot (:func:`key_slot`).
    """
    if len(ps) == 1:
        return _ONE_CALL
    if not slots:
        return runs(ps, range(len(ps)))
    return _in_slots(ps, range(len(ps)), slot or _slot)


def split(
    ps: Sequence[Prepared], refused: Sequence[Group], slot: Callable[[str], int] | None = None
) -> list[Group]:
    """The checks of the calls a server refused as CROSSSLOT, in calls of one slot.

    A refused call did not run, so its checks can go again; they keep their order.
    """
    return _in_slots(ps, sorted(i for g in refused for i in g), slot or _slot)


def _in_slots(
    ps: Sequence[Prepared], order: Iterable[int], slot: Callable[[str], int]
) -> list[Group]:
    slots: dict[int, list[int]] = {}
    for i in order:
        slots.setdefault(slot(ps[i].key), []).append(i)
    # Most slots of a batch of many callers hold one check: a call of its own.
    return [g for one in slots.values() for g in (runs(ps, one) if one[1:] else (one,))]


@functools.lru_cache(maxsize=4096)
def _slot(key: str) -> int:
    """The Redis Cluster slot of ``key`` (of its hash tag); cached, as keys recur."""
    return key_slot(key.encode())


def runs(ps: Sequence[Prepared], order: Iterable[int]) -> list[Group]:
    """Checks ``order`` of ``ps`` in calls: runs of one (rate, burst, cost), in order.

    One call takes its limits once, so a check costs the server only its key; the
    order is kept, so checks of one key are decided in the order they were made.
    The caller makes sure the keys of ``order`` share a slot where they must (:func:`calls`).
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


def by_key(ps: Sequence[Prepared], group: Group) -> dict[str, list[int]]:
    """The checks of call ``group`` by key, keys in the order of their first check.

    A call sends each key once with how many checks it has: the script decides
    them in a row, as it would the key sent again and again, for less work.
    """
    keyed: dict[str, list[int]] = {}
    for i in group:
        keyed.setdefault(ps[i].key, []).append(i)
    return keyed


def command(ps: Sequence[Prepared], group: Group, load: bool) -> tuple[Any, ...]:
    """The call deciding checks ``group`` of ``ps``, as redis-py arguments.

    EVALSHA, or with ``load`` EVAL (which also puts the script back in the cache).
    Every check of a group has the same (rate, burst, cost).
    """
    keyed = by_key(ps, group)
    args: list[Any] = ["EVAL", SCRIPT] if load else ["EVALSHA", SHA]
    args.append(len(keyed))
    args.extend(keyed)
    args.extend(ps[group[0]][1:])
    args.extend(len(checks) for checks in keyed.values())
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
    names = [ps[i].key for i in group]
    if len(set(names)) == len(names):  # many callers: a check each
        out = [_head(len(names), load)]
        out += [_bulk_key(key) for key in names]
        out.append(_bulk_limits(*ps[group[0]][1:]))
        out.append(_ONE_CHECK * len(names))
        return b"".join(out)
    keyed = by_key(ps, group)
    out = [_head(len(keyed), load)]
    out += [_bulk_key(key) for key in keyed]
    out.append(_bulk_limits(*ps[group[0]][1:]))
    out += [_count(len(checks)) for checks in keyed.values()]
    return b"".join(out)


def pack_calls(ps: Sequence[Prepared], groups: Sequence[Group], load: bool) -> list[bytes]:
    """Every call of ``groups`` as one buffer, for one write (one system call).

    A batch of checks of many callers is a call per slot, so up to one a check:
    written piece by piece they would cost a ``sendall`` each.
    """
    return [b"".join([pack(ps, g, load) for g in groups])]


@functools.lru_cache(maxsize=4096)
def _one(p: Prepared, load: bool) -> bytes:
    return _head(1, load) + _bulk_key(p.key) + _bulk_limits(*p[1:]) + _ONE_CHECK


@functools.lru_cache(maxsize=2 * MAX_CHECKS_PER_CALL)
def _head(numkeys: int, load: bool) -> bytes:
    count = b"%d" % numkeys
    return b"*%d\r\n%s$%d\r\n%s\r\n" % (
        6 + 2 * numkeys,
        _EVAL if load else _EVALSHA,
        len(count),
        count,
    )


@functools.lru_cache(maxsize=MAX_CHECKS_PER_CALL)
def _count(checks: int) -> bytes:
    text = b"%d" % checks
    return b"$%d\r\n%s\r\n" % (len(text), text)


_ONE_CHECK = _count(1)


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

    __slots__ = ("_decisions", "_loading", "_ps", "_split", "missing", "refused")

    def __init__(self, ps: Sequence[Prepared]) -> None:
        self._ps = ps
        self._decisions: list[Decision | None] = [None] * len(ps)
        self._loading = False
        self._split = False
        #: Calls answered NOSCRIPT, to send again with :meth:`reload`.
        self.missing: list[Group] = []
        #: Calls answered CROSSSLOT (they did not run), to send again by :func:`split`.
        self.refused: list[Group] = []

    def take(self, group: Group, reply: Any) -> None:
        """Read the reply of the call for ``group``; an error reply other than
        NOSCRIPT (or NOSCRIPT to an EVAL) and CROSSSLOT (or CROSSSLOT to a call of
        one slot) is raised."""
        if isinstance(reply, RedisError):
            if isinstance(reply, ClusterCrossSlotError) and not self._split:
                self.refused.append(group)
                return
            if not isinstance(reply, NoScriptError) or self._loading:
                raise reply
            self.missing.append(group)
            return
        ps, decisions = self._ps, self._decisions
        if len(group) == 1:
            decisions[group[0]] = parse_reply(ps[group[0]], reply[0], reply[1])
            return
        if len(reply) == 2 * len(group):  # a check per key (more checks add a field)
            for j, i in enumerate(group):
                decisions[i] = parse_reply(ps[i], reply[2 * j], reply[2 * j + 1])
            return
        at = 0  # per key: admitted, tokens left, and with more than one check, before
        for checks in by_key(ps, group).values():
            if len(checks) == 1:
                decisions[checks[0]] = parse_reply(ps[checks[0]], reply[at], reply[at + 1])
                at += 2
                continue
            got = parse_run(ps[checks[0]], len(checks), reply[at], reply[at + 2])
            for i, decision in zip(checks, got, strict=True):
                decisions[i] = decision
            at += 3

    def resend(self) -> list[Group]:
        """The calls refused as CROSSSLOT, as calls of one slot each, to send again;
        from now on CROSSSLOT is an error."""
        self._split = True
        refused, self.refused = self.refused, []
        _metrics.script_split(len(refused))
        return split(self._ps, refused)

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
