"""I/O-free: which shards of a Redis Cluster changed primary between two slot maps.

A cluster client refreshes its slot map (``CLUSTER SLOTS``) after connection
errors and redirects; a shard failover shows as a range of slots whose primary is
another node in the new map. :func:`primaries` reads redis-py's slot cache,
:func:`changes` compares two of them: one :class:`Change` per (old, new) primary
pair, with the slots that moved, so a failover is counted once however many
slots its shard holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    """Slots ``first``..``last`` (``count`` of them) moved from primary ``old`` to ``new``."""

    old: str
    new: str
    first: int
    last: int
    count: int

    @staticmethod
    def address(name: str) -> tuple[str, int]:
        """``host:port`` (IPv6 hosts may hold colons) as a pair."""
        host, _, port = name.rpartition(":")
        return host, int(port)


def primaries(slots_cache: Mapping[int, Sequence[Any]]) -> dict[int, str]:
    """Slot -> name (``host:port``) of its primary, from redis-py's ``slots_cache``."""
    return {slot: nodes[0].name for slot, nodes in slots_cache.items() if nodes}


def changes(before: Mapping[int, str], after: Mapping[int, str]) -> list[Change]:
    """The primaries that changed from ``before`` to ``after`` (slots in both maps)."""
    moved: dict[tuple[str, str], list[int]] = {}
    for slot, new in after.items():
        old = before.get(slot)
        if old is not None and old != new:
            moved.setdefault((old, new), []).append(slot)
    return [
        Change(old, new, min(slots), max(slots), len(slots))
        for (old, new), slots in sorted(moved.items())
    ]
