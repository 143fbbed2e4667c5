"""I/O-free: JSON values, event envelopes and session TTLs shared by the sync and async stores.

JSON only, never pickle: a value read back from Redis can never run code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import InvalidValue

#: Aragora's default session TTLs in seconds, per kind; ARAGORA_SESSION_<KIND>_TTL overrides.
SESSION_TTLS: dict[str, int] = {
    "debate": 3600,
    "loop": 86400,
    "auth": 3600,
    "voice": 86400,
    "device": 2592000,
}
#: TTL of a kind Aragora does not name.
DEFAULT_SESSION_TTL = 3600
#: Aragora keeps debate state for a day.
DEBATE_STATE_TTL = 86400
#: Refuse values larger than this by default (bytes of JSON).
DEFAULT_MAX_BYTES = 1024 * 1024
#: The event type of the marker a subscriber yields after it lost its connection.
GAP_EVENT = "aragora.subscription.gap"


def encode(value: Any, *, max_bytes: int, what: str) -> bytes:
    """Compact JSON of ``value``; :class:`InvalidValue` if it is not JSON or too large."""
    try:
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(f"{what} is not JSON-serialisable: {exc}") from None
    raw = data.encode()
    if len(raw) > max_bytes:
        raise InvalidValue(f"{what} is {len(raw)} bytes of JSON, over the limit of {max_bytes}")
    return raw


def decode(raw: bytes | str | None) -> Any:
    """The value of a stored JSON document, ``None`` for a missing key."""
    return None if raw is None else json.loads(raw)


def session_ttl(kind: str, overrides: dict[str, int]) -> int:
    """The TTL of a session kind: override, else Aragora's default, else one hour."""
    return overrides.get(kind, SESSION_TTLS.get(kind, DEFAULT_SESSION_TTL))


def check_ttl(ttl: float, what: str = "ttl") -> int:
    """A TTL in whole seconds, at least 1."""
    if not (isinstance(ttl, int | float) and math.isfinite(ttl) and ttl >= 1):
        raise InvalidValue(f"{what}: got {ttl!r}, expected a number of seconds of 1 or more")
    return int(ttl)


@dataclass(frozen=True)
class Event:
    """One WebSocket event: Aragora's envelope ``{type, payload, instance_id, timestamp}``.

    ``channel`` is where it was heard; ``stream_id`` is set for durable events.
    """

    type: str
    payload: Any
    instance_id: str
    timestamp: float
    channel: str = ""
    stream_id: str | None = None

    @property
    def is_gap(self) -> bool:
        """True for the marker a subscriber yields after a reconnect (events may be missing)."""
        return self.type == GAP_EVENT

    def envelope(self) -> dict[str, Any]:
        """The JSON object sent on the wire."""
        return {
            "type": self.type,
            "payload": self.payload,
            "instance_id": self.instance_id,
            "timestamp": self.timestamp,
        }


def encode_event(event: Event, *, max_bytes: int) -> bytes:
    """The wire form of ``event``."""
    return encode(event.envelope(), max_bytes=max_bytes, what=f"event {event.type!r}")


def decode_event(raw: bytes | str, channel: str, stream_id: str | None = None) -> Event:
    """Parse a wire envelope; a foreign message becomes an event of type ``unknown``."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Event(
            "unknown",
            raw if isinstance(raw, str) else raw.decode(errors="replace"),
            "",
            0.0,
            channel,
            stream_id,
        )
    return Event(
        type=str(data.get("type", "unknown")),
        payload=data.get("payload"),
        instance_id=str(data.get("instance_id", "")),
        timestamp=float(data.get("timestamp", 0.0)),
        channel=channel,
        stream_id=stream_id,
    )


def gap_event(channel: str, since: float, until: float, reason: str) -> Event:
    """The marker yielded after a subscriber reconnected: events in between may be lost."""
    payload = {"since": since, "until": until, "reason": reason}
    return Event(GAP_EVENT, payload, "", until, channel)
