"""I/O-free: where labels go so that none overlaps another or is crossed by an event line.

Widths are estimated from the characters because neither renderer can measure text
before it is drawn; callers turn em into seconds at their own scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._chart import Band, Event

#: Who gets an event label when labels compete for room (lower first); fault steps rank 1,
#: any other Sentinel event 4.
_RANK = {"+odown": 0, "+switch-master": 0, "+promoted-slave": 2, "+sdown": 3, "+failover-end": 3}


def text_em(text: str, *, bold: bool = False) -> float:
    """The width of ``text`` in em, estimated generously for DejaVu Sans (matplotlib) and
    the browsers' sans-serif, which are narrower."""
    em = sum(
        0.32 if c in " .,:;'|!ilIj" else 0.76 if c.isupper() or c in "mwMW%@" else 0.64
        for c in text
    )
    return em * (1.1 if bold else 1.0)


def label_rows(spans: Sequence[tuple[float, float]]) -> list[int]:
    """Stagger labels without lines: the first row where ``(start, end)`` overlaps nothing."""
    rows: list[list[tuple[float, float]]] = []
    placed: list[int] = []
    for start, end in spans:
        row = next(
            (i for i, taken in enumerate(rows) if all(end <= a or start >= b for a, b in taken)),
            len(rows),
        )
        if row == len(rows):
            rows.append([])
        rows[row].append((start, end))
        placed.append(row)
    return placed


def event_rows(
    events: Sequence[Event], width: Callable[[str], float], max_rows: int
) -> list[int | None]:
    """Label rows of the events (row 0 on top), ``None`` for an event left unlabelled.

    An event's line runs from the bottom of the chart up to its label, so a label
    must sit below every earlier label still running at its time, or the line would
    cross it: clusters become a staircase. When a cluster needs more than ``max_rows``
    rows, the events that matter most (+odown, +switch-master, fault steps, ...) keep
    their labels. ``width`` is a label's width in seconds.
    """
    rows: dict[int, int] = {}
    for cluster in _clusters(events, width):
        chosen: list[int] = []
        for i in sorted(cluster, key=lambda i: (_rank(events[i]), events[i].t)):
            trial = _staircase(events, sorted([*chosen, i], key=lambda j: events[j].t), width)
            if max(trial.values()) < max_rows:
                chosen.append(i)
                rows |= trial
    return [rows.get(i) for i in range(len(events))]


def _clusters(events: Sequence[Event], width: Callable[[str], float]) -> list[list[int]]:
    """Runs of events whose labels overlap in time; each is placed on its own, which keeps
    the placement quadratic in a cluster's size only."""
    clusters: list[list[int]] = []
    reach = float("-inf")
    for i in sorted(range(len(events)), key=lambda i: events[i].t):
        if events[i].t >= reach:
            clusters.append([])
        clusters[-1].append(i)
        reach = max(reach, events[i].t + width(events[i].text))
    return clusters


def _rank(event: Event) -> int:
    return 1 if event.kind != "sentinel" else _RANK.get(event.text, 4)


def _staircase(
    events: Sequence[Event], order: list[int], width: Callable[[str], float]
) -> dict[int, int]:
    running: list[tuple[int, float]] = []  # (row, end) of the labels placed so far
    rows = {}
    for i in order:
        t = events[i].t
        rows[i] = 1 + max((row for row, end in running if end > t), default=-1)
        running.append((rows[i], t + width(events[i].text)))
    return rows


def band_rows(bands: Sequence[Band], width: Callable[[str], float]) -> list[int]:
    """Label rows of the fault names (``width`` in seconds); every band gets a label."""
    return label_rows([(b.start, max(b.end, b.start + width(b.name))) for b in bands])


def truncate(text: str, max_em: float) -> str:
    """``text`` cut with an ellipsis so that it fits ``max_em``."""
    while len(text) > 1 and text_em(text) > max_em:
        text = text[:-2] + "…"
    return text
