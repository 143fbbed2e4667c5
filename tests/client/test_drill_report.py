"""drill --report: the HTML timeline (parsed back as XML), the PNG (read back), the dispatch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aragora_redis import AragoraRedisError, ConfigError
from aragora_redis.drill import _chart, _labels, _table
from aragora_redis.drill.record import METRICS, DrillRecord, FaultResult, Marker, Sample
from aragora_redis.drill.report import render_html, render_png, write_report

SVG = "{http://www.w3.org/2000/svg}"
OURS_FIGURES = dict.fromkeys(METRICS, 0.0) | {
    "write_outage_s": 0.8,
    "acked_writes": 1900.0,
    "caller_errors": 3.0,
    "fallback_decisions": 12.0,
    "switch_follow_s": 0.7,
}
NAIVE_FIGURES = dict.fromkeys(METRICS, 0.0) | {
    "write_outage_s": 4.5,
    "acked_writes": 1500.0,
    "acked_writes_lost": 2.0,
    "caller_errors": 180.0,
    "switch_follow_s": 4.4,
}


def make_record(*, baseline: bool = True, target: str = "sentinel://127.0.0.1:7100") -> DrillRecord:
    """12 s; a failover from 3 s to 8 s: ours dips 0.8 s, naive is down 4.5 s and errs."""
    samples = []
    for i in range(120):
        t = round(i * 0.1, 1)
        ours_down = 3.0 <= t < 3.8
        naive_down = 3.0 <= t < 7.5
        samples.append(
            Sample(
                t=t,
                ours_acks=0 if ours_down else 40 + i % 5,
                ours_errors=1 if t in (3.0, 3.4, 3.7) else 0,
                naive_acks=0 if naive_down or not baseline else 38 + i % 3,
                naive_errors=4 if naive_down and baseline else 0,
            )
        )
    markers = [
        Marker(3.0, "fault", "sentinel failover: start"),
        Marker(3.1, "sentinel", "+odown master mymaster 127.0.0.1 7101 #quorum 2/2"),
        Marker(3.6, "sentinel", "+promoted-slave slave 127.0.0.1:7102 127.0.0.1 7102"),
        Marker(3.7, "sentinel", "+switch-master mymaster 127.0.0.1 7101 127.0.0.1 7102"),
        Marker(5.0, "fault", "old master back as replica"),
        Marker(8.0, "fault", "sentinel failover: verified"),
    ]
    fault = FaultResult(
        "sentinel failover",
        3.0,
        8.0,
        ours=dict(OURS_FIGURES),
        naive=dict(NAIVE_FIGURES) if baseline else None,
    )
    return DrillRecord(target, 1_764_158_400.0, 12.0, 0.1, samples, markers, [fault])


def parse_xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314  # our own renderer's output, not untrusted input


def svg_of(html: str) -> ET.Element:
    found = re.search(r"<svg .*?</svg>", html, re.S)
    if found is None:
        pytest.fail("no <svg> in the report")
    return parse_xml(found.group(0))


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    return [
        (float(x), float(y)) for x, y in (p.split(",") for p in polyline.attrib["points"].split())
    ]


def line_x(svg: ET.Element, label_start: str) -> float:
    for line in svg.iter(f"{SVG}line"):
        title = line.find(f"{SVG}title")
        if title is not None and (title.text or "").split(maxsplit=2)[2].startswith(label_start):
            return float(line.attrib["x1"])
    pytest.fail(f"no line for {label_start}")


def test_html_is_one_self_contained_wellformed_document() -> None:
    html = render_html(make_record())
    root = parse_xml(html)  # the whole page is well-formed XML, not only the SVG
    assert root.tag == "html"
    assert "<script" not in html
    assert not re.search(r"""(src|href)=|url\(|@import""", html)
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"]
    assert "<h1>Failover drill: sentinel://127.0.0.1:7100</h1>" in html
    assert "2025-11-26 12:00:00 UTC, 12.0 s run" in html


def test_one_polyline_per_series_tracing_the_acks() -> None:
    svg = svg_of(render_html(make_record()))
    lines = {p.attrib["class"]: p for p in svg.iter(f"{SVG}polyline")}
    assert sorted(lines) == ["acks-naive", "acks-ours"]
    tl = _chart.timeline(make_record())
    for s in tl.series:
        pts = points(lines[f"acks-{s.name}"])
        assert len(pts) == len(_chart.step_points(s.acks, 0.1))
        bottom = max(y for _, y in pts)
        zero_x = [x for x, y in pts if y == bottom]
        # the flat stretch at zero spans the outage: 0.8 s for ours, 4.5 s for naive
        width_s = (zero_x[-1] - zero_x[0]) / (pts[-1][0] - pts[0][0]) * 12.0
        assert width_s == pytest.approx(0.8 if s.name == "ours" else 4.5, abs=0.05)


def test_error_lanes_one_path_per_client() -> None:
    svg = svg_of(render_html(make_record()))
    paths = {p.attrib["class"]: p.attrib["d"] for p in svg.iter(f"{SVG}path")}
    assert paths["errors-ours"].count("M") == 3
    assert paths["errors-naive"].count("M") == 45
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "ours errors" in texts
    assert "naive errors" in texts


def test_fault_band_and_labelled_sentinel_lines_on_the_time_axis() -> None:
    svg = svg_of(render_html(make_record()))
    bands = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert [r.find(f"{SVG}title").text for r in bands] == ["sentinel failover"]  # type: ignore[union-attr]
    x0 = float(bands[0].attrib["x"])
    x1 = x0 + float(bands[0].attrib["width"])
    odown, switch = line_x(svg, "+odown"), line_x(svg, "+switch-master")
    assert (odown - x0) / (x1 - x0) == pytest.approx(0.1 / 5, abs=0.01)
    assert (switch - x0) / (x1 - x0) == pytest.approx(0.7 / 5, abs=0.01)
    sentinel_lines = [
        ln for ln in svg.iter(f"{SVG}line") if "event-sentinel" in ln.get("class", "")
    ]
    assert len(sentinel_lines) == 3
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"+odown", "+promoted-slave", "+switch-master", "sentinel failover"} <= set(texts)
    # the start and end fault steps are the band's edges; only the step inside it is drawn
    assert "old master back as replica" in texts
    assert "sentinel failover: start" not in texts


def test_close_event_labels_are_staggered_so_no_line_crosses_a_label() -> None:
    svg = svg_of(render_html(make_record()))
    ys = {
        t.text: float(t.attrib["y"])
        for t in svg.iter(f"{SVG}text")
        if t.text in ("+odown", "+promoted-slave", "+switch-master")
    }
    # 0.1 s apart at ~73 px/s: a staircase, each later label one row lower
    assert ys["+odown"] < ys["+promoted-slave"] < ys["+switch-master"]


def test_label_rows_places_in_the_first_free_row() -> None:
    spans = [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0), (1.5, 2.5), (0.5, 1.0)]
    assert _labels.label_rows(spans) == [0, 1, 0, 2, 1]


def events(*names: str, kind: str = "sentinel") -> list[_chart.Event]:
    return [_chart.Event(1.0 + i / 10, kind, n, n) for i, n in enumerate(names)]


def test_event_rows_are_a_staircase_below_every_label_still_running() -> None:
    evs = events("+sdown", "+odown", "+switch-master")
    assert _labels.event_rows(evs, lambda text: 1.0, max_rows=4) == [0, 1, 2]
    # labels 0.05 s wide end before the next event: all on the top row
    assert _labels.event_rows(evs, lambda text: 0.05, max_rows=4) == [0, 0, 0]
    # a later cluster starts again at the top
    later = [*evs, *(_chart.Event(e.t + 5, e.kind, e.label, e.text) for e in evs)]
    assert _labels.event_rows(later, lambda text: 1.0, max_rows=4) == [0, 1, 2, 0, 1, 2]


def test_key_events_keep_their_labels_when_rows_run_out() -> None:
    evs = events("+sdown", "+try-failover", "+odown", "+vote-for-leader", "+switch-master")
    evs.insert(1, _chart.Event(1.05, "fault", "SIGCONT", "SIGCONT"))
    rows = _labels.event_rows(evs, lambda text: 1.0, max_rows=3)
    labelled = [e.text for e, r in zip(evs, rows, strict=True) if r is not None]
    assert labelled == ["SIGCONT", "+odown", "+switch-master"]
    assert [r for r in rows if r is not None] == [0, 1, 2]


def test_per_fault_table_with_verdicts() -> None:
    root = parse_xml(render_html(make_record()))
    (table,) = (t for t in root.iter("table") if t.get("class") == "fault")
    rows = {
        tr[0].text: [(td.text, td.get("class", "")) for td in tr[1:]]
        for tr in table.iter("tr")
        if tr[0].tag == "td"
    }
    assert list(rows) == list(METRICS)
    assert rows["write_outage_s"] == [
        ("0.80 s", "num better"),
        ("4.50 s", "num"),
        ("better", "better"),
    ]
    assert rows["acked_writes"][0] == ("1,900", "num better")
    assert rows["acked_writes_lost"][2] == ("better", "better")
    assert rows["events_lost"][2] == ("same", "same")
    assert rows["fallback_decisions"] == [
        ("12", "num"),
        ("0", "num"),
        (None, ""),
    ]  # neither better nor worse
    assert "3.0 s to 8.0 s (5.0 s)" in ET.tostring(table, encoding="unicode")


def test_verdict_directions_and_formatting() -> None:
    assert _table.verdict("caller_errors", 5, 1) == "worse"
    assert _table.verdict("events_published", 5, 1) == "better"
    assert _table.verdict("switch_follow_s", 1.0, float("inf")) == "better"
    assert _table.verdict("switch_follow_s", float("nan"), 1.0) is None
    assert _table.verdict("fallback_decisions", 5, 0) is None
    assert _table.format_value("switch_follow_s", float("inf")) == "never"
    assert _table.format_value("acked_writes", None) == "-"
    assert _table.format_value("acked_writes", 12345.0) == "12,345"


def test_every_text_is_escaped() -> None:
    record = make_record(target="<script>alert('x')</script>")
    record.markers.append(Marker(9.0, "fault", "<b>bold</b> & more"))
    record.faults[0].name = 'a "fault" <i>'
    html = render_html(record)
    assert "<script" not in html
    assert "<b>" not in html
    assert "<i>" not in html
    assert "&lt;script&gt;" in html
    parse_xml(html)


def test_without_baseline_there_is_no_naive_series_or_column() -> None:
    html = render_html(make_record(baseline=False))
    svg = svg_of(html)
    assert [p.attrib["class"] for p in svg.iter(f"{SVG}polyline")] == ["acks-ours"]
    assert "naive" not in html
    root = parse_xml(html)
    assert [th.text for th in root.iter("th")][:3] == ["metric", "ours", "s"]


def test_an_empty_run_still_renders(tmp_path: Path) -> None:
    record = DrillRecord("standalone://x", 0.0)
    parse_xml(render_html(record))
    render_png(record, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_long_run_keeps_the_svg_small() -> None:
    record = make_record()
    record.samples = [
        Sample(i / 10, ours_acks=40 + i % 7, naive_acks=38 + i % 11) for i in range(1800)
    ]
    record.duration = 180.0
    html = render_html(record)
    assert len(html) < 200_000
    assert len(svg_of(html)) < 100  # elements: polylines and paths, not one per sample


@pytest.mark.parametrize("baseline", [True, False])
def test_png_is_a_real_png(tmp_path: Path, baseline: bool) -> None:
    from matplotlib.image import imread

    path = tmp_path / "run.PNG"
    write_report(make_record(baseline=baseline), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert width == 1200
    assert 450 < height < width
    assert pixels.std() > 0.05  # something is drawn on the white


def test_html_suffixes(tmp_path: Path) -> None:
    for name in ("run.html", "run.htm"):
        write_report(make_record(), tmp_path / name)
        parse_xml((tmp_path / name).read_text(encoding="utf-8"))


def test_other_suffixes_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"got 'x\.pdf', expected a file ending in") as info:
        write_report(make_record(), Path("x.pdf"))
    assert info.value.variable == "--report"


def test_png_without_matplotlib_says_how_to_get_it(tmp_path: Path) -> None:
    # a fresh interpreter where importing matplotlib fails, as when the extra is not installed
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from pathlib import Path\n"
        "from aragora_redis.drill.record import DrillRecord\n"
        "from aragora_redis.drill.report import write_report\n"
        f"write_report(DrillRecord('t', 0.0), Path({str(tmp_path / 'x.png')!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "AragoraRedisError" in done.stderr
    assert "pip install 'aragora-redis[report]' (or write .html instead)" in done.stderr
    assert not (tmp_path / "x.png").exists()
    assert issubclass(ConfigError, AragoraRedisError)


def test_record_round_trips_through_json() -> None:
    record = make_record()
    again = DrillRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    assert render_html(again) == render_html(record)
