"""I/O-free: the client's OpenTelemetry metrics, and the one place that records them.

Every instrument is listed in the README ("Metrics"). The places where an event is
decided (the breaker, the limiter's core, the Sentinel watcher, the connections,
the subscriber's liveness, the session store) call one function here each.

Without ``opentelemetry-api`` (the ``aragora-redis[otel]`` extra) there are no
instruments: ``_on`` is None and every function returns at its first line, so the
limiter's hot path pays a function call and a global lookup, and no clock read.
With the API the instruments come from the global MeterProvider (a proxy until the
service sets one); :func:`use_meter_provider` binds them to a given provider
instead (tests use it with the SDK's in-memory reader, and undo it with ``None``).

Attributes follow the OpenTelemetry semantic conventions for database clients
where one exists (``db.system.name``, ``server.address``, ``server.port``,
``error.type``, ``db.response.status_code``); ours are prefixed ``aragora_redis.``.

A topology change (a failover the client followed) is also one structured log
line on the ``aragora_redis`` logger: which master, from where to where, and why.
No settings object, URL or password goes into it, only addresses and names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider

    from ._bucket import Decision, Source

log = logging.getLogger("aragora_redis")

METER = "aragora_redis"
SYSTEM = {"db.system.name": "redis"}
#: Bucket bounds of the check latency histogram, seconds (a check is ~0.1-1 ms;
#: the limiter's own timeout is 50 ms).
DURATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


@dataclass(frozen=True, slots=True)
class Instruments:
    """The instruments of one meter."""

    decisions: Counter
    duration: Histogram
    breaker: Counter
    failovers: Counter
    moved: Counter
    script_reloads: Counter
    script_splits: Counter
    reconnects: Counter
    gaps: Counter
    not_replicated: Counter


def _instruments(provider: MeterProvider | None) -> Instruments | None:
    """The instruments from ``provider`` (default: the global one); None without the API."""
    try:
        from opentelemetry import metrics
    except ImportError:
        return None
    from ._version import __version__

    meter = (provider or metrics.get_meter_provider()).get_meter(METER, __version__)
    counter = meter.create_counter
    return Instruments(
        decisions=counter(
            "aragora_redis.ratelimit.decisions", "{decision}", "Rate-limit checks decided"
        ),
        duration=meter.create_histogram(
            "aragora_redis.ratelimit.duration",
            "s",
            "Time to decide one round trip of rate-limit checks",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        ),
        breaker=counter(
            "aragora_redis.breaker.transitions", "{transition}", "Rate limiter breaker changes"
        ),
        failovers=counter(
            "aragora_redis.failovers", "{failover}", "Primary changes the client followed"
        ),
        moved=counter(
            "aragora_redis.primary_moved", "{reply}", 'Replies meaning "not the primary"'
        ),
        script_reloads=counter(
            "aragora_redis.ratelimit.script_reloads",
            "{call}",
            "Limiter script calls sent again as EVAL after NOSCRIPT",
        ),
        script_splits=counter(
            "aragora_redis.ratelimit.script_splits",
            "{call}",
            "Limiter script calls refused as CROSSSLOT and sent again one slot per call",
        ),
        reconnects=counter(
            "aragora_redis.subscriber.reconnects", "{reconnect}", "Pub/sub subscriber reconnects"
        ),
        gaps=counter("aragora_redis.subscriber.gaps", "{gap}", "Gap events yielded to subscribers"),
        not_replicated=counter(
            "aragora_redis.durable.not_replicated",
            "{write}",
            "Durable writes no replica acknowledged in time",
        ),
    )


_on: Instruments | None = _instruments(None)


def use_meter_provider(provider: MeterProvider | None = None) -> None:
    """Record into ``provider`` from now on; ``None``: the global MeterProvider again.

    A service that sets the global provider needs nothing else; this exists for a
    service that keeps its own provider, and for tests.
    """
    global _on  # the one switch every record function reads
    _on = _instruments(provider)


def disable() -> None:
    """Record nothing (as without the API installed) until :func:`use_meter_provider`."""
    global _on
    _on = None


def _attrs(**extra: Any) -> dict[str, Any]:
    return {**SYSTEM, **{f"aragora_redis.{k}": v for k, v in extra.items()}}


_DECIDED = {
    (source, outcome): _attrs(source=source, outcome=outcome)
    for source in ("redis", "fallback")
    for outcome in ("allowed", "denied")
}
_UNAVAILABLE = _attrs(source="none", outcome="unavailable")
_LATENCY = {source: _attrs(source=source) for source in ("redis", "fallback", "none")}


def start() -> float:
    """The start of a check, for :func:`decided` (0.0, and no clock read, when off)."""
    return perf_counter() if _on is not None else 0.0


def decided(source: Source, decisions: Sequence[Decision], started: float) -> None:
    """Count a round trip's decisions by source and outcome, and time it."""
    on = _on
    if on is None:
        return
    allowed = sum(1 for d in decisions if d.allowed)
    if allowed:
        on.decisions.add(allowed, _DECIDED[source, "allowed"])
    if denied := len(decisions) - allowed:
        on.decisions.add(denied, _DECIDED[source, "denied"])
    if started:
        on.duration.record(perf_counter() - started, _LATENCY[source])


def unavailable(checks: int, started: float, error: BaseException | None) -> None:
    """Count checks refused because Redis is gone and the limiter fails closed."""
    on = _on
    if on is None:
        return
    on.decisions.add(checks, _UNAVAILABLE)
    if started:
        kind = type(error).__name__ if error is not None else "BreakerOpen"
        on.duration.record(perf_counter() - started, {**_LATENCY["none"], "error.type": kind})


def breaker_changed(previous: str, state: str) -> None:
    """The rate limiter's breaker went from ``previous`` to ``state``."""
    on = _on
    if on is not None:
        on.breaker.add(1, _attrs(**{"breaker.state": state, "breaker.previous_state": previous}))


def _addr(addr: tuple[str, int] | None) -> str:
    return f"{addr[0]}:{addr[1]}" if addr else "unknown"


def followed(
    mode: str,
    name: str,
    old: tuple[str, int] | None,
    new: tuple[str, int] | None,
    why: str,
) -> None:
    """The client followed a primary change: count it and log one structured line.

    ``name`` is the Sentinel master name or the endpoint (``host:port``); ``new`` is
    None when the client only knows the old primary refused (an endpoint's name is
    resolved again by the next connection).
    """
    log.info(
        "topology change: mode=%s master=%s from=%s to=%s why=%s",
        mode,
        name,
        _addr(old),
        _addr(new),
        why,
        extra={
            "aragora_redis_topology": {
                "mode": mode,
                "master": name,
                "from": _addr(old),
                "to": _addr(new),
                "why": why,
            }
        },
    )
    on = _on
    if on is None:
        return
    attrs = _attrs(mode=mode, reason=why.split()[0] if why else "unknown")
    if new is not None:
        attrs.update({"server.address": new[0], "server.port": new[1]})
    on.failovers.add(1, attrs)


#: Replies of one endpoint failover arrive on many connections (and clients) within
#: about a second; those within this many seconds of the first count once.
ENDPOINT_FAILOVER_WINDOW_S = 5.0
_left: dict[Any, float] = {}
_left_lock = threading.Lock()


def _first_in_window(seen: dict[Any, float], key: Any, now: float) -> bool:
    """Whether ``key`` was not seen within ``ENDPOINT_FAILOVER_WINDOW_S`` before ``now``."""
    with _left_lock:
        last = seen.get(key)
        if last is not None and now - last < ENDPOINT_FAILOVER_WINDOW_S:
            return False
        seen[key] = now
        return True


def endpoint_left(endpoint: str, node: str, code: str, now: float) -> None:
    """A standalone endpoint's node ``node`` answered ``code`` (not the primary) at ``now``.

    Counted (and logged) as one failover followed per endpoint per
    ``ENDPOINT_FAILOVER_WINDOW_S``, however many connections of the process heard it.
    """
    if _first_in_window(_left, endpoint, now):
        followed("endpoint", endpoint, None, None, f"{code} from {node}")


#: Each cluster client of a process refreshes its own slot map: a shard failover seen
#: by several within this many seconds counts once.
_shards: dict[Any, float] = {}


def shard_moved(old: tuple[str, int], new: tuple[str, int], slots: str, now: float) -> None:
    """A cluster slot map names primary ``new`` where ``old`` was, for ``slots``.

    Counted (and logged) once per (old, new) pair per ``ENDPOINT_FAILOVER_WINDOW_S``
    in the process, however many cluster clients refreshed their map.
    """
    if _first_in_window(_shards, (_addr(old), _addr(new)), now):
        followed("cluster", slots, old, new, f"slot-map {slots}")


def primary_moved(code: str, mode: str, host: Any, port: Any) -> None:
    """A node ``host:port`` answered ``code`` (READONLY, MASTERDOWN, LOADING, ...)."""
    on = _on
    if on is None:
        return
    attrs = _attrs(mode=mode)
    attrs.update({"error.type": code, "db.response.status_code": code})
    if host is not None:
        attrs["server.address"] = str(host)
    if port is not None:
        attrs["server.port"] = int(port)
    on.moved.add(1, attrs)


_NOSCRIPT = {**SYSTEM, "db.response.status_code": "NOSCRIPT"}


def script_reloaded(calls: int) -> None:
    """``calls`` script calls answered NOSCRIPT and go again as EVAL."""
    on = _on
    if on is not None:
        on.script_reloads.add(calls, _NOSCRIPT)


_CROSSSLOT = {**SYSTEM, "db.response.status_code": "CROSSSLOT"}


def script_split(calls: int) -> None:
    """``calls`` script calls answered CROSSSLOT: the limiter keeps calls to one slot
    from now on and sends their checks again."""
    on = _on
    if on is not None:
        on.script_splits.add(calls, _CROSSSLOT)


def reconnected(by: str) -> None:
    """A subscriber is subscribed again after losing its connection (``by``: who redid it)."""
    on = _on
    if on is not None:
        on.reconnects.add(1, _attrs(reconnected_by=by))


def gap() -> None:
    """A subscriber was handed a gap event."""
    on = _on
    if on is not None:
        on.gaps.add(1, SYSTEM)


def not_replicated(store: str) -> None:
    """A durable write of ``store`` reached the primary but no replica in time."""
    on = _on
    if on is not None:
        on.not_replicated.add(1, _attrs(store=store))
