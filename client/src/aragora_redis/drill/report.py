"""``aragora-redis drill --report FILE``: the run as a timeline readable at a glance.

:func:`render_html` gives one self-contained page (inline SVG, no script, no
external asset) with the per-fault figures below the chart; :func:`render_png`
draws the same chart with matplotlib (the optional ``report`` extra);
:func:`write_report` picks one by the file suffix.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ..errors import ConfigError
from . import _chart, _svg, _table
from ._png import render_png
from .record import DrillRecord

__all__ = ["render_html", "render_png", "write_report"]

_CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1040px; }
h1 { font-size: 20px; margin-bottom: 4px; overflow-wrap: anywhere; }
p.when { color: #555; margin-top: 0; }
h2 { font-size: 16px; margin-top: 28px; }
figure { margin: 12px 0; }
figcaption { font-size: 13px; color: #555; margin-top: 6px; }
svg { max-width: 100%; height: auto; }
.faults { display: flex; flex-wrap: wrap; gap: 16px; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: bold; padding-bottom: 4px; }
caption span { font-weight: normal; color: #555; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.better { background: #d9f2dd; }
td.worse { background: #f9d6d6; }
"""

_CAPTION = (
    "Lines: acknowledged writes per {bucket} bucket. Red bars: caller errors per bucket, one "
    "lane per client, both on the same scale (a single error still shows as a sliver). Grey "
    "bands: fault windows, from injection to verified recovery. Purple lines: Sentinel events; "
    "dashed lines: fault steps inside a window; short ticks on the top edge: events without "
    "room for a label (all are listed below). Hover a line or band for its exact time."
)


def render_html(record: DrillRecord) -> str:
    """The report as one self-contained HTML page: title, timeline SVG, per-fault tables."""
    tl = _chart.timeline(record)
    head, when = _chart.title(record)
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>',
        f"<title>{escape(head)}, {escape(when)}</title><style>{_CSS}</style></head><body>",
        f'<h1>{escape(head)}</h1><p class="when">{escape(when)}</p>',
        "<figure>",
        _svg.chart(tl),
        f"<figcaption>{escape(_CAPTION.format(bucket=tl.bucket_text))}</figcaption>",
        "</figure>",
    ]
    tables = _table.fault_tables(record)
    if tables:
        parts.append('<h2>Per fault</h2><div class="faults">')
        parts.extend(_fault_table(t) for t in tables)
        parts.append("</div>")
    if record.markers:
        parts.append(_event_list(record))
    parts.append("</body></html>\n")
    return "".join(parts)


def _fault_table(table: _table.FaultTable) -> str:
    head = "<th>metric</th><th>ours</th>"
    if table.has_naive:
        head += "<th>naive</th><th>ours vs naive</th>"
    if table.has_url_only:
        head += "<th>URL-only via HAProxy</th>"
    rows = []
    for r in table.rows:
        cls = f"num {r.verdict}" if r.verdict in ("better", "worse") else "num"
        cells = f'<td>{escape(r.metric)}</td><td class="{cls}">{escape(r.ours)}</td>'
        if table.has_naive:
            cells += f'<td class="num">{escape(r.naive or "")}</td>'
            cells += f'<td class="{r.verdict}">{r.verdict}</td>' if r.verdict else "<td></td>"
        if table.has_url_only:
            cells += f'<td class="num">{escape(r.url_only or "")}</td>'
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="fault"><caption>{escape(table.name)} '
        f"<span>{escape(table.window)}</span></caption>"
        f"<tr>{head}</tr>{''.join(rows)}</table>"
    )


def _event_list(record: DrillRecord) -> str:
    rows = "".join(
        f'<tr><td class="num">{m.t:.2f}</td><td>{escape(m.kind)}</td>'
        f"<td>{escape(m.label)}</td></tr>"
        for m in sorted(record.markers, key=lambda m: m.t)
    )
    return (
        f"<details><summary>All events ({len(record.markers)})</summary>"
        f"<table><tr><th>s</th><th>kind</th><th>event</th></tr>{rows}</table></details>"
    )


def write_report(record: DrillRecord, path: Path) -> None:
    """Write the report to ``path``: ``.html``/``.htm`` as HTML, ``.png`` as a PNG image."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(render_html(record), encoding="utf-8")
    elif suffix == ".png":
        render_png(record, path)
    else:
        raise ConfigError("--report", f"got {str(path)!r}, expected a file ending in .html or .png")
