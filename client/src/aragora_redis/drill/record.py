"""I/O-free: what a drill run records, as plain dataclasses that round-trip through JSON.

Times are seconds since the run started (``t``). ``samples`` are fixed buckets
(``bucket_s``, 0.1 s by default) counting acknowledged writes and caller errors of
our client and of the naive baseline; ``markers`` are the faults and the Sentinel
events (+odown, +switch-master, ...) to draw on the time axis; ``faults`` hold the
per-fault figures for ours, with ``--baseline`` the naive client, and when the
URL reaches HAProxy the URL-only client (``url_only``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The figures reported per fault and per client.
METRICS = (
    "write_outage_s",
    "shard_outage_s",
    "acked_writes",
    "acked_writes_lost",
    "events_published",
    "events_lost",
    "events_unreplicated",
    "fallback_decisions",
    "caller_errors",
    "switch_follow_s",
    "readonly_errors",
    "readonly_late",
)


@dataclass
class Sample:
    """One time bucket starting at ``t``."""

    t: float
    ours_acks: int = 0
    ours_errors: int = 0
    naive_acks: int = 0
    naive_errors: int = 0


@dataclass
class Marker:
    """Something that happened at ``t``: ``kind`` is ``fault`` or ``sentinel``."""

    t: float
    kind: str
    label: str


@dataclass
class FaultResult:
    """The figures of one fault, from ``start`` (injection) to ``end`` (verified)."""

    name: str
    start: float
    end: float
    ours: dict[str, float] = field(default_factory=dict)
    naive: dict[str, float] | None = None
    url_only: dict[str, float] | None = None


@dataclass
class DrillRecord:
    """A whole run."""

    target: str
    started_at: float
    duration: float = 0.0
    bucket_s: float = 0.1
    samples: list[Sample] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    faults: list[FaultResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``--json``)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DrillRecord:
        """The inverse of :meth:`to_json`."""
        return cls(
            target=data["target"],
            started_at=data["started_at"],
            duration=data.get("duration", 0.0),
            bucket_s=data.get("bucket_s", 0.1),
            samples=[Sample(**s) for s in data.get("samples", [])],
            markers=[Marker(**m) for m in data.get("markers", [])],
            faults=[FaultResult(**f) for f in data.get("faults", [])],
        )
