"""Start server processes detached, and signal exactly the ones we started.

A process is identified by pid, start time and command line together: a pid
alone may have been reused by the time we signal it, so every signal first
checks that the process is still the one recorded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import LocalStackError

State = Literal["running", "frozen", "stopped"]


@dataclass(frozen=True)
class Proc:
    """A process we started: enough to recognise it again later."""

    pid: int
    started: str
    argv: tuple[str, ...]


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> Proc:
    """Start ``argv`` in its own session, stdout and stderr appended to ``log_path``.

    ``env`` is added to the caller's environment (never to the command line, where
    ``ps`` would show it). The process outlives the caller (``aragora-redis local up``
    exits, Redis runs on).
    """
    # Debian installs haproxy in /usr/sbin, which is not on every user's PATH.
    exe = shutil.which(argv[0]) or shutil.which(argv[0], path="/usr/local/sbin:/usr/sbin:/sbin")
    if exe is None:
        raise LocalStackError(f"{argv[0]} not found on PATH; run scripts/setup.sh")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), flags, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    # umask 077: what Redis writes (rewritten configs with passwords, data) is owner-only.
    umask = os.umask(0o077)
    try:
        pid = os.posix_spawn(
            exe, argv, {**os.environ, **(env or {})}, file_actions=actions, setsid=True
        )
    finally:
        os.umask(umask)
    # Some kernels return from posix_spawn before the exec shows in /proc: wait for it.
    deadline = time.monotonic() + 15.0
    while (seen := _identity(pid)) is not None and seen[2] != tuple(argv):
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    if seen is None:
        # It ran and exited already (e.g. its port was taken): a stopped Proc lets the
        # caller report the death with the end of the log, which says why.
        _reap(pid)
        return Proc(pid, "", tuple(argv))
    if seen[2] != tuple(argv):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
        raise LocalStackError(f"{argv[0]} did not start; see {log_path}")
    return Proc(pid, seen[0], tuple(argv))


def state(proc: Proc) -> State:
    """``running``, ``frozen`` (SIGSTOP) or ``stopped`` (gone, or pid now someone else's)."""
    _reap(proc.pid)
    seen = _identity(proc.pid)
    if seen is None or seen[0] != proc.started or seen[2] != proc.argv:
        return "stopped"
    return "frozen" if seen[1] == "T" else "running"


def alive(proc: Proc) -> bool:
    """Whether the recorded process still exists (running or frozen)."""
    return state(proc) != "stopped"


def send(proc: Proc, sig: signal.Signals) -> bool:
    """Send ``sig`` if the process is still ours; False when it is gone."""
    if not alive(proc):
        return False
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        return False
    return True


def terminate(procs: list[Proc], *, grace: float = 10.0) -> list[Proc]:
    """SIGTERM each process still ours, SIGKILL what outlives ``grace``; return the killed ones."""
    for proc in procs:
        # SIGCONT after SIGTERM: a frozen process only acts on SIGTERM once resumed.
        if send(proc, signal.SIGTERM):
            send(proc, signal.SIGCONT)
    left = _wait_gone(procs, grace)
    for proc in left:
        send(proc, signal.SIGKILL)
    still = _wait_gone(left, 5.0)
    if still:
        pids = ", ".join(str(p.pid) for p in still)
        raise LocalStackError(f"processes {pids} survived SIGKILL")
    return left


def _wait_gone(procs: list[Proc], timeout: float) -> list[Proc]:
    deadline = time.monotonic() + timeout
    left = [p for p in procs if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


def _reap(pid: int) -> None:
    # Our own children stay zombies until waited for; others are not ours to wait on.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _identity(pid: int) -> tuple[str, str, tuple[str, ...]] | None:
    """(start time, state letter, argv) of a live process, None when gone or a zombie."""
    proc_dir = Path(f"/proc/{pid}")
    if Path("/proc/self/stat").exists():
        try:
            stat = (proc_dir / "stat").read_text()
            raw = (proc_dir / "cmdline").read_bytes()
        except OSError:
            return None
        fields = stat.rpartition(")")[2].split()
        argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0")[:-1])
        return None if fields[0] in "ZX" else (fields[19], fields[0], argv)
    return _identity_ps(pid)


def _identity_ps(pid: int) -> tuple[str, str, tuple[str, ...]] | None:
    # Without /proc (macOS): ps prints the state, the 5-word start time and the command.
    out = subprocess.run(
        ["ps", "-p", str(pid), "-o", "stat=", "-o", "lstart=", "-o", "command="],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if len(out) < 7 or out[0][0] in "ZX":
        return None
    return " ".join(out[1:6]), out[0][0], tuple(out[6:])
