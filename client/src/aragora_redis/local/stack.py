"""A local stack at run time: reach, stop, crash, freeze and restart its nodes."""

from __future__ import annotations

import signal
from pathlib import Path

import redis

from .._parse import HostPort
from ..errors import LocalStackError
from ..settings import RedisSettings
from . import fencer, probe, procs, record, spec
from .procs import Proc, State


class LocalStack:
    """The processes of one stack directory, as recorded in its state file.

    Nodes are named ``redis-<i>`` (``redis-0`` is the initial master),
    ``sentinel-<i>`` and ``haproxy`` (when the options give it a port); the fencing
    watcher is a process of the stack but not a node (``fencing``). Fault injection:
    :meth:`stop` (SIGTERM), :meth:`kill` (SIGKILL), :meth:`freeze` / :meth:`thaw`
    (SIGSTOP / SIGCONT), :meth:`start`;
    :meth:`restore` brings everything back and waits until the topology is healthy.
    """

    def __init__(
        self, options: spec.StackOptions, processes: dict[str, Proc] | None = None
    ) -> None:
        self.options = options
        self.nodes: dict[str, spec.Node] = {n.name: n for n in spec.nodes(options)}
        self.processes: dict[str, Proc] = dict(processes or {})
        self._settings: RedisSettings | None = None

    @classmethod
    def load(cls, directory: Path) -> LocalStack | None:
        """The stack recorded in ``directory``, or None when there is none."""
        found = record.load(directory.resolve())
        return None if found is None else cls(*found)

    @property
    def directory(self) -> Path:
        """The stack's state directory."""
        return self.options.directory

    @property
    def settings(self) -> RedisSettings:
        """How an application reaches the stack (the ARAGORA_REDIS_* contract)."""
        if self._settings is None:
            self._settings = spec.settings_for(self.options)
        return self._settings

    @property
    def password(self) -> str:
        """The default (admin) user's password of the data nodes."""
        return self.options.password or ""

    @property
    def data_nodes(self) -> list[spec.Node]:
        """The Redis servers, ``redis-0`` first."""
        return [n for n in self.nodes.values() if n.is_data]

    @property
    def sentinels(self) -> list[spec.Node]:
        """The Sentinels (empty unless the topology is sentinel)."""
        return [n for n in self.nodes.values() if n.is_sentinel]

    @property
    def proxies(self) -> list[spec.Node]:
        """The HAProxy process, when the stack runs one."""
        return [n for n in self.nodes.values() if n.role == "haproxy"]

    def node(self, name: str) -> spec.Node:
        """The node called ``name``."""
        try:
            return self.nodes[name]
        except KeyError:
            known = ", ".join(self.nodes)
            raise LocalStackError(f"no node {name!r} in this stack (nodes: {known})") from None

    def node_settings(self, name: str) -> RedisSettings:
        """Standalone settings that reach ``name`` directly."""
        return spec.node_settings(self.options, self.node(name))

    def client(self, name: str, *, timeout: float = 1.0, source: str | None = None) -> redis.Redis:
        """A redis-py client to ``name`` alone, with short timeouts and no retries
        (``source``: the local address its connections leave from)."""
        return probe.client(self.node_settings(name), timeout=timeout, source=source)

    def address(self, name: str) -> HostPort:
        """Where ``name`` listens."""
        node = self.node(name)
        return HostPort(node.host, node.port)

    def _proc(self, name: str) -> Proc | None:
        """The recorded process of ``name``; when ours is gone, the one on disk.

        Another ``LocalStack`` of the same directory (the drill, ``local up``) may
        have restarted the node and recorded the new process: adopt it.
        """
        proc = self.processes.get(name)
        if proc is not None and procs.alive(proc):
            return proc
        found = record.load(self.directory)
        newer = None if found is None else found[1].get(name)
        if newer is not None and newer != proc and procs.alive(newer):
            self.processes[name] = newer
            return newer
        return proc

    def fencer_state(self) -> State:
        """``running``, ``frozen`` or ``stopped``: the fencing watcher (not a node)."""
        proc = self._proc(fencer.FENCER)
        return "stopped" if proc is None else procs.state(proc)

    def spawn_fencer(self) -> Proc | None:
        """Start the fencing watcher when the options want one and it is not running."""
        if not self.options.runs_fencing:
            return None
        proc = self._proc(fencer.FENCER)
        if proc is not None and procs.alive(proc):
            return proc
        log = fencer.fencer_dir(self.options) / "fencer.log"
        log.parent.mkdir(mode=0o700, exist_ok=True)
        proc = procs.spawn(list(fencer.argv(self.options)), log)
        self.processes[fencer.FENCER] = proc
        self.save()
        return proc

    def wait_fencer(self, *, timeout: float = 30.0) -> None:
        """Wait until the fencing watcher hears every sentinel (no-op without one)."""
        if not self.options.runs_fencing:
            return
        want = len(self.sentinels)

        def check() -> bool | str:
            if self.fencer_state() == "stopped":
                raise LocalStackError(
                    f"the fencing watcher exited (log: {fencer.fencer_dir(self.options)})"
                )
            heard = fencer.heard_sentinels(self.options)
            return heard >= want or f"the fencing watcher hears {heard} of {want} sentinels"

        probe.wait_until(check, "the fencing watcher", timeout=timeout)

    def pid(self, name: str) -> int | None:
        """The pid of ``name`` while it runs (or is frozen), else None."""
        proc = self._proc(name)
        return proc.pid if proc is not None and procs.alive(proc) else None

    def state(self, name: str) -> State:
        """``running``, ``frozen`` or ``stopped``."""
        proc = self._proc(self.node(name).name)
        return "stopped" if proc is None else procs.state(proc)

    def running(self) -> list[str]:
        """Names of the nodes whose process is alive (running or frozen)."""
        return [name for name in self.nodes if self.pid(name) is not None]

    def spawn(self, name: str) -> Proc:
        """Start ``name`` from its config file without waiting; a live one is left alone."""
        node = self.node(name)
        proc = self._proc(name)
        if proc is not None and procs.alive(proc):
            return proc
        if not node.conf_path.is_file():
            raise LocalStackError(f"{node.conf_path} is missing: the stack was never started here")
        proc = procs.spawn(list(node.argv), node.log_path, spec.process_env(self.options, node))
        self.processes[name] = proc
        self.save()
        return proc

    def start(self, name: str, *, timeout: float = 30.0) -> None:
        """Start ``name`` (if it is not running) and wait until it answers PING."""
        self.spawn(name)
        self.wait_answers([name], timeout=timeout)

    def wait_answers(self, names: list[str], *, timeout: float = 30.0) -> None:
        """Wait until each node answers PING; a node that dies meanwhile fails at once."""

        def check() -> bool | str:
            for name in names:
                proc = self._proc(name)
                if proc is None or not procs.alive(proc):
                    raise self.died(name)
                if not probe.pings(self.node_settings(name)):
                    return f"{name} does not answer PING yet"
            return True

        probe.wait_until(check, "the nodes to answer PING", timeout=timeout)

    def died(self, name: str) -> LocalStackError:
        """The error for a node that exited: the end of its log says why."""
        node = self.node(name)
        try:
            tail = node.log_path.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            tail = []
        detail = " | ".join(line.strip() for line in tail) or "no log output"
        return LocalStackError(f"{name} (port {node.port}) exited: {detail} (log: {node.log_path})")

    def stop(self, name: str) -> None:
        """Shut ``name`` down gracefully (SIGTERM; SIGKILL after 10 s)."""
        self._end([name], graceful=True)

    def kill(self, name: str) -> None:
        """Crash ``name`` (SIGKILL)."""
        self._end([name], graceful=False)

    def freeze(self, name: str) -> None:
        """Suspend ``name`` (SIGSTOP): it keeps its sockets but answers nothing."""
        self._signal(name, signal.SIGSTOP)
        self._settle(name, "frozen")

    def thaw(self, name: str) -> None:
        """Resume a frozen ``name`` (SIGCONT)."""
        self._signal(name, signal.SIGCONT)
        self._settle(name, "running")

    def _settle(self, name: str, wanted: State) -> None:
        # A stop or continue reaches every thread asynchronously; return once it shows.
        probe.wait_until(
            lambda: self.state(name) == wanted or f"{name} is {self.state(name)}",
            f"{name} to be {wanted}",
            timeout=5.0,
            interval=0.005,
        )

    def down(self) -> list[str]:
        """Stop every recorded process (HAProxy, Sentinels, then data nodes); return who ran.

        The stack is forgotten afterwards."""
        order = [fencer.FENCER, *(n.name for n in self.proxies + self.sentinels)] + [
            n.name for n in reversed(self.data_nodes)
        ]
        stopped = [fencer.FENCER] if self.fencer_state() != "stopped" else []
        stopped += [name for name in order[1:] if self.pid(name) is not None]
        self._end(order, graceful=True)
        record.forget(self.directory)
        return stopped

    def save(self) -> None:
        """Record the options and processes in the state file."""
        record.save(self.options, self.processes)

    def _end(self, names: list[str], *, graceful: bool) -> None:
        targets = [self.processes[n] for n in names if n in self.processes]
        if graceful:
            procs.terminate(targets)
        else:
            for proc in targets:
                procs.send(proc, signal.SIGKILL)
            procs.terminate(targets, grace=5.0)
        for name in names:
            self.processes.pop(name, None)
        if self.directory.exists():
            self.save()

    def _signal(self, name: str, sig: signal.Signals) -> None:
        proc = self.processes.get(self.node(name).name)
        if proc is None or not procs.send(proc, sig):
            raise LocalStackError(f"{name} is not running")
