"""I/O-free: the limiter's script calls, how checks are grouped and packed and replies read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import Connection
from redis.crc import key_slot
from redis.exceptions import ClusterCrossSlotError, NoScriptError, ResponseError

from aragora_redis import _script as script
from aragora_redis._bucket import Decision, Prepared, parse_run, prepare, take


def _checks(n: int) -> list[Prepared]:
    """Checks of different callers; every three in a row share their limits."""
    return [prepare(f"user-{i}", 0.5 + i // 3, 10 * (i // 3 + 1), 1 + i // 3 % 3) for i in range(n)]


@pytest.mark.parametrize("load", [False, True])
def test_packed_calls_are_what_redis_py_would_send(load: bool) -> None:
    ps = _checks(6)
    for group in ([0], [3, 5], range(3)):
        expected = b"".join(Connection().pack_command(*script.command(ps, group, load)))
        assert script.pack(ps, group, load) == expected


@pytest.mark.parametrize("load", [False, True])
def test_a_call_sends_each_key_once_with_its_number_of_checks(load: bool) -> None:
    a, b = prepare("a", 1, 2), prepare("b", 1, 2)
    ps = [a, b, a, a]
    sent = script.command(ps, [0, 1, 2, 3], load)
    assert sent[2:] == (2, a.key, b.key, 1.0, 2.0, 1.0, 3, 1)
    expected = b"".join(Connection().pack_command(*sent))
    assert script.pack(ps, [0, 1, 2, 3], load) == expected
    got = script.Replies(ps)
    # a: 2 of 3 admitted, 0 left, 2 before the first; b: admitted, 1 left
    got.take([0, 1, 2, 3], [2, b"0", b"2", 1, b"1"])
    assert [(d.allowed, d.remaining) for d in got.decisions()] == [
        (True, 1.0),
        (True, 1.0),
        (True, 0.0),
        (False, 0.0),
    ]


_tokens_or_none = st.one_of(st.none(), st.floats(0, 1e4))


@given(
    tokens=_tokens_or_none,
    last=st.floats(0, 100),
    now=st.floats(0, 100),
    rate=st.floats(1e-3, 1e4),
    burst=st.floats(0.5, 1e4),
    share=st.floats(0, 1),
    checks=st.integers(1, 60),
)
def test_checks_of_one_key_in_one_call_decide_as_checks_one_by_one(
    tokens: float | None,
    last: float,
    now: float,
    rate: float,
    burst: float,
    share: float,
    checks: int,
) -> None:
    # What one script call answers for ``checks`` checks of a key (how many were
    # admitted, the tokens before the first) gives each check the decision it would
    # have got alone, one after the other at the same time (the script's clock).
    cost = share * burst
    before = take(tokens, last, now, rate, burst, 0.0).remaining  # refilled, nothing taken
    state: tuple[float | None, float | None] = (tokens, last)
    one_by_one = []
    for _ in range(checks):
        step = take(*state, now, rate, burst, cost)
        one_by_one.append((step.allowed, step.remaining, step.retry_after))
        state = step.stored or state
    taken = sum(allowed for allowed, _, _ in one_by_one)
    assert [a for a, _, _ in one_by_one] == [True] * taken + [False] * (checks - taken)
    got = parse_run(Prepared("k", rate, burst, cost), checks, taken, repr(before))
    assert [(d.allowed, d.remaining, d.retry_after) for d in got] == one_by_one


def test_calls_are_runs_of_one_limit_in_order() -> None:
    same = [prepare(f"k{i}", 1, 2) for i in range(2 * script.MAX_CHECKS_PER_CALL + 5)]
    groups = script.runs(same, range(len(same)))
    assert [len(g) for g in groups] == [script.MAX_CHECKS_PER_CALL] * 2 + [5]
    assert [i for g in groups for i in g] == list(range(len(same)))
    mixed = _checks(7) + _checks(2)
    assert script.runs(mixed, range(9)) == [[0, 1, 2], [3, 4, 5], [6], [7, 8]]


def test_calls_share_a_slot() -> None:
    ps = _checks(50)
    groups = script.calls(ps, lambda key: len(key) % 3)
    assert sorted(i for g in groups for i in g) == list(range(50))
    assert all(len({len(ps[i].key) % 3 for i in g}) == 1 for g in groups)
    assert all(list(g) == sorted(g) for g in groups)


def test_calls_are_runs_of_one_limit_within_a_slot() -> None:
    same = [prepare(f"k{i}", 1, 2) for i in range(2 * script.MAX_CHECKS_PER_CALL + 5)]
    one_slot = script.calls(same, lambda key: 7)
    assert one_slot == script.runs(same, range(len(same)))


def test_the_default_slot_is_redis_clusters_hash_tag_slot() -> None:
    # Keys with one hash tag share a call; the slot is redis-py's (CRC16 of the tag).
    ps = [prepare("alice", 1, 2), prepare("bob", 1, 2), prepare("alice", 1, 2, scope="x")]
    assert key_slot(b"alice") != key_slot(b"bob")
    assert script.calls(ps) == [[0, 2], [1]]
    assert script.calls(ps[:1]) == [(0,)]


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([(1, 2, 1), (1, 2, 2), (3, 9, 1)])),
        min_size=1,
        max_size=150,
    )
)
def test_no_call_spans_slots_or_limits_and_each_keys_order_is_kept(
    raw: list[tuple[int, tuple[int, int, int]]],
) -> None:
    ps = [prepare(f"user-{k}", *limits) for k, limits in raw]
    groups = script.calls(ps)
    assert sorted(i for g in groups for i in g) == list(range(len(ps)))
    for g in groups:
        assert 1 <= len(g) <= script.MAX_CHECKS_PER_CALL
        assert len({key_slot(ps[i].key.encode()) for i in g}) == 1
        assert len({ps[i][1:] for i in g}) == 1
    sent = [i for g in groups for i in g]  # the calls go out in this order
    for key in {p.key for p in ps}:
        mine = [i for i in sent if ps[i].key == key]
        assert mine == sorted(mine)


@pytest.mark.parametrize(
    ("mode_cluster", "sharded", "server", "refused", "expected"),
    [
        (False, False, False, False, False),  # one unsharded server: calls of many keys
        (False, False, None, False, True),  # not known yet (or INFO refused): may be sharded
        (False, False, True, False, True),  # INFO cluster: cluster_enabled:1
        (False, True, False, False, True),  # ARAGORA_REDIS_SHARDED: a proxy saying 0
        (False, False, False, True, True),  # a CROSSSLOT reply, for good
        (True, False, False, False, True),  # a cluster
    ],
)
def test_calls_keep_to_one_slot_exactly_where_the_server_may_shard(
    mode_cluster: bool, sharded: bool, server: bool | None, refused: bool, expected: bool
) -> None:
    got = script.by_slot(cluster=mode_cluster, sharded=sharded, server=server, refused=refused)
    assert got is expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (b"# Cluster\r\ncluster_enabled:1\r\n", True),
        ("# Cluster\r\ncluster_enabled:0\r\n", False),
        (b"# Cluster\r\n", None),
        (ResponseError("NOPERM this user has no permissions to run the 'info' command"), None),
    ],
)
def test_info_cluster_says_whether_the_server_shards(info: object, expected: bool | None) -> None:
    assert script.reports_cluster(info) is expected


def test_without_slots_a_call_takes_many_callers_of_one_limit() -> None:
    ps = [prepare(f"user-{i}", 1, 2) for i in range(2 * script.MAX_CHECKS_PER_CALL + 5)]
    assert script.calls(ps, slots=False) == script.runs(ps, range(len(ps)))
    assert len(script.calls(ps, slots=False)) == 3
    assert len(script.calls(ps)) > 3  # by slot: about a call per caller
    assert script.calls(ps[:1], slots=False) == [(0,)]


def test_refused_calls_are_split_by_slot_in_order() -> None:
    ps = _checks(12)
    refused = [[0, 1, 2], [6, 7, 8]]
    groups = script.split(ps, refused, lambda key: len(key) % 2)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 6, 7, 8]
    assert all(len({len(ps[i].key) % 2 for i in g}) == 1 for g in groups)
    assert all(len({ps[i][1:] for i in g}) == 1 and list(g) == sorted(g) for g in groups)


def test_crossslot_replies_are_noted_once_then_raised() -> None:
    ps = [prepare(f"user-{i}", 1, 1) for i in range(3)]
    got = script.Replies(ps)
    got.take([0, 1, 2], ClusterCrossSlotError("CROSSSLOT Keys in request don't hash"))
    assert got.refused == [[0, 1, 2]]
    again = got.resend()
    assert sorted(i for g in again for i in g) == [0, 1, 2]
    assert got.refused == []
    with pytest.raises(ClusterCrossSlotError):  # calls of one slot: a second one is an error
        got.take(again[0], ClusterCrossSlotError("CROSSSLOT"))
    for g in again:
        got.take(g, [1, b"0"] * len(g))
    assert [d.allowed for d in got.decisions()] == [True] * 3


def test_replies_fill_in_decisions_and_note_missing_scripts() -> None:
    ps = _checks(4)  # the same results whatever the limits of the calls
    got = script.Replies(ps)
    got.take([0, 2], [1, b"4.5", 0, b"0.25"])
    got.take([1, 3], NoScriptError("NOSCRIPT No matching script."))
    assert got.missing == [[1, 3]]
    assert got.reload() == [[1, 3]]
    with pytest.raises(NoScriptError):  # after EVAL a second NOSCRIPT is an error
        got.take([1, 3], NoScriptError("NOSCRIPT"))
    got.take([1, 3], [1, b"2", 1, b"0"])
    decisions = got.decisions()
    assert [d.allowed for d in decisions] == [True, True, False, True]
    assert decisions[0] == Decision(True, 4.5, 0.0, "redis")
    assert decisions[2] == Decision(False, 0.25, (ps[2].cost - 0.25) / ps[2].rate, "redis")
    with pytest.raises(ResponseError):
        script.Replies(ps).take([0], ResponseError("WRONGTYPE"))
