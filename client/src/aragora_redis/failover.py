"""A planned Sentinel failover that loses no acknowledged write: ``aragora-redis failover``.

A bare ``SENTINEL FAILOVER`` leaves the old master writable until Sentinel's next
INFO round reconfigures it (about 10 s): clients still connected there get their
writes acknowledged and then lost. This procedure:

1. pauses writes on the master (``CLIENT PAUSE <ms> WRITE``), so nothing more can
   be acknowledged there;
2. waits until every replica has the master's replication offset;
3. asks a sentinel for ``SENTINEL FAILOVER`` and watches the replicas' ROLE until one
   is master;
4. points the other replicas and the old master at it at once (what Sentinel does
   a second or more later), so the new master has a replica for
   ``min-replicas-to-write`` and for WAIT right away;
5. lifts the pause: writes held on the old master now get READONLY and their
   clients move to the new master.

If anything fails before step 3 the pause is lifted and nothing else changed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis.exceptions import RedisError
from redis.retry import Retry

from . import _options as o
from ._follow import parse_role
from ._parse import text
from .errors import RedisUnavailable
from .settings import RedisSettings

Say = Callable[[str], None]
Addr = tuple[str, int]


@dataclass
class FailoverReport:
    """What the planned failover did, with timings in seconds from its start."""

    old_master: Addr
    new_master: Addr | None = None
    paused_s: float = 0.0
    caught_up_s: float = 0.0
    promoted_s: float = 0.0
    repointed: list[Addr] = field(default_factory=list)


class PlannedFailover:
    """The procedure against one Sentinel deployment (admin access to every node)."""

    def __init__(
        self, settings: RedisSettings, say: Say | None = None, pause_ms: int = 5000
    ) -> None:
        if settings.mode != "sentinel":
            raise RedisUnavailable("a planned failover needs ARAGORA_REDIS_MODE=sentinel")
        self.s = settings
        self.say: Say = say or (lambda _: None)
        self.pause_ms = pause_ms
        once = Retry(o.no_backoff(), 0)
        self.sentinels = [
            redis.Redis(host=h, port=p, **o.sentinel_kwargs(settings, once))
            for h, p in o.sentinel_addresses(settings)
        ]

    def node(self, addr: Addr) -> redis.Redis:
        """An admin connection to one data node."""
        kwargs = o.node_kwargs(self.s)
        kwargs.update(socket_timeout=2.0, health_check_interval=0)
        return redis.Redis(host=addr[0], port=addr[1], ssl=self.s.ssl, **kwargs)

    def _ask_sentinels(self) -> tuple[redis.Redis, Addr, list[Addr]]:
        for sentinel in self.sentinels:
            try:
                state = sentinel.sentinel_master(self.s.sentinel_master)
                replicas = sentinel.sentinel_slaves(self.s.sentinel_master)
            except RedisError:
                continue
            master = (text(state["ip"]), int(state["port"]))  # type: ignore[index]
            found = [
                (text(r["ip"]), int(r["port"]))
                for r in replicas
                if not r.get("is_sdown") and not r.get("is_odown")
            ]
            return sentinel, master, found
        raise RedisUnavailable("no sentinel answered SENTINEL MASTER")

    def run(self, timeout: float = 15.0) -> FailoverReport:
        """Fail over now; returns when the new master has its replicas back."""
        start = time.monotonic()
        sentinel, old, replicas = self._ask_sentinels()
        if not replicas:
            raise RedisUnavailable("no healthy replica to fail over to")
        report = FailoverReport(old)
        master = self.node(old)
        try:
            master.execute_command("CLIENT", "PAUSE", self.pause_ms, "WRITE")
            report.paused_s = time.monotonic() - start
            self.say(f"writes paused on {old[0]}:{old[1]}")
            try:
                self._wait_caught_up(master, len(replicas), deadline=start + timeout)
                report.caught_up_s = time.monotonic() - start
                sentinel.sentinel_failover(self.s.sentinel_master)
            except BaseException:
                master.execute_command("CLIENT", "UNPAUSE")
                raise
            new = self._wait_promoted(replicas, deadline=start + timeout)
            report.new_master, report.promoted_s = new, time.monotonic() - start
            self.say(f"{new[0]}:{new[1]} is master")
            for addr in [r for r in replicas if r != new] + [old]:
                if self._repoint(addr, new):
                    report.repointed.append(addr)
        finally:
            with contextlib.suppress(RedisError):
                master.execute_command("CLIENT", "UNPAUSE")
            master.close()
        self.say("pause lifted; the old master is a replica")
        return report

    def _wait_caught_up(self, master: redis.Redis, replicas: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            info = master.info("replication")
            offset = int(info["master_repl_offset"])
            lags = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            if len(lags) >= replicas and all(int(r["offset"]) >= offset for r in lags):
                return
            time.sleep(0.005)
        raise RedisUnavailable("the replicas did not catch up with the paused master in time")

    def _wait_promoted(self, replicas: list[Addr], deadline: float) -> Addr:
        nodes = {addr: self.node(addr) for addr in replicas}
        try:
            while time.monotonic() < deadline:
                for addr, node in nodes.items():
                    try:
                        if parse_role(node.role()).role == "master":
                            return addr
                    except RedisError:
                        continue
                time.sleep(0.005)
        finally:
            for node in nodes.values():
                node.close()
        raise RedisUnavailable("Sentinel promoted no replica in time")

    def _repoint(self, addr: Addr, new: Addr) -> bool:
        node = self.node(addr)
        try:
            role = parse_role(node.role())
            if role.role == "slave" and role.master_addr == new:
                return False
            node.replicaof(new[0], new[1])
        except RedisError as exc:
            self.say(f"could not point {addr[0]}:{addr[1]} at the new master: {exc}")
            return False
        finally:
            node.close()
        return True

    def close(self) -> None:
        """Close the sentinel connections."""
        for sentinel in self.sentinels:
            sentinel.close()


def planned_failover(settings: RedisSettings, say: Say | None = None) -> FailoverReport:
    """Run :class:`PlannedFailover` once."""
    procedure = PlannedFailover(settings, say)
    try:
        return procedure.run()
    finally:
        procedure.close()
