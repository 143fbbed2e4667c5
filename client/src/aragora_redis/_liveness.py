"""I/O-free: when a pub/sub subscriber should ping, when it is deaf, and the gap it reports.

A subscribed connection to a frozen or demoted master can stay open and silent, so
a subscriber cannot wait for a socket error. It sends its own PING every
``ping_every`` seconds; no PONG within ``dead_after`` means the connection is dead:
the subscriber reconnects (asking Sentinel for the master again), re-subscribes and
yields a gap event covering the time it may have missed events. A re-subscription
that redis-py did by itself (extra subscribe confirmations) is a gap too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _metrics

#: Defaults tuned for the failover drill's target: hear again within 2 s of a promotion.
DEFAULT_PING_EVERY_S = 0.5
DEFAULT_DEAD_AFTER_S = 1.0


@dataclass
class Liveness:
    """The state of one subscription's connection; the caller passes the clock."""

    ping_every: float = DEFAULT_PING_EVERY_S
    dead_after: float = DEFAULT_DEAD_AFTER_S
    last_alive: float = 0.0
    next_ping: float = 0.0
    ping_sent_at: float | None = None
    confirmations_expected: int = 0
    confirmations_seen: int = 0
    gap_since: float | None = None
    gap_reason: str = ""
    gaps: list[tuple[float, float, str]] = field(default_factory=list)

    def started(self, now: float, subscriptions: int) -> None:
        """A fresh connection subscribed to ``subscriptions`` channels and patterns."""
        if self.gap_since is not None:
            _metrics.reconnected("client")
        self.last_alive = now
        self.next_ping = now + self.ping_every
        self.ping_sent_at = None
        self.confirmations_expected = subscriptions
        self.confirmations_seen = 0

    def heard(self, now: float) -> None:
        """Anything arrived from the server: the connection is alive."""
        self.last_alive = now

    def ping_due(self, now: float) -> bool:
        """Time to send a PING (none is outstanding)."""
        return self.ping_sent_at is None and now >= self.next_ping

    def pinged(self, now: float) -> None:
        """A PING was sent."""
        self.ping_sent_at = now

    def ponged(self, now: float) -> None:
        """Our PONG arrived."""
        self.last_alive = now
        self.ping_sent_at = None
        self.next_ping = now + self.ping_every

    def deaf(self, now: float) -> bool:
        """The outstanding PING went unanswered for longer than ``dead_after``."""
        return self.ping_sent_at is not None and now - self.ping_sent_at > self.dead_after

    def confirmed(self, now: float) -> bool:
        """A subscribe confirmation arrived; True if it starts a silent re-subscription."""
        before = self.last_alive
        self.confirmations_seen += 1
        self.last_alive = now
        extra = self.confirmations_seen - self.confirmations_expected
        if extra <= 0 or (extra - 1) % max(1, self.confirmations_expected):
            return False
        if self.gap_since is None:
            self.gap_since = before
            self.gap_reason = "reconnected and re-subscribed by redis-py"
        _metrics.reconnected("redis-py")
        return True

    def lost(self, now: float, reason: str) -> None:
        """The connection failed: events from the last sign of life on may be missing."""
        if self.gap_since is None:
            self.gap_since = min(self.last_alive, now)
            self.gap_reason = reason

    def recovered(self, now: float) -> tuple[float, float, str] | None:
        """Back on a working connection: the gap to report, if there was one."""
        if self.gap_since is None:
            return None
        gap = (self.gap_since, now, self.gap_reason)
        self.gaps.append(gap)
        _metrics.gap()
        self.gap_since = None
        self.gap_reason = ""
        return gap

    def wait(self, now: float, deadline: float) -> float:
        """How long the next read may block: until the deadline, a ping or a deaf check."""
        wake = self.next_ping if self.ping_sent_at is None else self.ping_sent_at + self.dead_after
        return max(0.0, min(deadline, wake) - now)
