"""The network-fault machinery heals: on SIGTERM, and at the next start after a crash.

Each test runs a child process that applies a cut, a loss and a delay to addresses of
a subnet no server uses, then dies; the rules must be gone (SIGTERM) or removed by
:func:`aragora_redis.local.netfault.clean_stale` (SIGKILL). Needs root and nft.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from aragora_redis.local import netfault, netplan

WHY_NOT = netfault.unavailable() or netfault.delay_unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

CHILD = """
import sys, time
from aragora_redis.local import netfault, netplan
fault = netfault.NetFault().__enter__()
target = frozenset({"127.77.254.10"})
fault.apply(
    [netplan.Cut.between({"127.77.254.10"}, {"127.77.254.11", "127.0.0.1"})],
    loss=netplan.Loss(target, 5),
    delay=(target, 0.2, 0.05),
)
print("applied", flush=True)
time.sleep(60)
"""


def _ours(pid: int) -> list[str]:
    tables = netfault._nft(["list", "tables"]).stdout
    chains = netfault._run([netplan.IPTABLES, "-S"]).stdout
    found = [line for line in tables.splitlines() if f"{netplan.TABLE_PREFIX}_{pid}_" in line]
    return found + [line for line in chains.splitlines() if netplan.chain_name(pid) in line]


def _child() -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "applied"
    assert _ours(child.pid), "the child's rules are not in place"
    return child


def test_sigterm_heals_before_the_process_exits() -> None:
    child = _child()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=20) == 128 + signal.SIGTERM
    assert _ours(child.pid) == []


def test_the_next_start_removes_what_a_killed_run_left() -> None:
    child = _child()
    child.kill()
    child.wait(timeout=20)
    left = _ours(child.pid)
    assert left, "SIGKILL cannot heal: the rules must still be there"
    removed = netfault.clean_stale()
    assert netplan.chain_name(child.pid) in removed
    assert any(name.startswith(f"{netplan.TABLE_PREFIX}_{child.pid}_") for name in removed)
    assert _ours(child.pid) == []
