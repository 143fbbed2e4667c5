"""The README's "Use it in a service" apps, run as written: FastAPI under uvicorn, aiohttp.

Each code block marked ``<!-- readme-app: NAME -->`` is executed as a module with the
ARAGORA_REDIS_* settings of a real standalone, served on a loopback port, and asked
for ``/api/hello``: its startup connects the stores, the middleware answers with the
rate-limit fields.
"""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from aragora_redis.local import LocalStack
from tests.client.web_support import serve_aiohttp, serve_asgi

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_app(name: str) -> Any:
    text = README.read_text()
    found = re.search(rf"<!-- readme-app: {name} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"no readme-app {name} in README.md"
    namespace: dict[str, Any] = {"__name__": f"readme_{name}"}
    exec(compile(found.group(1), f"README.md:{name}", "exec"), namespace)  # noqa: S102
    return namespace["app"]


@pytest.mark.parametrize("name", ["fastapi", "aiohttp"])
async def test_the_readme_apps_run_with_the_middleware(
    name: str, standalone: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in standalone.settings.to_env().items():
        monkeypatch.setenv(variable, value)
    admin = standalone.client("redis-0")
    admin.delete("aragora:ratelimit:http:{/api/*:ip:127.0.0.1}")
    admin.close()
    app = readme_app(name)
    server: AbstractAsyncContextManager[str] = (
        serve_asgi(app) if name == "fastapi" else serve_aiohttp(app)
    )
    async with server as url, httpx.AsyncClient(trust_env=False) as http:
        hello = await http.get(f"{url}/api/hello")
        health = await http.get(f"{url}/health")
    assert hello.status_code == 200
    assert hello.json() == {"hello": "world"}
    assert hello.headers["RateLimit-Policy"] == '"/api/*";q=50;w=5'
    assert hello.headers["RateLimit"].startswith('"/api/*";r=49;')
    assert health.status_code == 404  # no such route; exempt, so no fields either
    assert "RateLimit" not in health.headers
