"""The fencing decision: which Sentinel event fences which address, for how long (no I/O)."""

from __future__ import annotations

from aragora_redis._fence import PAUSE_MS, Fence, Fencer, cut_ids
from aragora_redis._follow import SentinelEvent

NAME = "aragora-master"
OLD = ("127.0.0.1", 7000)
NEW = ("127.0.0.1", 7001)
OTHER = ("127.0.0.1", 7002)


def _slave(addr: tuple[str, int], master: tuple[str, int], tail: str = "") -> str:
    ip, port = addr
    text = f"slave {ip}:{port} {ip} {port} @ {NAME} {master[0]} {master[1]}"
    return f"{text} {tail}".rstrip()


def ev(channel: str, data: str) -> SentinelEvent:
    return SentinelEvent(0.0, channel, data, "s0")


SELECTED = ev("+selected-slave", _slave(NEW, OLD))
PROMOTED = ev("+promoted-slave", _slave(NEW, OLD))
SWITCH = ev("+switch-master", f"{NAME} {OLD[0]} {OLD[1]} {NEW[0]} {NEW[1]}")
STILL_MASTER = ev("-role-change", _slave(OLD, NEW, "new reported role is master"))
BACK = ev("-sdown", _slave(OLD, NEW))


def test_selected_slave_fences_the_old_master_for_a_bounded_pause() -> None:
    fencer = Fencer(NAME)
    assert fencer.heard(SELECTED, 0.0) == Fence(OLD, PAUSE_MS, "+selected-slave")


def test_promotion_and_switch_fence_the_old_master_never_the_new_one() -> None:
    fencer = Fencer(NAME)
    for event in (SELECTED, PROMOTED, SWITCH):
        fence = fencer.heard(event, 0.0)
        assert fence is not None
        assert fence.addr == OLD
    assert NEW not in fencer.deposed


def test_another_master_name_is_never_fenced() -> None:
    fencer = Fencer("someone-else")
    assert all(fencer.heard(e, 0.0) is None for e in (SELECTED, PROMOTED, SWITCH, BACK))


def test_a_master_that_was_not_replaced_is_never_fenced() -> None:
    fencer = Fencer(NAME)
    fencer.heard(SWITCH, 0.0)
    other_back = ev("-sdown", _slave(OTHER, NEW))
    master_back = ev("-sdown", f"master {NAME} {NEW[0]} {NEW[1]}")
    assert fencer.heard(other_back, 1.0) is None
    assert fencer.heard(master_back, 1.0) is None
    assert fencer.heard(ev("+sdown", _slave(OLD, NEW)), 1.0) is None


def test_a_frozen_old_master_that_comes_back_is_fenced_again() -> None:
    fencer = Fencer(NAME)
    fencer.heard(SWITCH, 0.0)
    for event in (BACK, STILL_MASTER):
        fence = fencer.heard(event, 6.0)
        assert fence is not None
        assert fence.addr == OLD


def test_demotion_ends_the_fence() -> None:
    for demoted in (
        ev("+convert-to-slave", _slave(OLD, NEW)),
        ev("+role-change", _slave(OLD, NEW, "new reported role is slave")),
    ):
        fencer = Fencer(NAME)
        fencer.heard(SWITCH, 0.0)
        assert fencer.heard(demoted, 1.0) is None
        assert fencer.heard(BACK, 2.0) is None
        assert fencer.due(5.0) == []


def test_a_confirmed_fence_is_renewed_until_demoted_or_held_too_long() -> None:
    fencer = Fencer(NAME, renew_s=0.5, hold_s=30.0)
    fencer.heard(PROMOTED, 0.0)
    assert fencer.due(0.1) == []
    assert [f.addr for f in fencer.due(0.6)] == [OLD]
    assert fencer.due(0.7) == []
    fencer.demoted(OLD)
    assert fencer.due(5.0) == []
    fencer.heard(SWITCH, 10.0)
    assert fencer.due(41.0) == []
    assert OLD not in fencer.deposed


def test_an_unconfirmed_fence_is_not_renewed_and_lapses() -> None:
    # A failover that aborts after +selected-slave: the single pause ends by itself.
    fencer = Fencer(NAME, pause_ms=2000)
    fencer.heard(SELECTED, 0.0)
    assert fencer.due(1.0) == []
    assert fencer.due(2.5) == []
    assert OLD not in fencer.deposed
    assert fencer.heard(ev("-sdown", f"master {NAME} {OLD[0]} {OLD[1]}"), 3.0) is None


def test_a_returning_master_is_no_longer_deposed() -> None:
    fencer = Fencer(NAME)
    fencer.heard(SWITCH, 0.0)
    back = ev("+switch-master", f"{NAME} {NEW[0]} {NEW[1]} {OLD[0]} {OLD[1]}")
    fence = fencer.heard(back, 20.0)
    assert fence is not None
    assert fence.addr == NEW
    assert OLD not in fencer.deposed


def test_malformed_events_fence_nothing() -> None:
    fencer = Fencer(NAME)
    assert fencer.heard(ev("+switch-master", NAME), 0.0) is None
    assert fencer.heard(ev("+selected-slave", f"slave x @ {NAME}"), 0.0) is None


def test_clients_are_cut_only_once_the_switch_is_confirmed() -> None:
    fencer = Fencer(NAME, renew_s=0.5)
    cuts = [getattr(fencer.heard(e, 0.0), "cut", None) for e in (SELECTED, PROMOTED, SWITCH)]
    assert cuts == [False, False, True]
    assert [f.cut for f in fencer.due(0.6)] == [True]
    back = fencer.heard(BACK, 1.0)
    assert back is not None
    assert back.cut


def test_cut_spares_sentinels_replication_pubsub_and_itself() -> None:
    listed = [
        {"id": "3", "name": "", "flags": "S"},
        {"id": "4", "name": "", "flags": "M"},
        {"id": "6", "name": "sentinel-9c922516-cmd", "flags": "N"},
        {"id": "7", "name": "sentinel-9c922516-pubsub", "flags": "P"},
        {"id": "8", "name": "bridge", "flags": "P"},
        {"id": "20", "name": "", "flags": "N"},
        {"id": "21", "name": "app", "flags": "N"},
        {"id": "22", "name": "", "flags": "N"},
        {"id": "bogus", "name": "", "flags": "N"},
    ]
    assert cut_ids(listed, own_id=22) == [20, 21]
