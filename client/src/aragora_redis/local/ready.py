"""When is a stack ready: each topology's health, as a check that says what is missing.

Every check returns True when healthy, else a short reason, so that waiting
loops can report what they were still waiting for.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from .._parse import HostPort
from ..errors import LocalStackError
from . import endpoint, probe
from .stack import LocalStack

CLUSTER_SLOTS = 16384


def wait_ready(
    stack: LocalStack, *, timeout: float = 30.0, progress: Callable[[str], None] | None = None
) -> None:
    """Wait until every node answers and the topology is whole."""
    say = progress or (lambda _: None)
    say("waiting for every node to answer PING")
    stack.wait_answers(list(stack.nodes), timeout=timeout)
    topology = stack.options.topology
    if topology == "sentinel":
        say("waiting for replicas to sync and Sentinels to see each other")
        probe.wait_until(
            lambda: sentinel_health(stack), "the Sentinel topology to settle", timeout=timeout
        )
    elif topology == "endpoint":
        say("waiting for the replicas to sync with the endpoint's primary")
        probe.wait_until(
            lambda: endpoint_health(stack), "the endpoint topology to settle", timeout=timeout
        )
    elif topology == "cluster":
        say("waiting for cluster_state:ok on every node")
        probe.wait_until(lambda: cluster_health(stack), "the cluster to settle", timeout=timeout)


def restore(stack: LocalStack, *, timeout: float = 30.0) -> list[str]:
    """Thaw frozen nodes, start stopped ones, wait until healthy; return the nodes touched."""
    touched = []
    for name in stack.nodes:
        state = stack.state(name)
        if state == "frozen":
            stack.thaw(name)
        elif state == "stopped":
            stack.spawn(name)
        if state != "running":
            touched.append(name)
    if stack.options.topology == "endpoint":
        # No Sentinel re-points a node that came back: the control plane does.
        stack.wait_answers(list(stack.nodes), timeout=timeout)
        endpoint.EndpointControl(stack).heal()
    if stack.options.runs_fencing and stack.fencer_state() != "running":
        stack.spawn_fencer()
        touched.append("fencing")
    wait_ready(stack, timeout=timeout)
    stack.wait_fencer(timeout=timeout)
    return touched


def current_master(stack: LocalStack) -> HostPort:
    """The master the Sentinels agree on, or the endpoint routes to (else ``redis-0``)."""
    if stack.options.topology == "endpoint":
        return stack.address(endpoint.routed(stack))
    if not stack.sentinels:
        return stack.address("redis-0")
    views = {view for view in sentinel_views(stack).values() if view is not None}
    if len(views) != 1:
        raise LocalStackError(f"the Sentinels disagree on the master: {sorted(views)}")
    return views.pop()


def sentinel_views(stack: LocalStack) -> dict[str, HostPort | None]:
    """What each Sentinel reports as the master's address (None when it does not answer)."""
    out: dict[str, HostPort | None] = {}
    for node in stack.sentinels:
        try:
            raw = probe.ask(
                stack.node_settings(node.name),
                "SENTINEL",
                "GET-MASTER-ADDR-BY-NAME",
                stack.options.master_name,
            )
        except redis.RedisError:
            raw = None
        match raw:
            case [host, str() as port]:
                out[node.name] = HostPort(str(host), int(port))
            case _:
                out[node.name] = None
    return out


def replication_health(stack: LocalStack, master: HostPort) -> bool | str:
    """Whether every other data node replicates ``master`` with its link up."""
    replicas = [n for n in stack.data_nodes if n.port != master.port]
    for node in replicas:
        rep = probe.info(stack.node_settings(node.name), "replication")
        if rep.get("role") != "slave" or rep.get("master_port") != str(master.port):
            return f"{node.name} is not yet a replica of port {master.port}"
        if rep.get("master_link_status") != "up":
            return f"{node.name}: master_link_status is {rep.get('master_link_status')}"
    return True


def proxy_health(stack: LocalStack, master: HostPort) -> bool | str:
    """Whether HAProxy (when the stack runs it) forwards new connections to ``master``."""
    for node in stack.proxies:
        reached = probe.info(stack.node_settings(node.name), "server").get("tcp_port")
        if reached != str(master.port):
            return (
                f"{node.name} routes to port {reached or 'none'}, not to the master {master.port}"
            )
    return True


def sentinel_health(stack: LocalStack) -> bool | str:
    """One agreed master, replicas linked, and each Sentinel knowing all replicas and peers."""
    try:
        master = current_master(stack)
    except LocalStackError as exc:
        return str(exc)
    replicated = replication_health(stack, master)
    if replicated is not True:
        return replicated
    routed = proxy_health(stack, master)
    if routed is not True:
        return routed
    replicas, peers = len(stack.data_nodes) - 1, len(stack.sentinels) - 1
    name = stack.options.master_name
    for node in stack.sentinels:
        settings = stack.node_settings(node.name)
        try:
            view = probe.ask(settings, "SENTINEL MASTER", name)
            known = probe.ask(settings, "SENTINEL REPLICAS", name)
        except redis.RedisError as exc:
            return f"{node.name}: {type(exc).__name__}"
        if not isinstance(view, dict) or not isinstance(known, list):
            return f"{node.name}: unexpected reply"
        healthy = [r for r in known if r.get("flags") == "slave"]
        if len(healthy) != replicas or view.get("num-other-sentinels") != peers:
            return (
                f"{node.name} knows {len(healthy)}/{replicas} healthy replicas and "
                f"{view.get('num-other-sentinels')}/{peers} other Sentinels"
            )
    return True


def endpoint_health(stack: LocalStack) -> bool | str:
    """The endpoint routes to a master and every other data node replicates it."""
    try:
        name = endpoint.routed(stack)
    except LocalStackError as exc:
        return str(exc)
    if probe.info(stack.node_settings(name), "replication").get("role") != "master":
        return f"the endpoint routes to {name}, which is not a master"
    return replication_health(stack, stack.address(name))


def cluster_health(stack: LocalStack) -> bool | str:
    """cluster_state:ok and all slots everywhere, every node known, every replica linked."""
    total, masters = len(stack.data_nodes), 0
    for node in stack.data_nodes:
        settings = stack.node_settings(node.name)
        try:
            state = probe.ask(settings, "CLUSTER INFO")
        except redis.RedisError as exc:
            return f"{node.name}: {type(exc).__name__}"
        if not isinstance(state, dict):
            return f"{node.name}: unexpected CLUSTER INFO reply"
        if state.get("cluster_state") != "ok" or int(state.get("cluster_known_nodes", 0)) != total:
            return f"{node.name}: cluster_state {state.get('cluster_state')}"
        if int(state.get("cluster_slots_ok", 0)) != CLUSTER_SLOTS:
            return f"{node.name}: {state.get('cluster_slots_ok')} slots ok"
        rep = probe.info(settings, "replication")
        if rep.get("role") == "master":
            masters += 1
        elif rep.get("master_link_status") != "up":
            return f"{node.name}: master_link_status is {rep.get('master_link_status')}"
    return True if masters == total // 2 else f"{masters} masters, expected {total // 2}"
