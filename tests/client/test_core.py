"""I/O-free core of the stores: keys, JSON codec, event envelope, subscriber liveness."""

from __future__ import annotations

import json

import pytest

from aragora_redis import ConfigError, keys
from aragora_redis._codec import (
    SESSION_TTLS,
    Event,
    check_ttl,
    decode,
    decode_event,
    encode,
    encode_event,
    gap_event,
    session_ttl,
)
from aragora_redis._liveness import Liveness
from aragora_redis.errors import InvalidValue
from aragora_redis.subscriptions import split_targets


def test_key_layout_follows_aragora() -> None:
    assert keys.session("auth", "s1") == "aragora:session:auth:s1"
    assert keys.debate("d1") == "aragora:debate:d1"
    assert keys.ACTIVE_DEBATES == "aragora:debates:active"
    assert keys.debate_channel("d1") == "aragora:events:debate:d1"
    assert keys.broadcast_channel("loops") == "aragora:broadcast:loops"
    assert keys.ratelimit("api", "alice") == "aragora:ratelimit:api:{alice}"


@pytest.mark.parametrize("bad", ["", "a{b", "a}b", "a\nb"])
def test_key_parts_refuse_braces_and_empties(bad: str) -> None:
    with pytest.raises(ConfigError, match="session id"):
        keys.session("auth", bad)


def test_unknown_broadcast_scope_is_refused() -> None:
    with pytest.raises(ConfigError, match="debates, loops, global"):
        keys.broadcast_channel("everyone")


def test_encode_is_compact_json_and_decodes_back() -> None:
    raw = encode({"a": [1, "é"]}, max_bytes=100, what="x")
    assert raw == '{"a":[1,"é"]}'.encode()
    assert decode(raw) == {"a": [1, "é"]}
    assert decode(None) is None


def test_encode_refuses_what_is_not_json() -> None:
    with pytest.raises(InvalidValue, match="session auth/s1 is not JSON-serialisable"):
        encode({"when": object()}, max_bytes=100, what="session auth/s1")
    with pytest.raises(InvalidValue, match="not JSON"):
        encode(float("nan"), max_bytes=100, what="v")


def test_encode_refuses_values_over_the_limit() -> None:
    with pytest.raises(InvalidValue, match="over the limit of 10"):
        encode("x" * 20, max_bytes=10, what="v")


def test_session_ttls_default_to_aragoras() -> None:
    assert SESSION_TTLS == {
        "debate": 3600,
        "loop": 86400,
        "auth": 3600,
        "voice": 86400,
        "device": 2592000,
    }
    assert session_ttl("device", {}) == 2592000
    assert session_ttl("device", {"device": 60}) == 60
    assert session_ttl("other", {}) == 3600


@pytest.mark.parametrize("ttl", [0, -1, 0.5, float("inf"), float("nan")])
def test_ttl_must_be_a_second_or_more(ttl: float) -> None:
    with pytest.raises(InvalidValue, match="ttl"):
        check_ttl(ttl)


def test_event_envelope_round_trip() -> None:
    event = Event("vote", {"agent": "a"}, "inst-1", 1700000000.5)
    raw = encode_event(event, max_bytes=1000)
    assert json.loads(raw) == {
        "type": "vote",
        "payload": {"agent": "a"},
        "instance_id": "inst-1",
        "timestamp": 1700000000.5,
    }
    back = decode_event(raw, "ch", "1-0")
    assert (back.type, back.payload, back.instance_id, back.channel) == (
        "vote",
        {"agent": "a"},
        "inst-1",
        "ch",
    )
    assert back.stream_id == "1-0"


def test_foreign_messages_become_unknown_events() -> None:
    event = decode_event(b"plain text", "ch")
    assert (event.type, event.payload) == ("unknown", "plain text")


def test_gap_event_is_marked() -> None:
    gap = gap_event("ch", 1.0, 2.5, "no PONG")
    assert gap.is_gap
    assert gap.payload == {"since": 1.0, "until": 2.5, "reason": "no PONG"}


def test_targets_split_into_channels_and_patterns() -> None:
    assert split_targets(("a", "b:*", "c?", "d[12]")) == (["a"], ["b:*", "c?", "d[12]"])


def test_liveness_pings_then_declares_a_silent_connection_deaf() -> None:
    live = Liveness(ping_every=0.5, dead_after=1.0)
    live.started(10.0, subscriptions=1)
    assert not live.ping_due(10.2)
    assert live.ping_due(10.5)
    live.pinged(10.5)
    assert not live.ping_due(10.6)
    assert not live.deaf(11.4)
    assert live.deaf(11.6)
    assert live.wait(10.6, deadline=100.0) == pytest.approx(0.9)


def test_liveness_pong_resets_the_ping_cycle() -> None:
    live = Liveness(ping_every=0.5, dead_after=1.0)
    live.started(0.0, subscriptions=1)
    live.pinged(0.5)
    live.ponged(0.6)
    assert not live.deaf(5.0)
    assert live.ping_due(1.1)


def test_liveness_gap_runs_from_the_last_sign_of_life() -> None:
    live = Liveness()
    live.started(0.0, subscriptions=2)
    live.heard(3.0)
    live.lost(4.5, "no PONG")
    live.lost(5.0, "connection refused")  # the first reason and start stay
    live.started(6.0, subscriptions=2)
    assert live.recovered(6.0) == (3.0, 6.0, "no PONG")
    assert live.recovered(7.0) is None
    assert live.gaps == [(3.0, 6.0, "no PONG")]


def test_liveness_sees_a_silent_resubscription() -> None:
    live = Liveness()
    live.started(0.0, subscriptions=2)
    assert not live.confirmed(0.1)
    assert not live.confirmed(0.1)
    live.heard(2.0)
    assert live.confirmed(5.0)  # redis-py reconnected by itself: a third confirmation
    assert not live.confirmed(5.0)
    assert live.recovered(5.0) == (2.0, 5.0, "reconnected and re-subscribed by redis-py")
