"""Apply and heal network faults with nftables (the rules: :mod:`aragora_redis.local.netplan`).

:class:`NetFault` owns one table. :meth:`NetFault.apply` replaces its rules in one
transaction (and with ``delay`` queues the packets of some addresses to a
:class:`~aragora_redis.local.nfqueue.Delayer` through an iptables-legacy chain of
ours), :meth:`NetFault.heal` removes it all. Used as a context manager it heals on
the way out, also on Ctrl-C and SIGTERM/SIGHUP (turned into ``SystemExit``; call
:func:`heal_on_signals` from the main thread when faults run in another), and on
entry removes what runs that died without healing left. By hand:
``nft list tables | grep aragora_redis_part`` then ``nft delete table ip <name>``;
``iptables-legacy -S | grep aragora_redis_part`` then ``-D`` each OUTPUT jump, ``-F``
and ``-X`` the chain.
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
from .nfqueue import Delayer, jitter

_counter = itertools.count(1)
_lock = threading.Lock()
_active: set[str] = set()
#: This process' delay chain, when one is set up: its OUTPUT jumps.
_jumps: dict[str, list[str]] = {}


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


def delay_unavailable() -> str | None:
    """Why packets cannot be delayed here, or None."""
    if _exe(netplan.IPTABLES) is None:
        return f"{netplan.IPTABLES} not found: run scripts/setup.sh (installs iptables)"
    return None


def _exe(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    exe = _exe(argv[0]) or argv[0]
    return subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=10, check=False)


def clean_stale() -> list[str]:
    """Remove the tables and chains of our runs whose process is gone; return their names."""
    listing = _nft(["list", "tables"]).stdout
    pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    alive = [p for p in pids if _alive(p)]
    removed = []
    for table in netplan.stale_tables(listing, alive):
        if _nft(netplan.delete_argv(table)[1:]).returncode == 0:
            removed.append(table)
    if delay_unavailable() is None:
        chains = netplan.stale_chains(_run([netplan.IPTABLES, "-S"]).stdout, alive)
        for chain, jumps in chains.items():
            for argv in netplan.undelay_argv(chain, jumps):
                _run(argv)
            removed.append(chain)
    return removed


def heal_all() -> None:
    """Remove every table and chain this process still holds (atexit, signal handlers)."""
    with _lock:
        tables = list(_active)
        chains = dict(_jumps)
        _jumps.clear()
    for table in tables:
        _nft(netplan.delete_argv(table)[1:])
        with _lock:
            _active.discard(table)
    for chain, jumps in chains.items():
        for argv in netplan.undelay_argv(chain, jumps):
            _run(argv)


def heal_on_signals() -> None:
    """From the main thread: SIGTERM and SIGHUP heal, then exit (``SystemExit``)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)


atexit.register(heal_all)


class NetFault:
    """One nftables table of this process; empty (no table) until :meth:`apply`."""

    def __init__(self) -> None:
        why = unavailable()
        if why:
            raise LocalStackError(why)
        self.table = netplan.table_name(os.getpid(), next(_counter))
        self._previous: dict[int, object] = {}
        self._delayer: Delayer | None = None

    def apply(
        self,
        cuts: Sequence[netplan.Cut] = (),
        loss: netplan.Loss | None = None,
        delay: tuple[frozenset[str], float, float] | None = None,
    ) -> None:
        """Make the table hold exactly these cuts and this loss (atomically); ``delay``
        (addresses, mean, spread in seconds) delays every packet leaving those addresses."""
        if delay is not None:
            self._delay(*delay)
        script = netplan.ruleset(self.table, cuts, loss)
        with _lock:
            _active.add(self.table)
        done = _nft(["-f", "-"], script)
        if done.returncode != 0:
            self.heal()
            raise LocalStackError(f"nft refused the rules: {done.stderr.strip()}")

    def _delay(self, sources: frozenset[str], mean_s: float, spread_s: float) -> None:
        why = delay_unavailable()
        if why:
            raise LocalStackError(why)
        pid = os.getpid()
        chain, queue = netplan.chain_name(pid), netplan.queue_number(pid)
        with _lock:
            if chain in _jumps:
                raise LocalStackError(f"{chain} delays already: one delay per process")
            _jumps[chain] = [f"-A OUTPUT -s {a}/32 -j {chain}" for a in sorted(sources)]
        # Listen first: the rules' packets then never wait for a listener.
        self._delayer = Delayer(queue, jitter(mean_s, spread_s))
        for argv in netplan.delay_argv(chain, queue, sources):
            done = _run(argv)
            if done.returncode != 0:
                self.heal()
                raise LocalStackError(f"{' '.join(argv)} failed: {done.stderr.strip()}")

    def _undelay(self) -> None:
        chain = netplan.chain_name(os.getpid())
        with _lock:
            jumps = _jumps.pop(chain, None)
        if jumps is not None:
            for argv in netplan.undelay_argv(chain, jumps):
                _run(argv)
        if self._delayer is not None:
            self._delayer.close()
            self._delayer = None

    def heal(self) -> None:
        """Remove the table (and the delay): every pair reaches every other again."""
        self._undelay()
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
