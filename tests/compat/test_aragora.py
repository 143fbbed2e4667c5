"""The released Aragora's own Redis paths on every local topology, as the stacks emit them.

One driver run per topology (scripts/compat/driver.py in .venv-aragora), one test per
Aragora path; known Aragora-side defects are xfail(strict) with the reason (known.py).
``make compat`` runs this directory alone; ``make test`` includes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aragora_redis import connect_redis
from aragora_redis.local import LocalStack
from tests.compat.aragora_driver import ensure_venv, run_driver
from tests.compat.known import EXPECTED_MODE, KNOWN, PATHS, TOPOLOGIES

_REPORTS: dict[str, dict[str, Any]] = {}


#: Aragora's compatibility is a property of Aragora's code and our contract, not of the
#: server engine: the suite runs on Redis only (the stack fixtures take ``engine``, so it
#: is pinned here rather than left to the session's redis/valkey parameter).
ACTIVE_INDEX = "aragora:debates:active"
pytestmark = pytest.mark.parametrize("engine", ["redis"], indirect=True)


@pytest.fixture(scope="session")
def aragora_python() -> Path:
    return ensure_venv()


def _report(request: pytest.FixtureRequest, python: Path, topology: str) -> dict[str, Any]:
    if topology not in _REPORTS:
        stack: LocalStack = request.getfixturevalue(TOPOLOGIES[topology])
        _clear_index_conflict(stack)
        _REPORTS[topology] = run_driver(python, stack.settings)
    return _REPORTS[topology]


def _clear_index_conflict(stack: LocalStack) -> None:
    """Drop ``aragora:debates:active`` when our state store left it as a sorted set.

    A known conflict, not Aragora's defect alone: our state store keeps that index as a
    sorted set scored by expiry, Aragora's RedisStateManager as a set (server/redis_state.py:116,
    231), so on one Redis each gets WRONGTYPE from the other's index (docs/aragora.md).
    The suite checks Aragora's own code, so it starts from Aragora's type; the session
    stacks are shared with our store tests, which recreate the key.
    """
    client = connect_redis(stack.settings)
    try:
        if client.type(ACTIVE_INDEX) not in ("none", "set", b"none", b"set"):
            client.delete(ACTIVE_INDEX)
    finally:
        client.close()


def _cases() -> list[Any]:
    cases = []
    for topology in TOPOLOGIES:
        for path in PATHS:
            why = KNOWN.get((topology, path))
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            cases.append(pytest.param(topology, path, marks=marks, id=f"{topology}-{path}"))
    return cases


@pytest.mark.parametrize(("topology", "path"), _cases())
def test_aragora_path(
    request: pytest.FixtureRequest, aragora_python: Path, topology: str, path: str, engine: str
) -> None:
    result = _report(request, aragora_python, topology)["paths"][path]
    assert result["ok"], f"{path} on {topology}: {result['detail']}"
    if "mode" in result:
        assert result["mode"] == EXPECTED_MODE[topology]


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
def test_driver_prints_no_password(
    request: pytest.FixtureRequest, aragora_python: Path, topology: str, engine: str
) -> None:
    stack: LocalStack = request.getfixturevalue(TOPOLOGIES[topology])
    text = repr(_report(request, aragora_python, topology))
    assert stack.password not in text
    assert stack.settings.url not in text


def test_pinned_release_is_installed(
    aragora_python: Path, standalone: LocalStack, engine: str
) -> None:
    report = _report_for_standalone(aragora_python, standalone)
    pinned = (Path(__file__).parents[2] / "scripts/compat/requirements.in").read_text()
    assert f"aragora=={report['aragora']}\n" in pinned
    assert report["redis"].startswith("7.")


def _report_for_standalone(python: Path, stack: LocalStack) -> dict[str, Any]:
    if "standalone" not in _REPORTS:
        _REPORTS["standalone"] = run_driver(python, stack.settings)
    return _REPORTS["standalone"]
