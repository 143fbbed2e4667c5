"""The client as a service installs it: ``uv build`` of client/, a fresh venv, the wheel alone.

The wheel must carry py.typed, the Lua scripts and the console script, its version
must be ``aragora_redis.__version__``, and with only its declared dependencies it
must import, keep web frameworks and OpenTelemetry out (its metrics are then
no-ops), and run a store against a real redis-server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import aragora_redis
from aragora_redis.local import LocalStack

ROOT = Path(__file__).resolve().parents[2]
UV = [sys.executable, "-m", "uv"]

PROBE = """
import importlib.util, json, aragora_redis
from aragora_redis.asgi import RateLimitMiddleware
stores = aragora_redis.connect()
stores.sessions.put("auth", "wheel-test", {"user": "alice"})
print(json.dumps({
    "version": aragora_redis.__version__,
    "file": aragora_redis.__file__,
    "session": stores.sessions.get("auth", "wheel-test"),
    "allowed": stores.rate_limiter.hit("wheel-test", rate=1, burst=1).allowed,
    "frameworks": [m for m in ("aiohttp", "starlette", "fastapi", "uvicorn", "opentelemetry")
                   if importlib.util.find_spec(m)],
    "metrics_off": aragora_redis._metrics._on is None,
}))
stores.close()
"""


def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    assert done.returncode == 0, f"{argv[:4]}: {done.stderr[-2000:]}"
    return done.stdout


def test_the_wheel_installs_alone_and_runs_a_store(tmp_path: Path, standalone: LocalStack) -> None:
    dist = tmp_path / "dist"
    run([*UV, "build", "--wheel", "--out-dir", str(dist), str(ROOT / "client")])
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"aragora_redis-{aragora_redis.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    lua = (ROOT / "client/src/aragora_redis/lua").glob("*.lua")
    assert {"aragora_redis/py.typed", *(f"aragora_redis/lua/{f.name}" for f in lua)} <= names
    info = f"aragora_redis-{aragora_redis.__version__}.dist-info"
    scripts = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "aragora-redis = aragora_redis.cli:main" in scripts

    venv = tmp_path / "venv"
    run([*UV, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    run([*UV, "pip", "install", "--quiet", "--python", str(python), str(wheel)])
    assert (venv / "bin" / "aragora-redis").exists()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARAGORA_", "PYTHON"))}
    env.update(standalone.settings.to_env())
    out = json.loads(run([str(python), "-c", PROBE], cwd=tmp_path, env=env))
    assert out["version"] == aragora_redis.__version__
    assert out["file"].startswith(str(venv))
    assert out["session"] == {"user": "alice"}
    assert out["allowed"] is True
    assert out["frameworks"] == []
    assert out["metrics_off"] is True, "without the otel extra there are no instruments"


def test_the_readme_git_install_line_installs_the_client(tmp_path: Path) -> None:
    """The README's git line, with this checkout's own URL (``file://``) as the repository."""
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("pip install") and "git+" in x)
    requirement = (
        line.removeprefix("pip install ").strip('"').replace("<repository URL>", ROOT.as_uri())
    )
    venv = tmp_path / "venv"
    run([*UV, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    run([*UV, "pip", "install", "--quiet", "--python", str(python), requirement])
    code = "import aragora_redis, aragora_redis.asgi; print(aragora_redis.__version__)"
    assert run([str(python), "-c", code]).strip() == aragora_redis.__version__
