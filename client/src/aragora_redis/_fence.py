"""I/O-free: which Sentinel event means "fence which address, for how long".

A bare ``SENTINEL FAILOVER`` (or an automatic one) leaves the old master taking
writes until Sentinel demotes it, a second or more after it promoted a replica:
those acknowledged writes are lost. The fencing watcher pauses writes on the old
master (``CLIENT PAUSE <ms> WRITE``) the moment the failover leader picks a
replica, and keeps it paused until the node says it is a replica.

Events, as the real Sentinel emits them (only the failover leader publishes the
``+selected-slave`` ... ``+failover-end`` sequence; every sentinel publishes
``+switch-master`` and what follows)::

    +try-failover, +elected-leader, +failover-state-select-slave,
    +selected-slave <replica> @ <name> <old ip> <old port>          -> fence old
    +failover-state-send-slaveof-noone, +failover-state-wait-promotion,
    +promoted-slave <replica> @ <name> <old ip> <old port>          -> fence old (promoted)
    +failover-state-reconf-slaves, +slave-reconf-*, +failover-end,
    +switch-master <name> <old ip> <old port> <new ip> <new port>   -> fence old (promoted)
    -role-change slave <old> ... new reported role is master         -> re-fence
    +sdown / -sdown slave <old> ... (a frozen old master comes back) -> re-fence on -sdown
    +convert-to-slave / +role-change ... role is slave               -> demoted: stop

Before the promotion is confirmed a fence is a single bounded pause, so a failover
that aborts unpauses by itself; once confirmed, the pause is renewed (:meth:`Fencer.due`)
until the node is demoted or ``hold_s`` has passed. A master is fenced only when a
failover of the watched master names it as the one replaced; the new master is never.

Once the switch is confirmed (``+switch-master``, each renewal, a returning master),
the fence also *cuts*: the old master's normal client connections are killed
(:func:`cut_ids`), so URL clients whose HAProxy session sits on the paused node
reconnect at once instead of waiting for HAProxy's check to drop it. Their pending
writes were paused, never executed nor acknowledged, so nothing is lost. Replication
links, Pub/Sub connections, the Sentinels' own connections (``sentinel-<id>-cmd``)
and the watcher's own connections are never cut.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field

from ._follow import SentinelEvent

Addr = tuple[str, int]

#: Each pause lasts this long; renewals keep a promoted-away master paused.
PAUSE_MS = 2000
#: Renew a confirmed fence this often (well inside ``PAUSE_MS``); each renewal also cuts
#: the clients that HAProxy sent back to the old master before its check dropped it.
RENEW_S = 0.1
#: Give up on a master that is never demoted after this long (the pause then lapses).
HOLD_S = 30.0

#: Sentinels name their connections ``sentinel-<id>-cmd`` / ``sentinel-<id>-pubsub``.
SENTINEL_CLIENT_PREFIX = "sentinel-"
#: The fencing watcher's own connections (a pool: several at once) carry this name.
FENCER_CLIENT_NAME = "aragora-redis-fencer"

#: Channels the fencing watcher listens to.
FENCE_CHANNELS = (
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+promoted-slave",
    "+switch-master",
    "-sdown",
    "-role-change",
    "+role-change",
    "+convert-to-slave",
)
_STARTS = ("+selected-slave", "+failover-state-send-slaveof-noone")
_CONFIRMS = ("+promoted-slave", "+switch-master")
_BACK = ("-sdown", "-role-change")
_DEMOTED = ("+convert-to-slave", "+role-change")


@dataclass(frozen=True)
class Fence:
    """Pause writes on ``addr`` for ``pause_ms``; ``why`` names the event.

    ``cut``: the promotion is confirmed, so also kill the node's normal client
    connections (:func:`cut_ids`) to send their clients to the new master.
    """

    addr: Addr
    pause_ms: int
    why: str
    cut: bool = False


def cut_ids(clients: list[dict[str, str]]) -> list[int]:
    """The ids to kill among ``CLIENT LIST TYPE normal`` entries (as redis-py parses them).

    Skips the watcher's own connections (:data:`FENCER_CLIENT_NAME`: another thread's
    may be in use), the Sentinels' (named ``sentinel-...``) and
    anything not flagged as a plain client (replicas ``S``, a master link ``M``,
    Pub/Sub ``P``), should the server not have filtered by type.
    """
    out = []
    for entry in clients:
        try:
            cid = int(entry.get("id", ""))
        except ValueError:
            continue
        flags, name = entry.get("flags", ""), entry.get("name", "")
        if name == FENCER_CLIENT_NAME or name.startswith(SENTINEL_CLIENT_PREFIX):
            continue
        if any(flag in flags for flag in "SMP"):
            continue
        out.append(cid)
    return out


@dataclass
class _Deposed:
    since: float
    promoted: bool
    last: float


def _after_at(words: list[str]) -> Addr | None:
    """The master address of ``<instance> @ <name> <ip> <port>``."""
    if "@" not in words:
        return None
    at = words.index("@")
    if at + 3 >= len(words):
        return None
    return words[at + 2], int(words[at + 3])


def _instance(words: list[str]) -> Addr | None:
    """The address of ``slave <ip:port> <ip> <port> ...`` or ``master <name> <ip> <port>``."""
    if len(words) < 4 or words[0] not in ("slave", "master"):
        return None
    return words[2], int(words[3])


def _switch(words: list[str]) -> tuple[Addr, Addr] | None:
    """(old, new) of ``+switch-master <name> <old ip> <old port> <new ip> <new port>``."""
    if len(words) < 5:
        return None
    return (words[1], int(words[2])), (words[3], int(words[4]))


@dataclass(eq=False)
class Fencer:
    """The decision state of one watched master: the masters being replaced."""

    master_name: str
    _: KW_ONLY
    pause_ms: int = PAUSE_MS
    renew_s: float = RENEW_S
    hold_s: float = HOLD_S
    deposed: dict[Addr, _Deposed] = field(default_factory=dict, init=False)

    def heard(self, event: SentinelEvent, now: float) -> Fence | None:
        """Apply one event; returns the fence to apply now, if any."""
        if event.master_name != self.master_name:
            return None
        words = event.data.split()
        channel = event.channel
        if channel in _STARTS or channel == "+promoted-slave":
            old = _after_at(words)
            if channel == "+promoted-slave":
                self._undepose(_instance(words))
            return self._depose(old, now, channel in _CONFIRMS, channel)
        if channel == "+switch-master":
            pair = _switch(words)
            if pair is None:
                return None
            self._undepose(pair[1])
            return self._depose(pair[0], now, True, channel, cut=True)
        addr = _instance(words)
        if addr is None or addr not in self.deposed:
            return None
        if channel in _DEMOTED and (channel == "+convert-to-slave" or words[-1] == "slave"):
            self.demoted(addr)
            return None
        promoted = self.deposed[addr].promoted
        if promoted and channel in _BACK and (channel == "-sdown" or words[-1] == "master"):
            self.deposed[addr].last = now
            return Fence(
                addr, self.pause_ms, f"{channel}: still a master after its failover", cut=True
            )
        return None

    def _depose(
        self, addr: Addr | None, now: float, promoted: bool, why: str, *, cut: bool = False
    ) -> Fence | None:
        if addr is None:
            return None
        known = self.deposed.get(addr)
        if known is None:
            self.deposed[addr] = _Deposed(now, promoted, now)
        else:
            known.promoted = known.promoted or promoted
            known.last = now
        return Fence(addr, self.pause_ms, why, cut=cut)

    def _undepose(self, addr: Addr | None) -> None:
        if addr is not None:
            self.deposed.pop(addr, None)

    def demoted(self, addr: Addr) -> None:
        """``addr`` now says it is a replica: it needs no fence any more."""
        self.deposed.pop(addr, None)

    def due(self, now: float) -> list[Fence]:
        """Renewals due at ``now``: promoted-away masters not yet demoted, within ``hold_s``.

        An unconfirmed fence (the failover may abort) is never renewed; entries older
        than ``hold_s`` are forgotten.
        """
        out = []
        for addr, dep in list(self.deposed.items()):
            lapsed = not dep.promoted and now - dep.since >= self.pause_ms / 1000
            if lapsed or now - dep.since >= self.hold_s:
                del self.deposed[addr]
            elif dep.promoted and now - dep.last >= self.renew_s:
                dep.last = now
                out.append(Fence(addr, self.pause_ms, "renewal: not demoted yet", cut=True))
        return out
