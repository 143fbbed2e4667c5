"""The seed's bare ``SENTINEL FAILOVER`` while Aragora's own paths write: which acked writes stay.

``scripts/compat/failover_writer.py`` runs in the released Aragora's venv with the
stack's emitted variables and writes through Aragora's URL pool, its session store
and its Sentinel client, logging every acknowledged write. Meanwhile this module
sends ``SENTINEL FAILOVER <master>`` to a sentinel (nothing paused first: the seed
guide's test), waits for the switch and ``settle_s`` more, stops the writer and
checks every acknowledged key on the final master, as the drill checks its own.

As a command (a Sentinel stack with HAProxy and the fencing watcher on free ports)::

    .venv/bin/python -m tests.compat.aragora_failover --runs 5 [--no-fencing]

``make compat-failover`` runs it with ``--runs 5``. tests/compat/test_aragora_failover.py
runs one failover and asserts that no path lost an acknowledged write.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aragora_redis import connect_redis
from aragora_redis._parse import HostPort
from aragora_redis.drill.observe import longest_gap
from aragora_redis.drill.run import _missing
from aragora_redis.local import LocalStack, restore, up_on_free_ports
from aragora_redis.local.probe import wait_until
from aragora_redis.local.ready import current_master, sentinel_views
from tests.compat.aragora_driver import ROOT, deployment_env, ensure_venv

WRITER = ROOT / "scripts" / "compat" / "failover_writer.py"
PATHS = ("url_pool", "session_store", "sentinel_client")
#: Writing before the trigger, and observing after the switch (as the drill's ``--settle 8``).
WARMUP_S = 2.0
SETTLE_S = 8.0
READY_TIMEOUT_S = 60.0
#: Between two failovers: a Sentinel asks a replica for INFO only every 10 s, so a second
#: failover within seconds of the previous demotion can find a Sentinel that still holds
#: the new master's old "master" role and demotes it (``+convert-to-slave``).
GAP_S = 20.0


@dataclass(frozen=True)
class PathResult:
    """One Aragora path through one failover.

    ``outage_s``: the longest stretch without an acknowledged write from the trigger to
    the stop (the drill's ``write_outage_s``); ``back``: it acknowledged a write after
    the switch was seen.
    """

    acked: int
    lost: int
    outage_s: float
    back: bool
    errors: dict[str, int]


def _read_line(stream: Any, timeout: float) -> str:
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return got[0].strip() if got else ""


def _failover(stack: LocalStack) -> None:
    name = stack.options.master_name
    refused = []
    for node in stack.sentinels:
        client = stack.client(node.name)
        try:
            client.sentinel_failover(name)
            return
        except Exception as exc:  # try the next sentinel
            refused.append(f"{node.name}: {type(exc).__name__}")
        finally:
            client.close()
    raise RuntimeError(f"no sentinel accepted SENTINEL FAILOVER: {refused}")


def _switched(stack: LocalStack, old: HostPort) -> bool | str:
    """Every answering Sentinel names one master, not ``old`` (they disagree for a moment)."""
    views = {v for v in sentinel_views(stack).values() if v is not None}
    if len(views) == 1 and old not in views:
        return True
    return f"Sentinels name {sorted(v.render() for v in views)}"


def measure(
    stack: LocalStack, python: Path, *, warmup_s: float = WARMUP_S, settle_s: float = SETTLE_S
) -> dict[str, PathResult]:
    """One seed failover while Aragora writes; the figures per Aragora path."""
    restore(stack, timeout=60.0)
    old = current_master(stack)
    run = f"{int(time.time() * 1000):x}"
    with tempfile.TemporaryDirectory(prefix="aragora-failover-") as scratch:
        writer = subprocess.Popen(
            [str(python), str(WRITER), run],
            env={**deployment_env(stack.settings), "TMPDIR": scratch},
            cwd=scratch,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # Aragora may log secrets there
            text=True,
        )
        try:
            if _read_line(writer.stdout, READY_TIMEOUT_S) != "ready":
                raise RuntimeError("the Aragora writer did not start writing on every path")
            time.sleep(warmup_s)
            trigger = time.time()
            _failover(stack)
            wait_until(lambda: _switched(stack, old), "the Sentinels to switch", timeout=30.0)
            switched = time.time()
            time.sleep(settle_s)
            stop = time.time()
            out, _ = writer.communicate(input="", timeout=60.0)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    restore(stack, timeout=60.0)
    client = connect_redis(stack.settings)
    try:
        results = {}
        for path in PATHS:
            acked = [(str(k), float(t)) for k, t in report[path]["acked"]]
            lost = _missing(client, [k for k, _ in acked])
            times = [t for _, t in acked]
            results[path] = PathResult(
                acked=len(acked),
                lost=len(lost),
                outage_s=round(longest_gap(times, trigger, stop), 3),
                back=any(t > switched for t in times),
                errors=dict(report[path]["errors"]),
            )
        return results
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """Run ``--runs`` seed failovers on a fresh local Sentinel stack and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-fencing", action="store_true", help="without the fencing watcher")
    parser.add_argument("--settle", type=float, default=SETTLE_S)
    parser.add_argument("--gap", type=float, default=GAP_S, help="seconds between two runs")
    args = parser.parse_args(argv)
    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="aragora-failover-stack-") as folder:
        stack = up_on_free_ports(
            Path(folder), "sentinel", haproxy=True, fencing=not args.no_fencing
        )
        try:
            totals: dict[str, list[PathResult]] = {p: [] for p in PATHS}
            for i in range(1, args.runs + 1):
                if i > 1:
                    time.sleep(args.gap)
                results = measure(stack, python, settle_s=args.settle)
                for path, r in results.items():
                    totals[path].append(r)
                    print(
                        f"run {i} {path}: {r.lost} of {r.acked} acknowledged writes lost, "
                        f"outage {r.outage_s} s, back {r.back}, errors {r.errors}",
                        flush=True,
                    )
            print(f"fencing {'off' if args.no_fencing else 'on'}, {args.runs} runs:")
            for path, rs in totals.items():
                lost = [r.lost for r in rs]
                outages = [r.outage_s for r in rs]
                print(
                    f"  {path}: lost {min(lost)}-{max(lost)} (total {sum(lost)}), "
                    f"outage {min(outages)}-{max(outages)} s"
                )
            bad = any(r.lost or not r.back for rs in totals.values() for r in rs)
            return 1 if bad and not args.no_fencing else 0
        finally:
            stack.down()


if __name__ == "__main__":
    sys.exit(main())
