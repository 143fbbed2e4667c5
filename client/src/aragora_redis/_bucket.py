"""I/O-free: the token bucket, written once.

:func:`take` is the whole algorithm. The in-memory fallback runs it as it is and
``lua/token_bucket.lua`` mirrors it operation for operation (the tests feed both
the same (time, cost) sequence and compare). This module also validates and packs
the script's arguments and parses its reply, so the sync and asyncio limiters
share everything but the I/O.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from . import keys
from .errors import ConfigError

Source = Literal["redis", "fallback"]

#: The scope of a check that names none: ``aragora:ratelimit:default:{<key>}``.
DEFAULT_SCOPE = "default"

#: The longest expiry a bucket gets (ten years): PEXPIRE takes integers only, and a
#: tiny rate would otherwise ask for more milliseconds than print as one.
MAX_TTL_MS = 315_360_000_000


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one check.

    ``remaining`` is the (fractional) number of tokens left after this check,
    ``retry_after`` the seconds until a check of the same cost would be allowed
    (0 when allowed), ``source`` whether Redis or the in-memory fallback decided.
    """

    allowed: bool
    remaining: float
    retry_after: float
    source: Source


class Check(NamedTuple):
    """One check of a batch: the same arguments as ``hit``."""

    key: str
    rate: float
    burst: float
    cost: float = 1
    scope: str = DEFAULT_SCOPE


class Step(NamedTuple):
    """One step of the bucket: the decision, and the state to store if it changed."""

    allowed: bool
    remaining: float
    retry_after: float
    stored: tuple[float, float] | None
    ttl_ms: int


def take(
    tokens: float | None,
    last_refill: float | None,
    now: float,
    rate: float,
    burst: float,
    cost: float,
) -> Step:
    """Refill the bucket up to ``now`` and take ``cost`` tokens if there are enough.

    A bucket never seen (``tokens`` or ``last_refill`` is None) starts full. Time
    never runs backwards: a clock behind ``last_refill`` (a new master's may lag)
    refills nothing and keeps ``last_refill``. Only an allowed check changes the
    stored ``(tokens, last_refill)``: refilling is linear, so a denied check's state
    is the stored one seen later. ``ttl_ms`` (when stored) is when the bucket is full
    again, after which forgetting it changes nothing.
    """
    ahead = 0.0
    if tokens is None or last_refill is None:
        tokens = burst
        last_refill = now
    elif now > last_refill:
        tokens = tokens + (now - last_refill) * rate
        last_refill = now
    else:
        ahead = last_refill - now
    if tokens > burst:
        tokens = burst
    if tokens < cost:
        return Step(False, tokens, retry_after(False, tokens, rate, cost), None, 0)
    tokens = tokens - cost
    ttl_ms = min(MAX_TTL_MS, max(1, math.ceil((ahead + (burst - tokens) / rate) * 1000)))
    return Step(True, tokens, 0.0, (tokens, last_refill), ttl_ms)


def retry_after(allowed: bool, tokens: float, rate: float, cost: float) -> float:
    """Seconds until ``cost`` tokens are there again (0 when the check was allowed)."""
    return 0.0 if allowed else (cost - tokens) / rate


def stamp(seconds: int, micros: int) -> float:
    """The time Redis ``TIME`` gives, as the script reads it (``"<s>.<µs, 6 digits>"``)."""
    return float(f"{seconds}.{micros:06d}")


def _number(name: str, value: Any) -> float:
    kind = type(value)
    # Exact types first: this runs three times per check. NaN fails the comparison.
    if (kind is float or kind is int) and -math.inf < value < math.inf:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(name, f"got {value!r}, expected a finite number")
    return float(value)


def validate(rate: Any, burst: Any, cost: Any) -> tuple[float, float, float]:
    """``(rate, burst, cost)`` as floats, or :class:`ConfigError` naming the bad argument.

    ``rate`` (tokens per second) and ``burst`` (bucket size) must be above 0 and
    ``cost`` from 0 to ``burst``: a check costing more than the bucket holds could
    never pass.
    """
    r, b, c = _number("rate", rate), _number("burst", burst), _number("cost", cost)
    if r <= 0:
        raise ConfigError("rate", f"got {rate!r}, expected tokens per second above 0")
    if b <= 0:
        raise ConfigError("burst", f"got {burst!r}, expected a bucket size above 0")
    if not 0 <= c <= b:
        raise ConfigError("cost", f"got {cost!r}, expected 0 to burst ({burst!r})")
    return r, b, c


class Prepared(NamedTuple):
    """A validated check: the Redis key and the script's ARGV."""

    key: str
    rate: float
    burst: float
    cost: float


def _prepare(key: str, rate: Any, burst: Any, cost: Any, scope: str) -> Prepared:
    return Prepared(keys.ratelimit(scope, key), *validate(rate, burst, cost))


# Callers repeat their keys and limits: the cache halves a check's client time.
# typed: 1, 1.0 and True must not share an entry (True is no number here).
_cached = functools.lru_cache(maxsize=4096, typed=True)(_prepare)


def prepare(key: str, rate: Any, burst: Any, cost: Any = 1, scope: str = DEFAULT_SCOPE) -> Prepared:
    """Validate one check and name its bucket ``aragora:ratelimit:<scope>:{<key>}``."""
    try:
        return _cached(key, rate, burst, cost, scope)
    except TypeError:  # an unhashable argument: let validation say which
        return _prepare(key, rate, burst, cost, scope)


def prepare_many(checks: Sequence[Check]) -> list[Prepared]:
    """:func:`prepare` for every check of a batch."""
    return [prepare(*c) for c in checks]


def parse_reply(p: Prepared, allowed_flag: int, tokens_left: bytes | str) -> Decision:
    """The script's answer for check ``p`` (1 or 0, the tokens left as a string)."""
    allowed = allowed_flag == 1
    tokens = float(tokens_left)
    return Decision(allowed, tokens, retry_after(allowed, tokens, p.rate, p.cost), "redis")


def parse_run(p: Prepared, checks: int, taken: int, tokens_before: bytes | str) -> list[Decision]:
    """The script's answer for ``checks`` checks ``p`` of one key in a row.

    ``taken`` of them were admitted (the first ones), ``tokens_before`` is what the
    bucket held before the first. Each check's tokens left are worked out as
    :func:`take` would at one time: every admitted check takes ``cost`` from what
    the one before left, and the script did the same subtractions on the same
    numbers, so the results are the script's own.
    """
    left = float(tokens_before)
    rate, cost = p.rate, p.cost
    out: list[Decision] = []
    for _ in range(taken):
        left = left - cost
        out.append(Decision(True, left, 0.0, "redis"))
    if taken < checks:
        denied = Decision(False, left, retry_after(False, left, rate, cost), "redis")
        out += [denied] * (checks - taken)
    return out


class MemoryBuckets:
    """The fallback: token buckets in this process, at most ``max_keys`` of them.

    The least recently used bucket is forgotten first; a forgotten bucket starts
    full again, so the bound errs on the side of admitting. Thread-safe.
    """

    def __init__(self, max_keys: int, clock: Callable[[], float]) -> None:
        if max_keys < 1:
            raise ConfigError("fallback_keys", f"got {max_keys!r}, expected 1 or more")
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, p: Prepared) -> Decision:
        """Decide ``p`` from memory."""
        with self._lock:
            state = self._buckets.pop(p.key, None)
            tokens, last = state if state is not None else (None, None)
            step = take(tokens, last, self._clock(), p.rate, p.burst, p.cost)
            state = step.stored or state
            if state is not None:  # always: only a full (never seen) bucket has none
                self._buckets[p.key] = state
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return Decision(step.allowed, step.remaining, step.retry_after, "fallback")
