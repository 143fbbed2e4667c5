"""I/O-free: what the ``--report`` timeline shows, decided once for the HTML and PNG renderers.

Everything here is in data units (seconds, counts); the renderers only map it to
pixels or points. :mod:`._labels` places the labels, :mod:`._table` the per-fault figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .record import DrillRecord

OURS_COLOR = "#1f5fa8"
NAIVE_COLOR = "#e07b00"
ERROR_COLOR = "#d62728"
BAND_COLOR = "#9a9a9a"
BAND_OPACITY = 0.2
SENTINEL_COLOR = "#7b2fa0"
FAULT_EVENT_COLOR = "#404040"
GRID_COLOR = "#e3e3e3"

#: The lowest bar of an error lane, as a share of its height, so that one error shows.
MIN_BAR = 0.15
#: Room under zero on the acks axis, as a share of its top, so a stretch at zero is not
#: hidden by the frame.
FLOOR = 0.03
_LABEL_CHARS = 28


@dataclass(frozen=True)
class Series:
    """One client's acked writes and errors per bucket (bucket ``i`` starts at ``i * bucket_s``)."""

    name: str
    color: str
    acks: list[int]
    errors: list[int]

    @property
    def legend(self) -> str:
        """The legend text, with the run's totals."""
        return f"{self.name}: {sum(self.acks):,} acked, {sum(self.errors):,} errors"


@dataclass(frozen=True)
class Band:
    """A fault window to shade."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class Event:
    """A vertical line: a Sentinel event or a fault step that is not a band edge."""

    t: float
    kind: str
    label: str
    text: str  # what is written on the chart; ``label`` goes in tooltips and the event list

    @property
    def color(self) -> str:
        """Purple for Sentinel, dark grey for fault steps."""
        return SENTINEL_COLOR if self.kind == "sentinel" else FAULT_EVENT_COLOR


@dataclass(frozen=True)
class Timeline:
    """Everything the chart draws, in seconds and counts."""

    bucket_s: float
    end: float
    series: list[Series]
    bands: list[Band]
    events: list[Event]

    @property
    def bucket_text(self) -> str:
        """The bucket length for axis titles: ``100 ms``."""
        return f"{self.bucket_s * 1000:g} ms"

    @property
    def ack_top(self) -> float:
        """The top of the acked-writes axis, above the highest bucket so no line runs
        along the frame."""
        peak = max((max(s.acks, default=0) for s in self.series), default=0)
        return axis_top(peak * 1.06)

    @property
    def ack_floor(self) -> float:
        """The bottom of the acked-writes axis, a little under zero."""
        return -FLOOR * self.ack_top

    @property
    def error_top(self) -> float:
        """The full height of an error lane (shared by both clients so they compare)."""
        return axis_top(max((max(s.errors, default=0) for s in self.series), default=0), 2)


@dataclass(frozen=True)
class LegendEntry:
    """One legend item: ``mark`` is ``line``, ``dashed`` or ``patch``."""

    text: str
    color: str
    mark: Literal["line", "dashed", "patch"]


def legend(tl: Timeline) -> list[LegendEntry]:
    """The legend, in order: the clients with their totals, then what the marks mean."""
    entries = [LegendEntry(s.legend, s.color, "line") for s in tl.series]
    entries += [
        LegendEntry(f"errors per {tl.bucket_text}", ERROR_COLOR, "patch"),
        LegendEntry("fault window", BAND_COLOR, "patch"),
        LegendEntry("Sentinel event", SENTINEL_COLOR, "line"),
    ]
    if any(e.kind != "sentinel" for e in tl.events):
        entries.append(LegendEntry("fault step", FAULT_EVENT_COLOR, "dashed"))
    return entries


def has_baseline(record: DrillRecord) -> bool:
    """Whether the naive client ran (``--baseline``)."""
    return any(f.naive is not None for f in record.faults) or any(
        s.naive_acks or s.naive_errors for s in record.samples
    )


def timeline(record: DrillRecord) -> Timeline:
    """The chart's content: dense series (missing buckets count zero), bands and events."""
    bucket = record.bucket_s if record.bucket_s > 0 else 0.1
    n = max((round(s.t / bucket) + 1 for s in record.samples), default=0)
    cols: dict[str, list[int]] = {
        k: [0] * n for k in ("ours_acks", "ours_errors", "naive_acks", "naive_errors")
    }
    for s in record.samples:
        i = round(s.t / bucket)
        if i >= 0:
            for k, col in cols.items():
                col[i] += getattr(s, k)
    series = [Series("ours", OURS_COLOR, cols["ours_acks"], cols["ours_errors"])]
    if has_baseline(record):
        series.append(Series("naive", NAIVE_COLOR, cols["naive_acks"], cols["naive_errors"]))
    bands = [Band(f.name, f.start, max(f.end, f.start)) for f in record.faults]
    edges = [x for b in bands for x in (b.start, b.end)]
    events = [
        Event(m.t, m.kind, m.label, _short(m.kind, m.label))
        for m in sorted(record.markers, key=lambda m: m.t)
        # a fault step at a band edge is already drawn by the band
        if m.kind != "fault" or all(abs(m.t - x) > bucket for x in edges)
    ]
    end = max(
        [record.duration, n * bucket, 1.0] + [m.t for m in record.markers] + [b.end for b in bands]
    )
    return Timeline(bucket, end, series, bands, events)


def _short(kind: str, label: str) -> str:
    # A Sentinel event line is "<event> <instance details>"; the event name is what reads.
    text = label.split(maxsplit=1)[0] if kind == "sentinel" and label.strip() else label
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def step_points(values: Sequence[int], bucket_s: float) -> list[tuple[float, float]]:
    """The outline of a step series: flat over each bucket; collinear vertices are dropped."""
    points: list[tuple[float, float]] = []
    for i, v in enumerate(values):
        if points and points[-1][1] == v:
            continue
        t = i * bucket_s
        if points:
            points.append((t, points[-1][1]))
        points.append((t, float(v)))
    if points:
        points.append((len(values) * bucket_s, points[-1][1]))
    return points


def bars(values: Sequence[int], bucket_s: float) -> list[tuple[float, int]]:
    """``(start, count)`` of the buckets with a non-zero count."""
    return [(i * bucket_s, v) for i, v in enumerate(values) if v]


def nice_step(span: float, target: int) -> float:
    """The smallest 1-2-5 step that splits ``span`` into at most ``target`` parts."""
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def axis_top(vmax: float, target: int = 5) -> float:
    """A round axis maximum at or above ``vmax`` for counts (at least 1)."""
    step = max(1.0, nice_step(max(vmax, 1.0), target))
    return math.ceil(max(vmax, 1.0) / step) * step


def ticks(top: float, target: int, *, integer: bool = False) -> list[float]:
    """Round tick positions from 0 to ``top``."""
    step = nice_step(top, target)
    if integer:
        step = max(1.0, step)
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def tick_text(value: float) -> str:
    """A tick label without a useless ``.0``."""
    return f"{value:g}"


def bar_height(count: int, top: float) -> float:
    """The share of an error lane a bucket's bar fills (at least :data:`MIN_BAR`)."""
    return max(count / top, MIN_BAR)


def title(record: DrillRecord) -> tuple[str, str]:
    """``Failover drill: <target>`` and ``<UTC start>, <duration> s run``."""
    when = datetime.fromtimestamp(record.started_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"Failover drill: {record.target}", f"{when}, {record.duration:.1f} s run"
