"""Bring a local stack up from nothing: check ports, make certificates, render, start, wait.

Either the whole stack comes up or nothing is left running: any failure stops
what was started before the error is raised.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import LocalStackError
from . import engine, probe, ready, record, spec
from .ports import PortInUse, check_ports_free, pick_free_ports
from .stack import LocalStack
from .tls import make_certs

_IN_USE = re.compile(r":(\d+): bind: Address already in use")


def up(
    options: spec.StackOptions,
    *,
    timeout: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> LocalStack:
    """Start the stack ``options`` describes and wait until it is healthy.

    Raises :class:`PortInUse` (nothing started) when a port is taken, and
    :class:`LocalStackError` when a stack is already running in the directory.
    """
    say = progress or (lambda _: None)
    options = options.resolved()
    exe = engine.server_binary(options.engine)  # missing: one line naming what to install
    if options.tls and (why := engine.tls_refusal(options.engine, exe)):
        raise LocalStackError(why)
    say("checking that the ports are free")
    _refuse_running(options)
    check_ports_free(options.all_ports)
    stack = LocalStack(options)
    _prepare(stack, say)
    try:
        _start(stack, timeout=timeout, say=say)
    except BaseException as exc:
        with contextlib.suppress(LocalStackError):
            stack.down()
        if isinstance(exc, LocalStackError) and (match := _IN_USE.search(str(exc))):
            raise PortInUse([int(match.group(1))]) from None
        raise
    return stack


def up_on_free_ports(
    directory: Path,
    topology: spec.Topology,
    *,
    attempts: int = 4,
    timeout: float = 60.0,
    haproxy: bool = False,
    **options: Any,
) -> LocalStack:
    """Start a throwaway stack on loopback ports that are free now (tests, drills).

    ``haproxy`` (sentinel only) adds HAProxy on one more free port; the endpoint
    topology always has it.
    ``options`` are further :class:`StackOptions` fields (``tls``, ``extra_users``...).
    When another process takes a port between the check and the bind, the ports are
    drawn again, up to ``attempts`` times.
    """
    data = spec.DATA_NODES[topology]
    sentinels = spec.SENTINELS if topology == "sentinel" else 0
    buses = data if topology == "cluster" else 0
    haproxy = haproxy or topology == "endpoint"
    for attempt in range(1, attempts + 1):
        ports = pick_free_ports(data + sentinels + buses + int(haproxy))
        layout = spec.StackOptions(
            topology=topology,
            directory=directory,
            ports=ports[:data],
            sentinel_ports=ports[data : data + sentinels],
            bus_ports=ports[data + sentinels : data + sentinels + buses],
            haproxy_port=ports[-1] if haproxy else None,
            **options,
        )
        try:
            return up(layout, timeout=timeout)
        except PortInUse:
            if attempt == attempts:
                raise
    raise LocalStackError("attempts must be 1 or more")


def _refuse_running(options: spec.StackOptions) -> None:
    existing = LocalStack.load(options.directory)
    if existing is not None and existing.running():
        raise LocalStackError(
            f"a stack is already running in {options.directory} "
            f"({', '.join(existing.running())}); stop it first"
        )


def _prepare(stack: LocalStack, say: Callable[[str], None]) -> None:
    options = stack.options
    options.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in [options.tls_dir, *(n.directory for n in stack.nodes.values())]:
        # A fresh stack: old data, node ids and rewritten configs would contradict it.
        shutil.rmtree(path, ignore_errors=True)
    if options.tls:
        say("generating a CA and a server certificate with openssl")
        make_certs(options.tls_dir)
    for node in stack.nodes.values():
        node.directory.mkdir(mode=0o700)
        record.write_private(node.conf_path, spec.render(options, node))
    stack.save()


def _start(stack: LocalStack, *, timeout: float, say: Callable[[str], None]) -> None:
    data = [n.name for n in stack.data_nodes]
    say(f"starting {len(data)} redis-server processes")
    for name in data:
        stack.spawn(name)
    stack.wait_answers(data, timeout=timeout)
    if stack.options.topology == "cluster":
        say("creating the cluster with redis-cli --cluster create")
        _create_cluster(stack, timeout=timeout)
    if stack.options.topology in spec.REPLICATED:
        say("waiting for the replicas to sync")
        master = stack.address("redis-0")
        probe.wait_until(
            lambda: ready.replication_health(stack, master), "replication", timeout=timeout
        )
    if stack.sentinels:
        say(f"starting {len(stack.sentinels)} Sentinels")
        for node in stack.sentinels:
            stack.spawn(node.name)
    for node in stack.proxies:
        say("starting HAProxy in front of the primary")
        stack.spawn(node.name)
    if stack.spawn_fencer() is not None:
        say("starting the fencing watcher beside the Sentinels")
    ready.wait_ready(stack, timeout=timeout, progress=say)
    stack.wait_fencer(timeout=timeout)


def _create_cluster(stack: LocalStack, *, timeout: float) -> None:
    options = stack.options
    user, password = spec.client_credentials(options)
    argv = ["redis-cli", "--cluster", "create"]
    argv += [f"{node.host}:{node.port}" for node in stack.data_nodes]
    argv += ["--cluster-replicas", "1", "--cluster-yes"]
    if user:
        argv += ["--user", user]
    if options.tls:
        argv += ["--tls", "--cacert", str(options.tls_dir / "ca.crt")]
    # REDISCLI_AUTH keeps the password off the command line, where ps would show it.
    env = {**os.environ, "REDISCLI_AUTH": password}
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise LocalStackError("redis-cli not found on PATH; run scripts/setup.sh") from None
    except subprocess.TimeoutExpired:
        raise LocalStackError(f"redis-cli --cluster create took over {timeout:g}s") from None
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise LocalStackError(f"redis-cli --cluster create failed: {tail}")
