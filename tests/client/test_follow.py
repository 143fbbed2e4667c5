"""I/O-free: Sentinel events, ROLE replies and the shared failover state."""

from __future__ import annotations

from aragora_redis._follow import FailoverState, Role, SentinelEvent, parse_role

NAME = "aragora-master"


def _event(channel: str, data: str, at: float = 0.0) -> SentinelEvent:
    return SentinelEvent(at, channel, data, "127.0.0.1:26379")


def test_events_name_their_master() -> None:
    assert _event("+switch-master", f"{NAME} 10.0.0.1 6379 10.0.0.2 6379").master_name == NAME
    assert _event("+odown", f"master {NAME} 10.0.0.1 6379 #quorum 2/2").master_name == NAME
    data = f"slave 10.0.0.2:6379 10.0.0.2 6379 @ {NAME} 10.0.0.1 6379"
    assert _event("+selected-slave", data).master_name == NAME
    assert _event("+sdown", "sentinel abc 10.0.0.9 26379 @ other 1.1.1.1 6379").master_name == (
        "other"
    )


def test_switch_and_promotion_name_the_new_master() -> None:
    switch = _event("+switch-master", f"{NAME} 10.0.0.1 6379 10.0.0.2 6380")
    assert switch.new_master() == ("10.0.0.2", 6380)
    promoted = _event("+promoted-slave", f"slave 10.0.0.2:6380 10.0.0.2 6380 @ {NAME} x 1")
    assert promoted.new_master() == ("10.0.0.2", 6380)
    assert _event("+odown", f"master {NAME} 10.0.0.1 6379").new_master() is None


def test_role_replies() -> None:
    assert parse_role([b"master", 100, []]) == Role("master")
    assert parse_role([b"slave", b"10.0.0.2", 6380, b"connected", 99]) == Role(
        "slave", ("10.0.0.2", 6380)
    )
    assert parse_role([b"sentinel", [b"m"]]) == Role("sentinel")
    assert parse_role(None) == Role("unknown")


def test_switch_sets_the_hint_once_and_bumps_the_generation() -> None:
    state = FailoverState(NAME)
    switch = f"{NAME} 10.0.0.1 6379 10.0.0.2 6379"
    state.heard(_event("+switch-master", switch))
    state.heard(_event("+switch-master", switch))  # every sentinel announces it
    assert (state.hint, state.generation) == (("10.0.0.2", 6379), 1)
    state.heard(_event("+switch-master", "other-master 1.1.1.1 1 2.2.2.2 2"))
    assert state.hint == ("10.0.0.2", 6379)
    state.forget_hint(("10.0.0.2", 6379))
    assert state.hint is None


def test_the_gate_holds_commands_during_a_promotion() -> None:
    state = FailoverState(NAME, gate_timeout=5.0)
    selected = f"slave 10.0.0.2:6379 10.0.0.2 6379 @ {NAME} 10.0.0.1 6379"
    state.heard(_event("+selected-slave", selected, at=100.0))
    assert state.hold_for(100.5) == 4.5
    promoted = f"slave 10.0.0.2:6379 10.0.0.2 6379 @ {NAME} 10.0.0.1 6379"
    state.heard(_event("+promoted-slave", promoted, at=101.0))
    assert state.hold_for(101.0) == 0.0
    assert state.hint == ("10.0.0.2", 6379)


def test_the_gate_opens_when_sentinel_gives_the_promotion_up() -> None:
    state = FailoverState(NAME, gate_timeout=5.0)
    state.heard(_event("+selected-slave", f"slave a:1 a 1 @ {NAME} b 2", at=10.0))
    assert state.hold_for(10.5) == 4.5
    state.heard(_event("-failover-abort-slave-timeout", f"master {NAME} b 2", at=11.0))
    assert state.hold_for(11.0) == 0.0
    assert state.hint is None


def test_the_gate_opens_by_itself_after_its_timeout() -> None:
    state = FailoverState(NAME, gate_timeout=2.0)
    state.heard(_event("+selected-slave", f"slave a:1 a 1 @ {NAME} b 2", at=10.0))
    assert state.hold_for(11.0) == 1.0
    assert state.hold_for(12.5) == 0.0
    assert state.gate_closed_at is None
