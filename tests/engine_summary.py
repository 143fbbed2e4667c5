"""A pytest plugin: how many tests ran on each server engine, in the terminal summary.

A test runs on an engine when its ``engine`` fixture parameter (tests/conftest.py)
says so; tests without one use no server fixture. Skips count by engine too (the
TLS cases on a Valkey binary built without TLS), with their reasons.
"""

from __future__ import annotations

from collections import Counter

import pytest

_ENGINE_OF: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Remember each collected test's engine parameter."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine") if callspec is not None else None
        if isinstance(engine, str):
            _ENGINE_OF[item.nodeid] = engine


def _outcome(report: pytest.TestReport) -> str | None:
    if report.when == "call" or (report.when == "setup" and not report.passed):
        return "error" if report.when == "setup" and report.failed else report.outcome
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print one line per engine: passed, failed, skipped (with reasons) and errors."""
    counts: dict[str, Counter[str]] = {}
    reasons: dict[str, Counter[str]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not isinstance(report, pytest.TestReport) or report.nodeid not in _ENGINE_OF:
                continue
            outcome = _outcome(report)
            if outcome is None:
                continue
            engine = _ENGINE_OF[report.nodeid]
            counts.setdefault(engine, Counter())[outcome] += 1
            if outcome == "skipped" and isinstance(report.longrepr, tuple):
                why = str(report.longrepr[2]).removeprefix("Skipped: ")
                reasons.setdefault(engine, Counter())[why] += 1
    if not counts:
        return
    terminalreporter.section("tests per server engine")
    for engine in sorted(counts):
        c = counts[engine]
        line = ", ".join(f"{c[k]} {k}" for k in ("passed", "failed", "error", "skipped") if c[k])
        skips = "; ".join(f"{n} skipped: {why}" for why, n in reasons.get(engine, {}).items())
        terminalreporter.write_line(f"{engine}: {line}" + (f" ({skips})" if skips else ""))
