"""The state file of a local stack: its options (secrets included) and its processes.

Written with mode 0600 next to the nodes, rewritten after every start and stop,
so that ``local down`` can stop exactly what was started even after a crash.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import conf
from ..errors import LocalStackError
from .procs import Proc
from .spec import StackOptions

STATE_FILE = "state.json"
VERSION = 1


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, also when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    tmp.replace(path)


def save(options: StackOptions, procs: dict[str, Proc]) -> None:
    """Record ``options`` and ``procs`` in the stack directory."""
    body = {
        "version": VERSION,
        "options": _options_json(options),
        "procs": {name: asdict(p) for name, p in procs.items()},
    }
    write_private(options.directory / STATE_FILE, json.dumps(body, indent=2) + "\n")


def load(directory: Path) -> tuple[StackOptions, dict[str, Proc]] | None:
    """The recorded options and processes, or None when ``directory`` holds no stack."""
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text())
        if body.get("version") != VERSION:
            raise LocalStackError(f"{path} has an unknown version; remove {directory} by hand")
        options = _options_from_json(body["options"])
        procs = {
            name: Proc(int(p["pid"]), str(p["started"]), tuple(p["argv"]))
            for name, p in body["procs"].items()
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise LocalStackError(f"{path} is not a stack record ({type(exc).__name__})") from None
    return options, procs


def forget(directory: Path) -> None:
    """Remove the record (the processes must be gone already)."""
    (directory / STATE_FILE).unlink(missing_ok=True)


def _options_json(options: StackOptions) -> dict[str, Any]:
    data = asdict(options)
    data["directory"] = str(options.directory)
    return data


def _options_from_json(data: dict[str, Any]) -> StackOptions:
    return StackOptions(
        topology=data["topology"],
        directory=Path(data["directory"]),
        ports=tuple(data["ports"]),
        sentinel_ports=tuple(data["sentinel_ports"]),
        bus_ports=tuple(data["bus_ports"]),
        tls=bool(data["tls"]),
        password=data["password"],
        sentinel_password=data["sentinel_password"],
        acl_user=data["acl_user"],
        acl_password=data["acl_password"],
        extra_users=tuple(
            conf.AclUser(u["name"], u["password"], tuple(u["rules"])) for u in data["extra_users"]
        ),
        timings=conf.SentinelTimings(**data["timings"]),
        master_name=data["master_name"],
        host=data["host"],
        min_replicas_to_write=data["min_replicas_to_write"],
        # Absent in records written before HAProxy joined the stack.
        haproxy_port=data.get("haproxy_port"),
        reset_on_failover=bool(data.get("reset_on_failover", False)),
        # Absent in records written before Valkey joined.
        engine=data.get("engine", "redis"),
        # Absent in records written before the fencing watcher joined the stack.
        fencing=bool(data.get("fencing", False)),
        subnet=data.get("subnet"),
    )
