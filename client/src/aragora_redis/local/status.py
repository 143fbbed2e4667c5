"""What each process of a stack is doing right now, as plain rows (the CLI draws them)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from . import fencer, probe
from .stack import LocalStack

TIMEOUT = 0.5


@dataclass(frozen=True)
class NodeStatus:
    """One row: ``role`` is what the node says it is now, ``link`` its replication or
    cluster state, ``view`` (Sentinels) the master it reports and what it knows."""

    name: str
    role: str
    port: int
    pid: int | None
    state: str
    link: str
    view: str


def collect(stack: LocalStack) -> list[NodeStatus]:
    """A row per node; unreachable or frozen nodes cost at most half a second each."""
    rows = []
    for node in stack.nodes.values():
        state = stack.state(node.name)
        role: str = node.role
        link = view = ""
        if state == "running" and node.is_sentinel:
            role, view = "sentinel", _sentinel_view(stack, node.name)
        elif state == "running" and node.role == "haproxy":
            view = _proxy_view(stack, node.name)
        elif state == "running":
            role, link = _data_view(stack, node.name)
        rows.append(NodeStatus(node.name, role, node.port, stack.pid(node.name), state, link, view))
    if stack.options.runs_fencing:
        rows.append(_fencer_row(stack))
    return rows


def _fencer_row(stack: LocalStack) -> NodeStatus:
    state = stack.fencer_state()
    heard = fencer.heard_sentinels(stack.options) if state == "running" else 0
    view = f"fences a replaced master; hears {heard} of {len(stack.sentinels)} sentinels"
    proc = stack.processes.get(fencer.FENCER)
    pid = proc.pid if proc is not None and state != "stopped" else None
    return NodeStatus(fencer.FENCER, "fencing", 0, pid, state, "", view)


def _data_view(stack: LocalStack, name: str) -> tuple[str, str]:
    settings = stack.node_settings(name)
    rep = probe.info(settings, "replication", timeout=TIMEOUT)
    if not rep:
        return "?", "does not answer"
    role = rep.get("role", "?")
    if role == "slave":
        link = f"link {rep.get('master_link_status')} to :{rep.get('master_port')}"
        role = "replica"
    else:
        count = rep.get("connected_slaves", "0")
        link = f"{count} replica{'' if count == '1' else 's'}"
    if stack.options.topology == "cluster":
        try:
            state = probe.ask(settings, "CLUSTER INFO", timeout=TIMEOUT)
        except redis.RedisError:
            state = {}
        if isinstance(state, dict):
            link += f", cluster_state {state.get('cluster_state', '?')}"
    return role, link


def _proxy_view(stack: LocalStack, name: str) -> str:
    reached = probe.info(stack.node_settings(name), "server", timeout=TIMEOUT).get("tcp_port")
    return f"routes to :{reached}" if reached else "routes nowhere (no master up)"


def _sentinel_view(stack: LocalStack, name: str) -> str:
    settings = stack.node_settings(name)
    master = stack.options.master_name
    try:
        view = probe.ask(settings, "SENTINEL MASTER", master, timeout=TIMEOUT)
    except redis.RedisError as exc:
        return f"does not answer ({type(exc).__name__})"
    if not isinstance(view, dict):
        return "unexpected reply"
    flags = "" if view.get("flags") == "master" else f" [{view.get('flags')}]"
    return (
        f"master {view.get('ip')}:{view.get('port')}{flags}, "
        f"{view.get('num-slaves')} replicas, {view.get('num-other-sentinels')} peers"
    )
