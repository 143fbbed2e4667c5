"""Apply and heal network faults with nftables (the rules: :mod:`aragora_redis.local.netplan`).

:class:`NetFault` owns one table. :meth:`NetFault.apply` replaces its rules in one
transaction, :meth:`NetFault.heal` removes the table. Used as a context manager it
heals on the way out, also on Ctrl-C and SIGTERM (turned into ``SystemExit`` while
it is active), and on entry removes the tables of runs that died without healing.
By hand: ``nft list tables | grep aragora_redis_part`` and ``nft delete table ip <name>``.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from types import FrameType, TracebackType

from ..errors import LocalStackError
from . import netplan

_counter = itertools.count(1)
_lock = threading.Lock()
_active: set[str] = set()


def unavailable() -> str | None:
    """Why network faults cannot run here (not root, no nft), or None when they can."""
    if shutil.which("nft") is None and shutil.which("nft", path="/usr/sbin:/sbin") is None:
        return "nft not found: run scripts/setup.sh, or 'sudo apt-get install -y nftables'"
    if os.geteuid() != 0:
        return "network faults need root (nftables rules): run 'sudo .venv/bin/aragora-redis drill'"
    return None


def _nft(args: Sequence[str], script: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin") or "nft"
    return subprocess.run(
        [exe, *args], input=script, capture_output=True, text=True, timeout=10, check=False
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale() -> list[str]:
    """Remove the tables of our runs whose process is gone; return their names."""
    listing = _nft(["list", "tables"]).stdout
    pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    removed = []
    for table in netplan.stale_tables(listing, (p for p in pids if _alive(p))):
        if _nft(netplan.delete_argv(table)[1:]).returncode == 0:
            removed.append(table)
    return removed


def heal_all() -> None:
    """Remove every table this process still holds (atexit, signal handlers)."""
    with _lock:
        tables = list(_active)
    for table in tables:
        _nft(netplan.delete_argv(table)[1:])
        with _lock:
            _active.discard(table)


atexit.register(heal_all)


class NetFault:
    """One nftables table of this process; empty (no table) until :meth:`apply`."""

    def __init__(self) -> None:
        why = unavailable()
        if why:
            raise LocalStackError(why)
        self.table = netplan.table_name(os.getpid(), next(_counter))
        self._previous: dict[int, object] = {}

    def apply(self, cuts: Sequence[netplan.Cut] = (), loss: netplan.Loss | None = None) -> None:
        """Make the table hold exactly these cuts and this loss (atomically)."""
        script = netplan.ruleset(self.table, cuts, loss)
        with _lock:
            _active.add(self.table)
        done = _nft(["-f", "-"], script)
        if done.returncode != 0:
            self.heal()
            raise LocalStackError(f"nft refused the rules: {done.stderr.strip()}")

    def heal(self) -> None:
        """Remove the table: every pair reaches every other again."""
        with _lock:
            held = self.table in _active
            _active.discard(self.table)
        if not held:
            return
        done = _nft(netplan.delete_argv(self.table)[1:])
        if done.returncode != 0 and "No such file" not in done.stderr:
            raise LocalStackError(f"could not remove nft table {self.table}: {done.stderr.strip()}")

    def __enter__(self) -> NetFault:
        clean_stale()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                self._previous[sig] = signal.signal(sig, _exit_on_signal)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.heal()
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
            self._previous.clear()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through every ``finally`` and ``with``, which heal.
    heal_all()
    raise SystemExit(128 + signum)
