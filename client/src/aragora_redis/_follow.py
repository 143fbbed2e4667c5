"""I/O-free: how a Sentinel client follows the master faster than Sentinel's own answers.

Sentinel changes the address it reports only at +switch-master, about a second
after the promotion (its INFO period), and a demoted master learns its new role
later still. Meanwhile a client that trusts Sentinel writes to the old master and
those acknowledged writes are lost. Three things close the gap:

- :class:`FailoverState`, shared by every connection of a client (and by the
  :mod:`aragora_redis.watch` watcher): the newest master address heard from a
  Sentinel event (``hint``) and a ``generation`` bumped on every switch, so that
  pooled connections to the old master are dropped before their next command;
- a *write gate* closed while Sentinel is promoting a replica (+selected-slave)
  and opened at +promoted-slave / +switch-master or after ``gate_timeout``,
  so that nothing is written to a master being replaced;
- :func:`parse_role`: a fresh connection asks the node for its ROLE and follows
  a replica to its master, instead of writing to whatever Sentinel still names;
  and a master Sentinel has just replaced (``deposed``) is refused even while it
  still answers ROLE with "master".
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._parse import text

#: Longest time commands are held while Sentinel promotes a replica.
DEFAULT_GATE_TIMEOUT_S = 5.0
#: Hops a new connection may follow from replica to master.
MAX_HOPS = 3


class Interruptible(Protocol):
    """A connection that can abandon a command blocked on a dead or frozen master."""

    host: Any
    port: Any

    def interrupt(self) -> None:
        """Shut the socket so a blocked read fails now (and the command is retried)."""


@dataclass(frozen=True)
class Role:
    """A node's answer to ROLE: ``master``, or ``slave`` of ``master_addr``."""

    role: str
    master_addr: tuple[str, int] | None = None


def parse_role(reply: Any) -> Role:
    """Read a ROLE reply (RESP2 list)."""
    if not isinstance(reply, list | tuple) or not reply:
        return Role("unknown")
    role = text(reply[0])
    if role == "slave" and len(reply) >= 3:
        return Role(role, (text(reply[1]), int(reply[2])))
    return Role(role)


@dataclass(frozen=True)
class SentinelEvent:
    """One message from a Sentinel's pub/sub, with the time it arrived."""

    at: float
    channel: str
    data: str
    sentinel: str

    @property
    def master_name(self) -> str | None:
        """The master the event is about.

        Formats: ``+switch-master <name> <old ip> <old port> <new ip> <new port>``;
        ``<type> <instance> <ip> <port> @ <name> <master ip> <master port>`` for
        replicas and sentinels; ``master <name> <ip> <port> ...`` for masters.
        """
        words = self.data.split()
        if self.channel == "+switch-master":
            return words[0] if words else None
        if "@" in words:
            at = words.index("@")
            return words[at + 1] if at + 1 < len(words) else None
        return words[1] if len(words) > 1 and words[0] == "master" else None

    def old_master(self) -> tuple[str, int] | None:
        """The address a +switch-master or +promoted-slave event says is no longer master."""
        words = self.data.split()
        if self.channel == "+switch-master" and len(words) >= 3:
            return words[1], int(words[2])
        if self.channel == "+promoted-slave" and "@" in words:
            at = words.index("@")
            if at + 3 < len(words):
                return words[at + 2], int(words[at + 3])
        return None

    def new_master(self) -> tuple[str, int] | None:
        """The address a +switch-master or +promoted-slave event names as the master."""
        words = self.data.split()
        if self.channel == "+switch-master" and len(words) >= 5:
            return words[3], int(words[4])
        if self.channel == "+promoted-slave" and len(words) >= 4:
            return words[2], int(words[3])
        return None


#: Sentinel giving a failover up: not elected, no replica fit to promote, or the chosen
#: replica never became master.
ABORTS = (
    "-failover-abort-not-elected",
    "-failover-abort-no-good-slave",
    "-failover-abort-slave-timeout",
)
#: The Sentinel channels the watcher listens to.
CHANNELS = (
    "+sdown",
    "-sdown",
    "+odown",
    "-odown",
    "+try-failover",
    "+elected-leader",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+promoted-slave",
    "+switch-master",
    "+failover-end",
    "+failover-end-for-timeout",
    "+convert-to-slave",
    *ABORTS,
)
_GATE_CLOSE = ("+selected-slave", "+failover-state-send-slaveof-noone")
#: A promotion that ended, or that Sentinel gave up (the chosen replica never said
#: "master"): nothing to wait for any more.
_GATE_OPEN = (
    "+promoted-slave",
    "+switch-master",
    "+failover-end",
    "+failover-end-for-timeout",
    "-failover-abort-slave-timeout",
)


@dataclass
class FailoverState:
    """What every connection of one client shares about the current master."""

    master_name: str
    gate_timeout: float = DEFAULT_GATE_TIMEOUT_S
    hint: tuple[str, int] | None = None
    deposed: set[tuple[str, int]] = field(default_factory=set)
    generation: int = 0
    gate_closed_at: float | None = None
    events: list[SentinelEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _conns: weakref.WeakSet[Interruptible] = field(default_factory=weakref.WeakSet, repr=False)

    def register(self, conn: Interruptible) -> None:
        """Track ``conn`` so that a switch can interrupt it (weakly: it may be collected)."""
        with self._lock:
            self._conns.add(conn)

    def interrupt(self, addr: tuple[str, int]) -> int:
        """Interrupt every tracked connection to ``addr``; returns how many."""
        with self._lock:
            victims = [c for c in self._conns if (c.host, c.port) == addr]
        for conn in victims:
            conn.interrupt()
        return len(victims)

    def heard(self, event: SentinelEvent) -> tuple[str, int] | None:
        """Apply one Sentinel event about our master; returns a master it deposed, if any.

        The caller interrupts connections to that master (:meth:`interrupt`): a command
        blocked on a frozen master would otherwise wait for its whole socket timeout.
        """
        if event.master_name != self.master_name:
            return None
        with self._lock:
            self.events.append(event)
            if event.channel in _GATE_CLOSE and self.gate_closed_at is None:
                self.gate_closed_at = event.at
            new, old = event.new_master(), event.old_master()
            if new is not None and new != self.hint:
                self.hint = new
                self.generation += 1
            newly = old is not None and old != new and old not in self.deposed
            if old is not None and old != new:
                self.deposed.add(old)
            if new is not None:
                self.deposed.discard(new)
            if event.channel in _GATE_OPEN:
                self.gate_closed_at = None
        return old if newly else None

    def forget_hint(self, addr: tuple[str, int]) -> None:
        """``addr`` turned out not to be the master: discover it again."""
        with self._lock:
            if self.hint == addr:
                self.hint = None

    def is_deposed(self, addr: tuple[str, int]) -> bool:
        """A master Sentinel has replaced, which may still answer as one for a while."""
        return addr in self.deposed

    def demoted(self, addr: tuple[str, int]) -> None:
        """``addr`` now says it is a replica: it no longer needs watching."""
        with self._lock:
            self.deposed.discard(addr)

    def hold_for(self, now: float) -> float:
        """How long commands must still wait for a promotion in progress (0: go ahead)."""
        closed = self.gate_closed_at
        if closed is None:
            return 0.0
        remaining = closed + self.gate_timeout - now
        if remaining <= 0:
            self.gate_closed_at = None
            return 0.0
        return remaining

    def wait_gate(self, step: float = 0.005) -> None:
        """Block (sync callers) while the gate is closed."""
        while (left := self.hold_for(time.monotonic())) > 0:
            time.sleep(min(step, left))
