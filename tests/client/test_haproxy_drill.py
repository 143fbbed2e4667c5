"""The drill's URL-only client: its retry loop on a real node, and its column in the results."""

from __future__ import annotations

import io
import json
import time
import uuid
import xml.etree.ElementTree as ET

from rich.console import Console

from aragora_redis.commands.drill import results_table
from aragora_redis.drill.record import DrillRecord, FaultResult
from aragora_redis.drill.report import render_html
from aragora_redis.drill.workload import UrlOnlyWorkload
from aragora_redis.local import LocalStack

OURS = {"write_outage_s": 1.2, "acked_writes": 1000.0, "acked_writes_lost": 0.0}
URL_ONLY = {"write_outage_s": 0.32, "acked_writes": 5495.0, "acked_writes_lost": 2337.0}


def _record(url_only: dict[str, float] | None) -> DrillRecord:
    fault = FaultResult("sentinel-down", 1.0, 7.0, ours=dict(OURS), url_only=url_only)
    return DrillRecord("sentinel://127.0.0.1:7500", 1_764_158_400.0, 8.0, faults=[fault])


def test_record_with_url_only_figures_round_trips_through_json() -> None:
    record = _record(dict(URL_ONLY))
    again = DrillRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    assert again.faults[0].url_only == URL_ONLY


def test_old_records_without_url_only_still_load() -> None:
    data = _record(None).to_json()
    del data["faults"][0]["url_only"]
    assert DrillRecord.from_json(data).faults[0].url_only is None


def test_results_table_has_a_url_only_column_only_when_it_ran() -> None:
    def printed(record: DrillRecord) -> str:
        out = io.StringIO()
        Console(file=out, width=120).print(results_table(record))
        return out.getvalue()

    with_url = printed(_record(dict(URL_ONLY)))
    assert "url-only" in with_url
    lost_row = next(line for line in with_url.splitlines() if "acked_writes_lost" in line)
    assert "2337" in lost_row
    assert "url-only" not in printed(_record(None))


def test_html_report_shows_the_url_only_figures() -> None:
    html = render_html(_record(dict(URL_ONLY)))
    root = ET.fromstring(html)  # noqa: S314  # our own renderer's output
    (table,) = (t for t in root.iter("table") if t.get("class") == "fault")
    header = [th.text for th in table.iter("th")]
    assert header == ["metric", "ours", "URL-only via HAProxy"]
    rows = {tr[0].text: [td.text for td in tr[1:]] for tr in table.iter("tr") if tr[0].tag == "td"}
    assert rows["acked_writes_lost"] == ["0", "2,337"]
    assert rows["write_outage_s"] == ["1.20 s", "0.32 s"]
    assert "URL-only" not in render_html(_record(None))


def test_url_only_writer_retries_through_an_outage_and_loses_nothing(
    standalone: LocalStack,
) -> None:
    load = UrlOnlyWorkload(standalone.settings, uuid.uuid4().hex[:8], time.monotonic)

    def acks() -> int:
        with load.obs.lock:
            return len(load.obs.write_acks)

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 30
        while acks() < count:
            assert time.monotonic() < deadline, f"only {acks()} acked writes"
            time.sleep(0.02)

    load.start()
    try:
        wait_for(20)
        standalone.stop("redis-0")
        time.sleep(0.5)
        before_restart = acks()
        standalone.start("redis-0")
        wait_for(before_restart + 20)
    finally:
        load.stop()
    with load.obs.lock:
        keys = [key for _, key in load.obs.write_acks]
        errors = len(load.obs.write_errors)
    assert errors > 0, "the writer saw the node go away"
    assert len(set(keys)) == len(keys), "a retried write is acknowledged once"
    client = standalone.client("redis-0")
    try:
        assert sum(client.exists(key) for key in keys) == len(keys)
    finally:
        client.close()
