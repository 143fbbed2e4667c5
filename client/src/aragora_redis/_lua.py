"""The package's Lua scripts (``aragora_redis/lua/*.lua``), read once with importlib.resources."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def source(name: str) -> str:
    """The text of ``lua/<name>.lua``."""
    return files("aragora_redis").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
