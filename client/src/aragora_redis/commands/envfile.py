"""Read a ``.env`` file of ``KEY=value`` lines (what ``make local`` writes)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; blank lines and ``#`` comments skipped; no shell expansion."""
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        if not sep:
            raise ConfigError(str(path), f"line {number}: expected KEY=value")
        env[key.strip()] = value.strip()
    return env
