"""Drive the released Aragora's own Redis entry points; print one JSON result per path.

Run with the Aragora venv's python (``.venv-aragora/bin/python``), in an environment
that holds the ARAGORA_REDIS_* values a stack emitted (as a deployment loads them)::

    .venv-aragora/bin/python scripts/compat/driver.py [path ...]

Prints ``{"aragora": <version>, "redis": <version>, "paths": {name: {"ok": bool,
"detail": str, ...}}}``. No URL or password is printed: every detail is scrubbed of
the passwords in the environment and of URL credentials. Each path has a time limit.
Imports Aragora, so it is excluded from mypy (pyproject.toml); tests/compat runs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable
from typing import Any

PATH_SECONDS = 25
_URL_AUTH = re.compile(r"(rediss?://)[^@/\s]*@")
_SECRETS = [
    v
    for k in ("ARAGORA_REDIS_PASSWORD", "ARAGORA_REDIS_SENTINEL_PASSWORD")
    if (v := os.environ.get(k))
]


def scrub(text: str) -> str:
    """``text`` without passwords or URL credentials."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return _URL_AUTH.sub(r"\1***@", text)


def _key(kind: str) -> str:
    return f"compat-{kind}-{uuid.uuid4().hex[:8]}"


#: Keys (and rate-limit buckets) per path: on a cluster they land on several shards, so
#: a client that is not cluster-aware fails every time instead of by the luck of one slot.
SPREAD = 8


def _roundtrip(client: Any) -> str:
    for _ in range(SPREAD):
        key, value = _key("rt"), uuid.uuid4().hex
        client.set(key, value, ex=60)
        got = client.get(key)
        got = got.decode() if isinstance(got, bytes) else got
        if got != value:
            raise AssertionError(f"read back {got!r}, expected what was written")
    return f"SET/GET round trip of {SPREAD} keys"


def redis_ha_from_env() -> dict[str, Any]:
    from aragora.storage.redis_ha import RedisHAConfig

    config = RedisHAConfig.from_env()
    return {"ok": True, "mode": config.mode.value, "detail": f"mode {config.mode.value}"}


def redis_ha_get_redis_client() -> dict[str, Any]:
    from aragora.storage.redis_ha import RedisHAConfig, get_redis_client

    client = get_redis_client()
    if client is None:
        return {"ok": False, "detail": "get_redis_client() returned None (error logged)"}
    mode = RedisHAConfig.from_env().mode.value
    return {"ok": True, "mode": mode, "detail": f"{mode} client: {_roundtrip(client)}"}


def redis_ha_check_redis_health() -> dict[str, Any]:
    from aragora.storage.redis_ha import check_redis_health

    result = check_redis_health()
    info = result.get("info", {})
    role = info.get("role")
    detail = f"healthy={result['healthy']} mode={result['mode']} role={role}"
    if result.get("error"):
        detail += f" error={result['error']}"
    return {"ok": bool(result["healthy"]), "mode": result["mode"], "detail": detail}


def server_redis_config() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from aragora.server import redis_config

    if not redis_config.is_redis_available():
        return {"ok": False, "detail": "is_redis_available() is False (error logged)"}
    client = redis_config.get_redis_client()
    return {"ok": True, "detail": f"shared URL pool: {_roundtrip(client)}"}


def server_redis_cluster() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from aragora.server import redis_cluster

    client = redis_cluster.get_cluster_client()
    if client is None or not client.is_available:
        return {"ok": False, "detail": "get_cluster_client() is not available (error logged)"}
    key, value = _key("cl"), uuid.uuid4().hex
    client.set(key, value, ex=60)
    if client.get(key) != value:
        raise AssertionError("read back a different value")
    kind = "cluster" if client.is_cluster else "standalone"
    return {"ok": True, "detail": f"{kind} client: SET/GET round trip"}


def _limiter() -> tuple[Any, Any]:
    from aragora.server.middleware.rate_limit import redis_limiter

    client = redis_limiter.get_redis_client()
    if client is None:
        raise RuntimeError("redis_limiter.get_redis_client() returned None (error logged)")
    return client, redis_limiter.RedisRateLimiter(client, enable_distributed_metrics=False)


def rate_limiter() -> dict[str, Any]:
    client, limiter = _limiter()
    found = 0
    for i in range(SPREAD):
        ip = f"10.{uuid.uuid4().int % 250}.{i}.1"
        if not limiter.allow(ip, "/api/debates").allowed:
            return {"ok": False, "detail": f"a first request from {ip} was refused"}
        found += any(client.scan_iter(match=f"aragora:ratelimit:*{ip}*", count=1000))
    fallback = limiter._fallback_requests
    ok = found == SPREAD and not fallback
    detail = f"{SPREAD} clients allowed, buckets in Redis {found}, fallback decisions {fallback}"
    return {"ok": ok, "detail": detail}


def rate_limiter_after_script_flush() -> dict[str, Any]:
    """After SCRIPT FLUSH (as on a freshly promoted Redis 7 master), is Redis still used?"""
    client, limiter = _limiter()
    ip = f"10.{uuid.uuid4().int % 250}.1.1"
    limiter.allow(ip, "/api/debates")
    client.script_flush()
    try:
        limiter.allow(ip, "/api/debates")
    except Exception as exc:
        return {"ok": False, "detail": f"allow() raised {type(exc).__name__}: {exc}"}
    stats = limiter.get_stats()
    return {"ok": True, "detail": f"second allow() went to Redis; stats keys {sorted(stats)}"}


def session_store() -> dict[str, Any]:
    from aragora.server.session_store import RedisSessionStore

    store = RedisSessionStore()
    for _ in range(SPREAD):
        loop = _key("loop")
        store.set_debate_state(loop, {"round": 2})
        got = store.get_debate_state(loop)
        if got != {"round": 2}:
            return {"ok": False, "detail": f"get_debate_state gave {got!r}"}
        store.delete_debate_state(loop)
    return {"ok": True, "detail": f"set/get/delete_debate_state of {SPREAD} loops"}


class _Recorder:
    """The local broadcaster the bridge relays to: records what arrives."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def broadcast_to_debate(self, debate_id: str, event: dict[str, Any]) -> None:
        self.seen.append((debate_id, event))


async def _bridges() -> tuple[Any, Any, _Recorder]:
    from aragora.server.stream.redis_bridge import RedisBroadcastBridge

    url = os.environ["ARAGORA_REDIS_URL"]
    heard = _Recorder()
    sender = RedisBroadcastBridge(_Recorder(), redis_url=url, instance_id=_key("a"))
    listener = RedisBroadcastBridge(heard, redis_url=url, instance_id=_key("b"))
    if not await sender.connect() or not await listener.connect():
        raise RuntimeError("RedisBroadcastBridge.connect() failed (error logged)")
    return sender, listener, heard


async def _delivered(sender: Any, heard: _Recorder, seconds: float = 4.0) -> bool:
    debate = _key("debate")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await sender.publish_debate_event(debate, "vote", {"debate_id": debate})
        await asyncio.sleep(0.1)
        if any(d == debate for d, _ in heard.seen):
            return True
    return False


async def _pubsub() -> dict[str, Any]:
    sender, listener, heard = await _bridges()
    try:
        ok = await _delivered(sender, heard)
        return {"ok": ok, "detail": f"bridge to bridge delivered={ok}"}
    finally:
        await sender.disconnect()
        await listener.disconnect()


async def _pubsub_after_close() -> dict[str, Any]:
    import redis

    sender, listener, heard = await _bridges()
    try:
        if not await _delivered(sender, heard):
            return {"ok": False, "detail": "not delivered even before the close"}
        admin = redis.Redis.from_url(os.environ["ARAGORA_REDIS_URL"])
        admin.client_kill_filter(_type="pubsub")
        admin.close()
        ok = await _delivered(sender, heard, seconds=6.0)
        return {"ok": ok, "detail": f"delivered after the server closed it: {ok}"}
    finally:
        await sender.disconnect()
        await listener.disconnect()


def pubsub() -> dict[str, Any]:
    return asyncio.run(_pubsub())


def pubsub_after_connection_closed() -> dict[str, Any]:
    return asyncio.run(_pubsub_after_close())


async def _debate_state() -> dict[str, Any]:
    from aragora.server.redis_state import RedisStateManager

    manager = RedisStateManager(os.environ["ARAGORA_REDIS_URL"])
    if not await manager.connect():
        return {"ok": False, "detail": "RedisStateManager.connect() failed (error logged)"}
    try:
        for _ in range(SPREAD):
            debate = _key("debate")
            await manager.register_debate(debate, "compat", ["a", "b"])
            got = await manager.get_debate(debate)
            active = await manager.get_active_debates()
            await manager.unregister_debate(debate)
            if got is None or debate not in active:
                return {"ok": False, "detail": f"found={got is not None} active={debate in active}"}
        return {"ok": True, "detail": f"register/get/active/unregister of {SPREAD} debates"}
    finally:
        await manager.disconnect()


def debate_state() -> dict[str, Any]:
    return asyncio.run(_debate_state())


def config_validator() -> dict[str, Any]:
    from aragora.config.validator import validate_all

    result = validate_all()
    summary = result.get("config_summary", {})
    redis_errors = [e for e in result.get("errors", []) if "redis" in e.lower()]
    ok = bool(summary.get("redis_configured")) and not redis_errors
    detail = f"redis_configured={summary.get('redis_configured')} mode={summary.get('redis_mode')}"
    return {"ok": ok, "detail": detail + "".join(f"; {e}" for e in redis_errors)}


def deployment_validator() -> dict[str, Any]:
    from aragora.ops.deployment_validator import DeploymentValidator

    result = asyncio.run(DeploymentValidator().validate())
    redis = [c for c in result.components if c.name == "redis"]
    status = redis[0].status.value if redis else "missing"
    issues = [i.message for i in result.issues if "redis" in f"{i.component} {i.message}".lower()]
    ok = status == "healthy" and not issues
    return {"ok": ok, "detail": f"redis component {status}" + "".join(f"; {i}" for i in issues)}


def check_production_requirements() -> dict[str, Any]:
    from aragora.server.startup.validation import check_production_requirements as check

    missing = [m for m in check() if "redis" in m.lower()]
    return {"ok": not missing, "detail": "; ".join(missing) or "no Redis requirement missing"}


PATHS: dict[str, Callable[[], dict[str, Any]]] = {
    "redis_ha.from_env": redis_ha_from_env,
    "redis_ha.get_redis_client": redis_ha_get_redis_client,
    "redis_ha.check_redis_health": redis_ha_check_redis_health,
    "server.redis_config": server_redis_config,
    "server.redis_cluster": server_redis_cluster,
    "rate_limiter": rate_limiter,
    "rate_limiter.after_script_flush": rate_limiter_after_script_flush,
    "session_store": session_store,
    "pubsub": pubsub,
    "pubsub.after_connection_closed": pubsub_after_connection_closed,
    "debate_state": debate_state,
    "config.validator": config_validator,
    "ops.deployment_validator": deployment_validator,
    "check_production_requirements": check_production_requirements,
}


class _TimeLimit(Exception):
    pass


class _Records(logging.Handler):
    """Every log record of the run, formatted (checked for passwords, quoted on failure)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, self.format(record)))


RECORDS = _Records()


def _alarm(_signum: int, _frame: object) -> None:
    raise _TimeLimit(f"took over {PATH_SECONDS} s")


#: Imported before any path's time limit starts: importing Aragora's server packages takes
#: seconds (over 25 s on a loaded 2-core machine), which is not the path's behaviour.
MODULES = (
    "aragora.storage.redis_ha",
    "aragora.server.redis_config",
    "aragora.server.redis_cluster",
    "aragora.server.middleware.rate_limit.redis_limiter",
    "aragora.server.session_store",
    "aragora.server.stream.redis_bridge",
    "aragora.server.redis_state",
    "aragora.config.validator",
    "aragora.ops.deployment_validator",
    "aragora.server.startup.validation",
)


def preload() -> None:
    """Import the modules the paths use; a failing import is left to its path to report."""
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for module in MODULES:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: S112 (the path that needs it reports the error)
                continue


def run(name: str) -> dict[str, Any]:
    """One path's result, never raising."""
    start = time.monotonic()
    seen = len(RECORDS.lines)
    signal.alarm(PATH_SECONDS)
    try:
        result = PATHS[name]()
    except BaseException as exc:  # one path's failure must not stop the others
        where = traceback.extract_tb(exc.__traceback__)[-1]
        origin = f"{os.path.basename(where.filename)}:{where.lineno}"
        result = {"ok": False, "detail": f"{type(exc).__name__}: {exc} (at {origin})"}
    finally:
        signal.alarm(0)
    warned = [line for level, line in RECORDS.lines[seen:] if level >= logging.WARNING]
    if not result["ok"] and warned:
        result["detail"] = f"{result.get('detail', '')} | last log: {warned[-1][:300]}"
    result["detail"] = scrub(str(result.get("detail", "")))
    result["seconds"] = round(time.monotonic() - start, 2)
    return result


def main() -> int:
    """Run the named paths (default: all) and print the JSON report."""
    import aragora
    import redis

    logging.basicConfig(level=logging.INFO, handlers=[RECORDS], force=True)
    signal.signal(signal.SIGALRM, _alarm)
    names = sys.argv[1:] or list(PATHS)
    preload()
    paths = {name: run(name) for name in names}
    leaked = sorted({line.split(" ", 1)[0] for _, line in RECORDS.lines if _leaks(line)})
    paths["logs_without_password"] = {
        "ok": not leaked,
        "detail": f"loggers that wrote a password at INFO or above: {leaked}",
    }
    report = {"aragora": aragora.__version__, "redis": redis.__version__, "paths": paths}
    print(json.dumps(report, indent=1, sort_keys=True))
    return 0


def _leaks(line: str) -> bool:
    return any(secret in line for secret in _SECRETS)


if __name__ == "__main__":
    sys.exit(main())
