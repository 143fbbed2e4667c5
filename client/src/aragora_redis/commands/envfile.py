"""Read a ``.env`` file of ``KEY=value`` lines (as ``local up`` and ``env`` write them)."""

from __future__ import annotations

import shlex
from pathlib import Path

from ..errors import ConfigError


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; blank lines and ``#`` comments skipped; no shell expansion.

    A value in single or double quotes is unquoted the way a POSIX shell would
    (``'it'\\''s'`` is ``it's``), so a file written by ``aragora-redis env`` reads back
    unchanged; an ``export`` prefix is allowed.
    """
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.removeprefix("export ").partition("=")
        if not sep:
            raise ConfigError(str(path), f"line {number}: expected KEY=value")
        env[key.strip()] = _unquote(path, number, value.strip())
    return env


def _unquote(path: Path, number: int, value: str) -> str:
    if not value.startswith(("'", '"')):
        return value
    try:
        words = shlex.split(value, posix=True)
    except ValueError as exc:
        raise ConfigError(str(path), f"line {number}: {exc} in a quoted value") from None
    if len(words) != 1:
        raise ConfigError(str(path), f"line {number}: expected one quoted value after '='")
    return words[0]
