"""The fencing watcher of a local Sentinel stack: ``python -m aragora_redis._fencer_main <dir>``.

It listens to every sentinel with the client's :class:`~aragora_redis.watch.SentinelWatcher`
(one thread per sentinel, each reconnecting on its own, so a sentinel restart costs
nothing) and applies what :class:`~aragora_redis._fence.Fencer` decides: a bounded
``CLIENT PAUSE <ms> WRITE`` on a master being replaced, renewed until the node
answers ROLE with "slave", then ``CLIENT UNPAUSE``. The stack's passwords and TLS
files are read from its owner-only state file; nothing secret is ever printed.
While subscribed to at least one sentinel it keeps ``fencing/ready`` in the stack
directory holding the number of sentinels it hears.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import redis

from .._fence import FENCE_CHANNELS, FENCER_CLIENT_NAME, Addr, Fence, Fencer, cut_ids
from .._follow import SentinelEvent, parse_role
from ..settings import RedisSettings
from ..watch import SentinelWatcher
from . import probe, record, spec

#: Fence commands must not hang on a frozen master.
NODE_TIMEOUT_S = 0.3
TICK_S = 0.1
FENCER = "fencing"


def fencer_dir(options: spec.StackOptions) -> Path:
    """Where the fencer keeps its log and ready marker."""
    return options.directory / FENCER


def argv(options: spec.StackOptions) -> tuple[str, ...]:
    """The fencer's command line: the stack directory in it makes the process recognisable."""
    return (sys.executable, "-m", "aragora_redis._fencer_main", str(options.directory))


def heard_sentinels(options: spec.StackOptions) -> int:
    """How many sentinels the fencer says it hears (0: not ready, or not running)."""
    try:
        return int((fencer_dir(options) / "ready").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def node_template(options: spec.StackOptions) -> RedisSettings:
    """How the fencer reaches a data node of the local stack (host and port set per node)."""
    user, password = spec.client_credentials(options)
    tls = spec.node_settings(options, spec.nodes(options)[0])
    first = spec.nodes(options)[0]
    return RedisSettings(
        host=first.host,
        port=first.port,
        username=user,
        password=password,
        ssl=tls.ssl,
        ssl_ca_certs=tls.ssl_ca_certs,
    )


class FenceRunner:
    """Executes the decisions: one short-timeout client per fenced address.

    ``node``: credentials and TLS of the data nodes; its host and port are replaced.
    """

    def __init__(self, master_name: str, node: RedisSettings, say: probe.Progress) -> None:
        self.node = node
        self.say = say
        self.fencer = Fencer(master_name)
        self._lock = threading.Lock()
        self._clients: dict[Addr, redis.Redis] = {}

    def _client(self, addr: Addr) -> redis.Redis:
        client = self._clients.get(addr)
        if client is None:
            settings = self.node.model_copy(update={"host": addr[0], "port": addr[1]})
            client = self._clients[addr] = probe.client(
                settings, timeout=NODE_TIMEOUT_S, name=FENCER_CLIENT_NAME
            )
        return client

    def heard(self, event: SentinelEvent) -> None:
        """Listener of the watcher: decide, then fence at once."""
        with self._lock:
            fence = self.fencer.heard(event, time.monotonic())
        if fence is not None:
            self.apply(fence, check_role=False)

    def tick(self) -> None:
        """Renew the fences that are due; a node that became a replica is released."""
        with self._lock:
            due = self.fencer.due(time.monotonic())
        for fence in due:
            self.apply(fence, check_role=True)

    def apply(self, fence: Fence, *, check_role: bool) -> None:
        """Pause ``fence.addr``; on renewal first ask ROLE, and unpause a replica instead."""
        where = f"{fence.addr[0]}:{fence.addr[1]}"
        client = self._client(fence.addr)
        try:
            if check_role and parse_role(client.execute_command("ROLE")).role == "slave":
                with self._lock:
                    self.fencer.demoted(fence.addr)
                client.execute_command("CLIENT", "UNPAUSE")
                self.say(f"released {where}: it is a replica now")
                return
            client.execute_command("CLIENT", "PAUSE", str(fence.pause_ms), "WRITE")
            cut = self.cut(client) if fence.cut else 0
        except redis.RedisError as exc:
            self.say(f"could not fence {where} ({type(exc).__name__}); {fence.why}")
            return
        if not check_role or cut:
            self.say(f"fenced {where} for {fence.pause_ms} ms, cut {cut} clients: {fence.why}")

    @staticmethod
    def cut(client: redis.Redis) -> int:
        """Kill the node's plain client connections (see :func:`cut_ids`); how many."""
        ids = cut_ids(client.client_list(_type="normal"))
        if ids:
            pipe = client.pipeline(transaction=False)
            for cid in ids:
                pipe.execute_command("CLIENT", "KILL", "ID", str(cid))
            pipe.execute(raise_on_error=False)
        return len(ids)

    def close(self) -> None:
        """Close every node connection."""
        for client in self._clients.values():
            client.close()


def run(directory: Path, stop: threading.Event) -> None:
    """Fence the stack recorded in ``directory`` until ``stop`` is set."""
    found = record.load(directory)
    if found is None:
        raise SystemExit(f"no stack recorded in {directory}")
    options = found[0]
    watch(spec.settings_for(options), node_template(options), fencer_dir(options) / "ready", stop)


def watch(
    settings: RedisSettings, node: RedisSettings, ready: Path | None, stop: threading.Event
) -> None:
    """Fence ``settings.sentinel_master`` through ``settings``' sentinels until ``stop`` is set.

    ``node`` reaches the data nodes; ``ready``, when given, holds the number of
    sentinels heard.
    """
    master = settings.sentinel_master

    def say(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    runner = FenceRunner(master, node, say)
    watcher = SentinelWatcher(settings, [], listener=runner.heard, channels=FENCE_CHANNELS)
    watcher.start()
    say(f"watching {master} through {len(settings.sentinel_hosts)} sentinels")
    shown = -1
    try:
        while not stop.wait(TICK_S):
            runner.tick()
            heard = len(watcher.subscribed)
            if heard != shown and ready is not None:
                record.write_private(ready, f"{heard}\n")
            shown = heard
    finally:
        watcher.stop()
        runner.close()
        if ready is not None:
            with contextlib.suppress(OSError):
                ready.unlink()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop
