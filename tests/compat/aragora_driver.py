"""Run scripts/compat/driver.py in the released Aragora's venv against one stack's settings.

The venv (``.venv-aragora/``) is made by ``scripts/compat/setup.sh`` from the locked,
hashed ``scripts/compat/requirements.txt``. The driver gets exactly what a deployment
gets: the variables ``RedisSettings.to_env()`` emits (the stack's ``.env``), plus the
production switches that make Aragora's validators require Redis.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from aragora_redis import RedisSettings

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv-aragora" / "bin" / "python"
DRIVER = ROOT / "scripts" / "compat" / "driver.py"
SETUP = ROOT / "scripts" / "compat" / "setup.sh"
#: The whole driver run; each path inside has its own 25 s limit.
RUN_TIMEOUT_S = 300.0


def ensure_venv() -> Path:
    """Install (or confirm) the locked Aragora venv; its python."""
    subprocess.run([str(SETUP)], check=True, timeout=600)
    return VENV_PYTHON


def deployment_env(settings: RedisSettings) -> dict[str, str]:
    """The emitted contract, as a production deployment of Aragora would load it."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **base,
        **settings.to_env(),
        "ARAGORA_ENV": "production",
        "ARAGORA_MULTI_INSTANCE": "true",
        "ARAGORA_ENCRYPTION_KEY": secrets.token_hex(32),
    }


def run_driver(python: Path, settings: RedisSettings) -> dict[str, Any]:
    """The driver's JSON report; its stderr is not shown (Aragora may log secrets there).

    It runs in a scratch directory: Aragora writes state files (``.nomic/``) where it runs.
    """
    with tempfile.TemporaryDirectory(prefix="aragora-compat-") as scratch:
        done = subprocess.run(
            [str(python), str(DRIVER)],
            env={**deployment_env(settings), "TMPDIR": scratch},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
            cwd=scratch,
        )
    if done.returncode != 0:
        raise RuntimeError(
            f"the driver exited {done.returncode} (stderr withheld: may hold secrets)"
        )
    report: dict[str, Any] = json.loads(done.stdout)
    return report
