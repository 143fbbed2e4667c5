"""I/O-free: every Redis key and channel name the stores use, in Aragora's layout.

Hash tags (``{...}``) wrap the part that identifies one object, so a script that
touches one object's keys stays in one Redis Cluster slot.
"""

from __future__ import annotations

from .errors import ConfigError

PREFIX = "aragora"
ACTIVE_DEBATES = f"{PREFIX}:debates:active"
BROADCAST_SCOPES = ("debates", "loops", "global")


def _part(name: str, value: str) -> str:
    if not value or any(c in value for c in "{}\r\n"):
        raise ConfigError(name, f"got {value!r}, expected a non-empty name without braces")
    return value


def ratelimit(scope: str, ident: str) -> str:
    """``aragora:ratelimit:<scope>:{<id>}``: the token-bucket hash of one caller."""
    return f"{PREFIX}:ratelimit:{_part('scope', scope)}:{{{_part('key', ident)}}}"


def session(kind: str, ident: str) -> str:
    """``aragora:session:<kind>:<id>``: one session, JSON."""
    return f"{PREFIX}:session:{_part('kind', kind)}:{_part('session id', ident)}"


def debate(debate_id: str) -> str:
    """``aragora:debate:<id>``: one debate's state, JSON."""
    return f"{PREFIX}:debate:{_part('debate id', debate_id)}"


def debate_channel(debate_id: str) -> str:
    """``aragora:events:debate:<id>``: the events of one debate."""
    return f"{PREFIX}:events:debate:{_part('debate id', debate_id)}"


def broadcast_channel(scope: str) -> str:
    """``aragora:broadcast:<debates|loops|global>``."""
    if scope not in BROADCAST_SCOPES:
        raise ConfigError("scope", f"got {scope!r}, expected one of {', '.join(BROADCAST_SCOPES)}")
    return f"{PREFIX}:broadcast:{scope}"


def stream(channel: str) -> str:
    """The Redis Stream that backs ``channel`` in durable mode."""
    return f"{PREFIX}:stream:{{{_part('channel', channel)}}}"
