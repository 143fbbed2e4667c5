"""The timeline as an inline SVG string: well-formed XML, no script, no external reference."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from . import _chart, _labels
from ._chart import Timeline

WIDTH = 1000
_LEFT = 96  # room for the y labels and the error lane names
_RIGHT = 24
_FONT = 11
_ROW = 15  # height of one row of staggered labels
_PLOT_H = 250
_LANE_H = 26
_LANE_GAP = 6
_MAX_EVENT_ROWS = 4
# A white outline under label text keeps it readable where event lines cross it.
_HALO = {"paint_order": "stroke", "stroke": "white", "stroke_width": "3"}


class _Canvas:
    def __init__(self, tl: Timeline) -> None:
        self.tl = tl
        self.scale = (WIDTH - _LEFT - _RIGHT) / tl.end
        self.parts: list[str] = []

    def x(self, t: float) -> float:
        return _LEFT + t * self.scale

    def width(self, text: str) -> float:
        """The estimated width of an event label in seconds, with a small gap."""
        return (_labels.text_em(text) * _FONT + 10) / self.scale

    def bold_width(self, text: str) -> float:
        """The estimated width of a fault name in seconds, with a small gap."""
        return (_labels.text_em(text, bold=True) * _FONT + 10) / self.scale

    def add(self, element: str) -> None:
        self.parts.append(element)

    def text(self, x: float, y: float, text: str, **attrs: str) -> None:
        extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
        self.add(f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, style: str, tip: str = "") -> None:
        body = f"<title>{escape(tip)}</title>" if tip else ""
        self.add(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {style}>{body}</line>'
        )


def chart(tl: Timeline) -> str:
    """The whole timeline: legend, event labels, fault bands, ack lines, error lanes, axes."""
    c = _Canvas(tl)
    ev_rows = _labels.event_rows(tl.events, c.width, _MAX_EVENT_ROWS)
    b_rows = _labels.band_rows(tl.bands, c.bold_width)
    n_ev = max((r + 1 for r in ev_rows if r is not None), default=0)
    ev_top = _legend(c) + 8
    band_top = ev_top + n_ev * _ROW + (6 if n_ev else 0)
    plot_top = band_top + max(b_rows, default=-1) * _ROW + _ROW + 4
    plot_bottom = plot_top + _PLOT_H
    lanes_bottom = plot_bottom + _LANE_GAP + len(tl.series) * (_LANE_H + _LANE_GAP)

    for band in tl.bands:
        x0, x1 = c.x(band.start), c.x(band.end)
        c.add(
            f'<rect x="{x0:.1f}" y="{band_top:.1f}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{lanes_bottom - band_top:.1f}" fill="{_chart.BAND_COLOR}" '
            f'fill-opacity="{_chart.BAND_OPACITY}"><title>{escape(band.name)}</title></rect>'
        )
    _axes(c, plot_top, plot_bottom, lanes_bottom)
    y_of = _ack_y(tl, plot_bottom)
    for s in reversed(tl.series):  # ours drawn last, on top
        pts = " ".join(
            f"{c.x(t):.1f},{y_of(v):.1f}" for t, v in _chart.step_points(s.acks, tl.bucket_s)
        )
        c.add(
            f'<polyline class="acks-{s.name}" points="{pts}" fill="none" stroke="{s.color}" '
            f'stroke-width="1.5" stroke-linejoin="round"/>'
        )
    _error_lanes(c, plot_bottom)
    for ev, row in zip(tl.events, ev_rows, strict=True):
        x = c.x(ev.t)
        dash = ' stroke-dasharray="4 3"' if ev.kind != "sentinel" else ""
        style = f'stroke="{ev.color}" stroke-width="1.1"{dash} class="event-{escape(ev.kind)}"'
        tip = f"{ev.t:.2f} s  {ev.label}"
        if row is None:  # no room for its label: a tick on the plot's top edge
            c.line(x, plot_top - 4, x, plot_top + 6, style, tip)
            continue
        y_text = ev_top + row * _ROW + 11
        c.line(x, lanes_bottom, x, y_text - 10, style, tip)
        c.text(x + 3, y_text, ev.text, fill=ev.color, **_HALO)
    for band, b_row in zip(tl.bands, b_rows, strict=True):
        y_text = band_top + b_row * _ROW + 11
        c.text(c.x(band.start) + 3, y_text, band.name, font_weight="bold", fill="#333", **_HALO)
    height = lanes_bottom + 40
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="{_FONT}" '
        f'role="img">' + "".join(c.parts) + "</svg>"
    )


def _ack_y(tl: Timeline, plot_bottom: float) -> Callable[[float], float]:
    span = tl.ack_top - tl.ack_floor
    return lambda v: plot_bottom - (v - tl.ack_floor) / span * _PLOT_H


def _axes(c: _Canvas, plot_top: float, plot_bottom: float, lanes_bottom: float) -> None:
    right = WIDTH - _RIGHT
    y_of = _ack_y(c.tl, plot_bottom)
    for v in _chart.ticks(c.tl.ack_top, 5, integer=True):
        c.line(_LEFT, y_of(v), right, y_of(v), f'stroke="{_chart.GRID_COLOR}"')
        c.text(_LEFT - 6, y_of(v) + 4, _chart.tick_text(v), text_anchor="end")
    for t in _chart.ticks(c.tl.end, 12):
        x = c.x(t)
        c.line(x, plot_top, x, lanes_bottom + 4, f'stroke="{_chart.GRID_COLOR}"')
        c.text(x, lanes_bottom + 16, _chart.tick_text(t), text_anchor="middle")
    c.add(
        f'<rect x="{_LEFT}" y="{plot_top:.1f}" width="{right - _LEFT}" '
        f'height="{_PLOT_H}" fill="none" stroke="#888"/>'
    )
    mid = (plot_top + plot_bottom) / 2
    c.text(
        16,
        mid,
        f"acked writes / {c.tl.bucket_text}",
        transform=f"rotate(-90 16 {mid:.1f})",
        text_anchor="middle",
    )
    c.text((_LEFT + right) / 2, lanes_bottom + 32, "seconds since start", text_anchor="middle")


def _error_lanes(c: _Canvas, plot_bottom: float) -> None:
    """Red bars hanging from each client's lane line, one path per lane."""
    top = c.tl.error_top
    w = max(c.tl.bucket_s * c.scale, 1.2)  # a bucket may be under a pixel wide
    for i, s in enumerate(c.tl.series):
        y0 = plot_bottom + _LANE_GAP + i * (_LANE_H + _LANE_GAP)
        c.line(_LEFT, y0, WIDTH - _RIGHT, y0, f'stroke="{s.color}"')
        c.text(_LEFT - 6, y0 + 11, f"{s.name} errors", text_anchor="end", fill=s.color)
        c.text(_LEFT - 6, y0 + 22, f"max {_chart.tick_text(top)}", text_anchor="end", fill="#666")
        d = "".join(
            f"M{c.x(t):.1f},{y0:.1f}h{w:.1f}v{_chart.bar_height(n, top) * _LANE_H:.1f}h{-w:.1f}z"
            for t, n in _chart.bars(s.errors, c.tl.bucket_s)
        )
        if d:
            c.add(
                f'<path class="errors-{s.name}" d="{d}" fill="{_chart.ERROR_COLOR}" '
                'shape-rendering="crispEdges"/>'  # no seams between neighbouring bars
            )


def _legend(c: _Canvas) -> float:
    """The legend rows at the top, wrapped to the chart width; returns their bottom."""
    x, y = float(_LEFT), 16.0
    for entry in _chart.legend(c.tl):
        style = {
            "line": f'stroke="{entry.color}" stroke-width="2.5"',
            "dashed": f'stroke="{entry.color}" stroke-width="1.5" stroke-dasharray="4 3"',
            "patch": f'stroke="{entry.color}" stroke-width="9" stroke-opacity=".7"',
        }[entry.mark]
        w = 23 + _labels.text_em(entry.text) * _FONT + 18
        if x > _LEFT and x + w > WIDTH - _RIGHT:
            x, y = float(_LEFT), y + 18
        c.line(x, y, x + 18, y, style)
        c.text(x + 23, y + 4, entry.text)
        x += w
    return y + 8
