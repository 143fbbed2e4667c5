"""The drill against the endpoint topology: one test per failover type its control plane performs.

The stack (``aragora-redis local up --topology endpoint``) is a primary and two
replicas behind HAProxy, which a hidden control plane moves to the promoted node;
connections opened before a switch stay on the demoted node (a DNS endpoint's
behaviour), or with ``reset_on_failover`` are all cut (Memorystore, Azure). Each
test runs the drill with one fault: ours beside naive redis-py (``from_url`` and a
retry loop). Asserted: no acknowledged write lost in the planned failover, no
durable write lost under kill -9 and a frozen primary, no rate-limiter error with
fail-open on. Durations and READONLY counts are printed and recorded, not asserted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from aragora_redis._engine import Engine
from aragora_redis.drill.record import FaultResult
from aragora_redis.local import LocalStack, restore, up_on_free_ports
from aragora_redis.local.endpoint import SWITCH_EVENT, EndpointControl
from aragora_redis.local.probe import wait_until
from aragora_redis.local.watchdog import DEMOTE_EVENT, Watchdog

from .drill_support import Record, drill_one

#: A drill thread dying of an exception fails the test (the drill counts only its own errors).
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def _stack(
    factory: pytest.TempPathFactory, engine: Engine, *, reset: bool = False
) -> Iterator[LocalStack]:
    folder = factory.mktemp(f"endpoint-{engine}")
    stack = up_on_free_ports(folder, "endpoint", reset_on_failover=reset, engine=engine)
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def endpoint_stack(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> Iterator[LocalStack]:
    yield from _stack(tmp_path_factory, engine)


@pytest.fixture(scope="module")
def endpoint_reset_stack(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> Iterator[LocalStack]:
    yield from _stack(tmp_path_factory, engine, reset=True)


def _drill(stack: LocalStack, name: str, record_property: Record) -> FaultResult:
    return drill_one(stack, name, record_property)


def test_endpoint_settings_are_a_cloud_stacks(endpoint_stack: LocalStack) -> None:
    env = endpoint_stack.settings.to_env()
    assert env["ARAGORA_REDIS_MODE"] == "standalone"
    assert env["ARAGORA_REDIS_PORT"] == str(endpoint_stack.address("haproxy").port)
    assert not env.get("ARAGORA_REDIS_SENTINEL_HOSTS")


def test_planned_failover_loses_no_acknowledged_write(
    endpoint_stack: LocalStack, record_property: Record
) -> None:
    ours = _drill(endpoint_stack, "planned", record_property).ours
    assert ours["acked_writes_lost"] == 0
    assert ours["events_lost"] == 0
    assert ours["events_unreplicated"] == 0


@pytest.mark.parametrize("fault", ["kill", "freeze"])
def test_lost_primary_loses_no_durable_write(
    fault: str, endpoint_stack: LocalStack, record_property: Record
) -> None:
    """kill -9 of the primary, or the primary frozen 5 s: promotion after 1 s."""
    ours = _drill(endpoint_stack, fault, record_property).ours
    assert ours["acked_writes_lost"] == 0
    assert ours["events_lost"] == 0


def test_kill_with_every_connection_reset_loses_no_durable_write(
    endpoint_reset_stack: LocalStack, record_property: Record
) -> None:
    ours = _drill(endpoint_reset_stack, "kill", record_property).ours
    assert ours["acked_writes_lost"] == 0
    assert ours["events_lost"] == 0


def _port_of(client: redis.Redis) -> int:
    return int(client.info("server")["tcp_port"])


@pytest.mark.parametrize("reset", [False, True])
def test_a_switch_moves_new_connections_and_keeps_or_cuts_open_ones(
    reset: bool, endpoint_stack: LocalStack, endpoint_reset_stack: LocalStack
) -> None:
    stack = endpoint_reset_stack if reset else endpoint_stack
    control = EndpointControl(stack)
    held = redis.Redis.from_url(stack.settings.url, socket_timeout=5)
    try:
        before = _port_of(held)
        old, new = control.planned()
        assert before == stack.address(old).port
        fresh = redis.Redis.from_url(stack.settings.url, socket_timeout=5)
        try:
            assert _port_of(fresh) == stack.address(new).port
        finally:
            fresh.close()
        if reset:
            # Cut at the switch: redis-py reconnects it, through the endpoint, to the new node.
            assert _port_of(held) == stack.address(new).port
        else:
            assert _port_of(held) == before, "the open connection stayed on the demoted node"
            with pytest.raises(redis.ReadOnlyError):
                held.set("aragora:endpoint:probe", 1)
    finally:
        held.close()
    assert [e for _, e in control.events] == ["endpoint-moved"]


def test_the_failure_detector_promotes_after_silence_and_demotes_the_old_primary(
    endpoint_stack: LocalStack,
) -> None:
    # A frozen primary stands for one the control plane cannot reach (the network
    # faults need root; test_partition_drill.py runs them). Waits are bounded.
    control = EndpointControl(endpoint_stack)
    old = control.primary()
    watchdog = Watchdog(control, detect_s=1.0).start()
    try:
        endpoint_stack.freeze(old)
        try:
            wait_until(lambda: control.primary() != old, "a promotion", timeout=15)
        finally:
            endpoint_stack.thaw(old)
        new = control.primary()
        assert control.role(new) == "master"
        wait_until(lambda: control.role(old) == "slave", "the old primary demoted", timeout=15)
    finally:
        watchdog.stop()
        restore(endpoint_stack)
    moves = [e for _, e in control.events]
    assert moves == [SWITCH_EVENT, DEMOTE_EVENT], "one promotion, then one demotion"
