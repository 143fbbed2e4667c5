"""The stack's outputs as files: ``outputs.json`` like ``pulumi stack output --json``, and ``.env``.

Both hold real secrets and are written with mode 0600. Both are rendered by
:meth:`RedisSettings.to_env`, the one definition of the contract.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..settings import RedisSettings
from .record import write_private

ENV_MAP_KEY = "aragoraRedisEnv"
_PLAIN = re.compile(r"[A-Za-z0-9_./:@,+=%-]*")


def stack_outputs(settings: RedisSettings) -> dict[str, object]:
    """One key per ARAGORA_REDIS_* variable, plus the whole map under ``aragoraRedisEnv``."""
    env = settings.to_env()
    return {**env, ENV_MAP_KEY: env}


def env_file_text(env: dict[str, str]) -> str:
    """``NAME=value`` lines, sourceable by a shell; other characters get single quotes."""
    lines = [
        f"{name}={value if _PLAIN.fullmatch(value) else _quoted(value)}"
        for name, value in env.items()
    ]
    return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def write_outputs(settings: RedisSettings, outputs_path: Path, env_path: Path) -> None:
    """Write ``outputs.json`` and the ``.env`` file, both 0600."""
    write_private(outputs_path, json.dumps(stack_outputs(settings), indent=2) + "\n")
    write_private(env_path, env_file_text(settings.to_env()))
