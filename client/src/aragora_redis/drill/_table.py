"""I/O-free: the per-fault figures of ours against naive, formatted and judged."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .record import METRICS, DrillRecord

#: More is better for these; ``fallback_decisions`` is neither (naive has no fallback).
_HIGHER_IS_BETTER = frozenset({"acked_writes", "events_published"})
_NO_VERDICT = frozenset({"fallback_decisions"})

Verdict = Literal["better", "worse", "same"]


@dataclass(frozen=True)
class MetricRow:
    """One line of a fault's table; ``verdict`` is ours compared with naive.

    ``url_only`` is the URL-only client's figure (through HAProxy), when it ran.
    """

    metric: str
    ours: str
    naive: str | None
    verdict: Verdict | None
    url_only: str | None = None


@dataclass(frozen=True)
class FaultTable:
    """The figures of one fault, ready to print."""

    name: str
    window: str
    has_naive: bool
    rows: list[MetricRow]
    has_url_only: bool = False


def fault_tables(record: DrillRecord) -> list[FaultTable]:
    """One table per fault: METRICS first in their order, then any other figure recorded."""
    tables = []
    for f in record.faults:
        naive, url = f.naive, f.url_only
        extra = sorted((set(f.ours) | set(naive or {}) | set(url or {})) - set(METRICS))
        rows = [
            MetricRow(
                m,
                format_value(m, f.ours.get(m)),
                None if naive is None else format_value(m, naive.get(m)),
                None if naive is None else verdict(m, f.ours.get(m), naive.get(m)),
                None if url is None else format_value(m, url.get(m)),
            )
            for m in (*METRICS, *extra)
        ]
        window = f"{f.start:.1f} s to {f.end:.1f} s ({f.end - f.start:.1f} s)"
        tables.append(FaultTable(f.name, window, naive is not None, rows, url is not None))
    return tables


def format_value(metric: str, value: float | None) -> str:
    """Seconds with two decimals, counts as integers; a dash for a missing figure."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never" if metric.endswith("_s") else "∞"
    if metric.endswith("_s"):
        return f"{value:.2f} s"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def verdict(metric: str, ours: float | None, naive: float | None) -> Verdict | None:
    """Whether ours did better than naive on ``metric``; ``None`` where it cannot be said."""
    if metric in _NO_VERDICT or ours is None or naive is None:
        return None
    if math.isnan(ours) or math.isnan(naive):
        return None
    if ours == naive:
        return "same"
    ours_higher = ours > naive
    return "better" if ours_higher == (metric in _HIGHER_IS_BETTER) else "worse"
