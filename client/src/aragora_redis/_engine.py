"""I/O-free: which server engine a node runs (Redis or Valkey) and its version, from INFO.

Valkey keeps ``redis_version`` in ``INFO server`` for old clients (Valkey 8 reports
``7.2.4`` there) and adds ``server_name:valkey`` and ``valkey_version``; Redis has
neither. :func:`server_identity` reads whichever applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

Engine = Literal["redis", "valkey"]
ENGINES: tuple[Engine, ...] = ("redis", "valkey")

_VERSION_LINE = re.compile(r"^(Redis|Valkey) server v=(\S+)")


def server_identity(info: Mapping[str, Any]) -> tuple[str, str]:
    """``(engine, version)`` of a node from its ``INFO server`` fields; "?" when unknown."""
    if str(info.get("server_name", "")).lower() == "valkey" or "valkey_version" in info:
        return "valkey", str(info.get("valkey_version", "?"))
    if "redis_version" in info:
        return "redis", str(info["redis_version"])
    return "?", "?"


def parse_version_line(text: str) -> tuple[str, str] | None:
    """``(engine, version)`` from ``<server> --version`` output, or None if unrecognised."""
    match = _VERSION_LINE.match(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), match.group(2)
