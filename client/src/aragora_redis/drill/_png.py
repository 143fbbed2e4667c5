"""The timeline as a PNG with matplotlib (the optional ``report`` extra), imported lazily.

Same layout as the SVG: title, legend, staggered event labels, fault names, the
acked-writes axes, then one error lane per client. Rows are laid out in inches from
the top so the plot keeps its height however many label rows there are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AragoraRedisError
from . import _chart, _labels
from .record import DrillRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.transforms import Transform

_W = 12.0  # inches; at 100 dpi, 1200 px wide
_DPI = 100
_LEFT, _RIGHT = 1.15, 0.3
_FONT = 9.0
_ROW = 0.2
_PLOT_H = 3.4
_LANE_H, _LANE_GAP = 0.34, 0.08
_MAX_EVENT_ROWS = 4
_LEGEND_COLUMNS = 4


def render_png(record: DrillRecord, path: Path) -> None:
    """Draw the timeline of ``record`` to ``path`` as a PNG (needs matplotlib)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise AragoraRedisError(
            "a .png report needs matplotlib: "
            "pip install 'aragora-redis[report]' (or write .html instead)"
        ) from exc
    # A bare Figure on an Agg canvas: no pyplot, so no global backend or figure registry.
    fig = Figure(figsize=(_W, 1.0), dpi=_DPI)
    FigureCanvasAgg(fig)
    _draw(fig, _chart.timeline(record), _chart.title(record))
    fig.savefig(path, format="png", dpi=_DPI, facecolor="white")


class _Layout:
    """Vertical positions in inches from the top, and the figure-fraction mapping."""

    def __init__(self, tl: _chart.Timeline, ev_rows: int, band_rows: int, legend_rows: int) -> None:
        self.ev_top = 0.62 + legend_rows * 0.2 + 0.08
        self.band_top = self.ev_top + ev_rows * _ROW + (0.06 if ev_rows else 0)
        self.plot_top = self.band_top + band_rows * _ROW + 0.04
        self.lanes_top = self.plot_top + _PLOT_H + _LANE_GAP
        self.lanes_bottom = self.lanes_top + len(tl.series) * (_LANE_H + _LANE_GAP)
        self.height = self.lanes_bottom + 0.55

    def y(self, inches_from_top: float) -> float:
        return 1 - inches_from_top / self.height

    def box(self, top: float, h: float) -> tuple[float, float, float, float]:
        return (_LEFT / _W, self.y(top + h), (_W - _LEFT - _RIGHT) / _W, h / self.height)


def _draw(fig: Figure, tl: _chart.Timeline, title: tuple[str, str]) -> None:
    from matplotlib.patches import Rectangle
    from matplotlib.patheffects import withStroke
    from matplotlib.transforms import blended_transform_factory

    sec_per_in = tl.end / (_W - _LEFT - _RIGHT)

    def width(text: str, *, bold: bool = False) -> float:
        return (_labels.text_em(text, bold=bold) * _FONT / 72 + 0.1) * sec_per_in

    ev_rows = _labels.event_rows(tl.events, width, _MAX_EVENT_ROWS)
    b_rows = _labels.band_rows(tl.bands, lambda text: width(text, bold=True))
    entries = _chart.legend(tl)
    lay = _Layout(
        tl,
        max((r + 1 for r in ev_rows if r is not None), default=0),
        max(b_rows, default=-1) + 1,
        -(-len(entries) // _LEGEND_COLUMNS),
    )
    fig.set_size_inches(_W, lay.height)
    halo = [withStroke(linewidth=3, foreground="white")]

    ax = fig.add_axes(lay.box(lay.plot_top, _PLOT_H))
    lanes = [
        fig.add_axes(lay.box(lay.lanes_top + i * (_LANE_H + _LANE_GAP), _LANE_H), sharex=ax)
        for i in range(len(tl.series))
    ]
    # x in seconds, y in figure fraction: for what spans the label rows, plot and lanes
    across = blended_transform_factory(ax.transData, fig.transFigure)
    text_w = (_W - _LEFT - _RIGHT) * 72 / 12
    fig.text(
        _LEFT / _W,
        lay.y(0.32),
        _labels.truncate(title[0], text_w / 1.1),
        fontsize=12,
        fontweight="bold",
    )
    fig.text(_LEFT / _W, lay.y(0.52), title[1], fontsize=_FONT + 1, color="#555")

    def label(t: float, row_top: float, text: str, color: str, *, bold: bool = False) -> None:
        fig.text(
            t,
            lay.y(row_top + 0.15),
            f" {text}",
            transform=across,
            fontsize=_FONT,
            fontweight="bold" if bold else "normal",
            color=color,
            path_effects=halo,
        )

    for band, b_row in zip(tl.bands, b_rows, strict=True):
        bottom, top = lay.y(lay.lanes_bottom), lay.y(lay.band_top)
        fig.add_artist(
            Rectangle(
                (band.start, bottom),
                band.end - band.start,
                top - bottom,
                transform=across,
                color=_chart.BAND_COLOR,
                alpha=_chart.BAND_OPACITY,
                linewidth=0,
                zorder=-1,  # under the axes, whose background is transparent
            )
        )
        label(band.start, lay.band_top + b_row * _ROW, band.name, "#333", bold=True)

    _acks(ax, tl)
    for lane, s in zip(lanes, tl.series, strict=True):
        _error_lane(lane, tl, s)
    for a in (ax, *lanes):
        a.set_facecolor("none")
        a.set_xlim(0, tl.end)
        a.set_xticks(_chart.ticks(tl.end, 12))
        a.grid(True, color=_chart.GRID_COLOR, linewidth=0.8)
        a.set_axisbelow(True)
        last = a is lanes[-1]
        a.tick_params(labelsize=_FONT, labelbottom=last, bottom=last or a is ax)
    lanes[-1].set_xlabel("seconds since start", fontsize=_FONT + 1)

    for ev, row in zip(tl.events, ev_rows, strict=True):
        if row is None:  # no room for its label: a tick on the plot's top edge
            y0, y1 = lay.y(lay.plot_top + 0.08), lay.y(lay.plot_top - 0.05)
        else:
            y0, y1 = lay.y(lay.lanes_bottom), lay.y(lay.ev_top + row * _ROW + 0.02)
        fig.add_artist(_line(ev.t, y0, y1, across, ev.color, ev.kind != "sentinel"))
        if row is not None:
            label(ev.t, lay.ev_top + row * _ROW, ev.text, ev.color)
    _legend(fig, entries, lay.y(0.62))


def _line(t: float, y0: float, y1: float, transform: Transform, color: str, dashed: bool) -> Line2D:
    from matplotlib.lines import Line2D

    return Line2D(
        [t, t],
        [y0, y1],
        transform=transform,
        color=color,
        linewidth=1.0,
        linestyle="--" if dashed else "-",
    )


def _acks(ax: Axes, tl: _chart.Timeline) -> None:
    for s in reversed(tl.series):  # ours drawn last, on top
        pts = _chart.step_points(s.acks, tl.bucket_s)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=s.color, linewidth=1.3)
    ax.set_ylim(tl.ack_floor, tl.ack_top)
    ax.set_yticks(_chart.ticks(tl.ack_top, 5, integer=True))
    ax.set_ylabel(f"acked writes / {tl.bucket_text}", fontsize=_FONT + 1)


def _error_lane(lane: Axes, tl: _chart.Timeline, s: _chart.Series) -> None:
    """Red bars hanging from the lane's top line."""
    top = tl.error_top
    bars = _chart.bars(s.errors, tl.bucket_s)
    lane.bar(
        [b[0] for b in bars],
        [_chart.bar_height(b[1], top) for b in bars],
        width=tl.bucket_s,
        align="edge",
        color=_chart.ERROR_COLOR,
        edgecolor=_chart.ERROR_COLOR,
        linewidth=0.4,
    )
    lane.set_ylim(1, 0)
    lane.set_yticks([])
    for side in ("right", "bottom", "left"):
        lane.spines[side].set_visible(False)
    lane.spines["top"].set_color(s.color)
    lane.text(
        -0.006,
        0.5,
        f"{s.name} errors\nmax {_chart.tick_text(top)}",
        transform=lane.transAxes,
        ha="right",
        va="center",
        fontsize=_FONT - 0.5,
        color=s.color,
    )


def _legend(fig: Figure, entries: list[_chart.LegendEntry], top: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Line2D | Patch] = [
        Patch(color=e.color, alpha=0.7, label=e.text)
        if e.mark == "patch"
        else Line2D(
            [],
            [],
            color=e.color,
            linewidth=2.2 if e.mark == "line" else 1.3,
            linestyle="-" if e.mark == "line" else "--",
            label=e.text,
        )
        for e in entries
    ]
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(_LEFT / _W - 0.012, top),
        ncol=_LEGEND_COLUMNS,
        fontsize=_FONT,
        frameon=False,
        borderaxespad=0,
        handlelength=1.8,
        columnspacing=1.6,
    )
