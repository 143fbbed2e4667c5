"""I/O-free: what the drill's workloads observe, and the figures computed from it.

Workload threads append to an :class:`Observations` (thread-safe); after a fault
:func:`fault_figures` turns the slice of observations inside the fault's window,
plus what verification found on the final master, into the reported figures.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field

from redis.crc import key_slot
from redis.exceptions import ReadOnlyError

from .._moved import PrimaryMoved
from ..local.shards import SHARD_PROMOTED
from .record import Sample

#: The endpoint control plane's event: new connections reach the promoted node.
ENDPOINT_MOVED = "endpoint-moved"
#: Events that mean a replica is now the master (Sentinel's, the endpoint's, a shard's).
PROMOTION = ("+promoted-slave", "+switch-master", ENDPOINT_MOVED, SHARD_PROMOTED)
#: Events after which clients should be on the new master.
SWITCH = ("+switch-master", ENDPOINT_MOVED, SHARD_PROMOTED)
#: A READONLY reaching a caller later than this after the switch counts as late.
LATE_READONLY_S = 0.5


@dataclass
class Observations:
    """Everything one client's workload saw; times are seconds since the run started."""

    write_acks: list[tuple[float, str]] = field(default_factory=list)
    write_errors: list[float] = field(default_factory=list)
    caller_errors: list[tuple[float, str]] = field(default_factory=list)
    decisions: list[tuple[float, str, float]] = field(default_factory=list)
    limiter_errors: list[float] = field(default_factory=list)
    readonly: list[float] = field(default_factory=list)
    events_acked: list[tuple[float, int]] = field(default_factory=list)
    live_heard: list[tuple[float, int]] = field(default_factory=list)
    durable_heard: list[tuple[float, int]] = field(default_factory=list)
    #: Network faults: default (not durable) writes acknowledged, (end, seconds) of
    #: every call, and (start, end, source, allowed) of the small-rate limiter check.
    plain_acks: list[tuple[float, str]] = field(default_factory=list)
    calls: list[tuple[float, float]] = field(default_factory=list)
    bounded: list[tuple[float, float, str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ack(self, t: float, key: str) -> None:
        """A write was acknowledged."""
        with self.lock:
            self.write_acks.append((t, key))

    def error(self, t: float, where: str, write: bool = False, readonly: bool = False) -> None:
        """A call raised; ``write`` when it was one of the counted writes, ``readonly``
        when the error was a READONLY reply (a demoted node served the call)."""
        with self.lock:
            self.caller_errors.append((t, where))
            if write:
                self.write_errors.append(t)
            if readonly:
                self.readonly.append(t)


def is_readonly(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, a READONLY reply, or the -REDIRECT a Valkey 8
    replica answers instead to connections that asked for it (ours do)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ReadOnlyError):
            return True
        if isinstance(seen, PrimaryMoved) and seen.moved.code in ("READONLY", "REDIRECT"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def longest_gap(times: Sequence[float], start: float, end: float) -> float:
    """The longest stretch of ``[start, end]`` without any of ``times``."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max(b - a for a, b in itertools.pairwise(edges))


def first_after(times: Iterable[float], t: float) -> float | None:
    """The first time after ``t``, if any."""
    later = [x for x in times if x > t]
    return min(later) if later else None


def buckets(
    ours: Observations, naive: Observations | None, duration: float, size: float = 0.1
) -> list[Sample]:
    """Acknowledged writes and errors per ``size`` seconds, for the timeline."""
    count = max(1, int(duration / size) + 1)
    samples = [Sample(t=round(i * size, 3)) for i in range(count)]

    def add(times: Iterable[float], attr: str) -> None:
        for t in times:
            i = min(count - 1, max(0, int(t / size)))
            setattr(samples[i], attr, getattr(samples[i], attr) + 1)

    add((t for t, _ in ours.write_acks), "ours_acks")
    add((t for t, _ in ours.caller_errors), "ours_errors")
    if naive is not None:
        add((t for t, _ in naive.write_acks), "naive_acks")
        add((t for t, _ in naive.caller_errors), "naive_errors")
    return samples


@dataclass(frozen=True)
class Verified:
    """What was found on the final master for one client's acknowledged writes and events."""

    missing_keys: frozenset[str] = frozenset()
    stream_seqs: frozenset[int] = frozenset()


def fault_figures(
    obs: Observations,
    verified: Verified,
    start: float,
    end: float,
    sentinel_events: Sequence[tuple[float, str]],
    *,
    with_events: bool,
    shard: Container[int] | None = None,
) -> dict[str, float]:
    """The reported figures of one client for the fault window ``[start, end]``.

    ``shard``: on a cluster, the slots of the shard that failed over; its keys' acks
    give ``shard_outage_s`` (the other shards keep acknowledging through the fault).
    """
    with obs.lock:
        acks = [(t, k) for t, k in obs.write_acks if start <= t <= end]
        ack_times = [t for t, _ in obs.write_acks]
        if shard is not None:
            shard_times = [t for t, k in obs.write_acks if key_slot(k.encode()) in shard]
        errors = [t for t, _ in obs.caller_errors if start <= t <= end]
        fallback = [t for t, src, _ in obs.decisions if start <= t <= end and src == "fallback"]
        slowest = max((ms for t, _, ms in obs.decisions if start <= t <= end), default=0.0)
        limiter_errors = [t for t in obs.limiter_errors if start <= t <= end]
        readonly = [t for t in obs.readonly if start <= t <= end]
        published = [seq for t, seq in obs.events_acked if start <= t <= end]
        durable = {seq for _, seq in obs.durable_heard}
        live = [t for t, _ in obs.live_heard]
    switches = [t for t, ch in sentinel_events if start <= t <= end and ch in SWITCH]
    promotions = [t for t, ch in sentinel_events if start <= t <= end and ch in PROMOTION]
    figures: dict[str, float] = {
        "write_outage_s": round(longest_gap(ack_times, start, end), 3),
        "acked_writes": len(acks),
        "acked_writes_lost": sum(1 for _, k in acks if k in verified.missing_keys),
        "caller_errors": len(errors),
        "readonly_errors": len(readonly),
    }
    if shard is not None:
        figures["shard_outage_s"] = round(longest_gap(shard_times, start, end), 3)
    if with_events:  # only our workload has a rate limiter and events
        figures["fallback_decisions"] = len(fallback)
        figures["limiter_errors"] = len(limiter_errors)
        figures["slowest_decision_ms"] = round(slowest, 2)
    if switches:
        follow = first_after(ack_times, switches[0])
        figures["switch_follow_s"] = round(follow - switches[0], 3) if follow else -1.0
        late = switches[-1] + LATE_READONLY_S
        figures["readonly_late"] = sum(1 for t in readonly if t > late)
    if with_events:
        # The stream is capped (MAXLEN ~): events older than its oldest entry were trimmed,
        # not lost in a failover, so only the retained range is judged.
        oldest = min(verified.stream_seqs, default=0)
        judged = [seq for seq in published if seq >= oldest]
        present = [seq for seq in judged if seq in verified.stream_seqs]
        figures["events_published"] = len(published)
        figures["events_lost"] = sum(1 for seq in present if seq not in durable)
        figures["events_unreplicated"] = len(judged) - len(present)
        if promotions:
            heard = first_after(live, promotions[0])
            figures["subscriber_recovery_s"] = round(heard - promotions[0], 3) if heard else -1.0
    return figures
