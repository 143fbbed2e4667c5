"""The endpoint control plane's failure detector: a thread that checks the primary and
fails it over when it stays silent, as a managed provider's health checks do.

Every :data:`~.detector.PROBE_INTERVAL_S` it sends ``PING`` to the node the endpoint
routes to, from the control plane's own address, with a timeout of one interval. When
the primary has not answered for ``detect_s`` (:data:`~.detector.DETECT_S` by default)
it promotes the most up-to-date replica that answers and moves the endpoint
(:meth:`~.endpoint.EndpointControl.promote`); once the old primary answers again and
still calls itself master, it is demoted with ``REPLICAOF``. The decisions are
:mod:`.detector`'s; this module only probes and acts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import KW_ONLY, dataclass, field

import redis

from ..errors import LocalStackError
from .detector import DETECT_S, PROBE_INTERVAL_S, failover_target, must_demote
from .endpoint import EndpointControl

#: What the control plane records when it demotes an old primary.
DEMOTE_EVENT = "old-primary-demoted"


@dataclass(eq=False)
class Watchdog:
    """Runs the failure detector of ``control`` in a daemon thread, from start to stop."""

    control: EndpointControl
    _: KW_ONLY
    detect_s: float = DETECT_S
    interval_s: float = PROBE_INTERVAL_S
    #: Nodes that were primary and were failed over while silent: demote on return.
    deposed: set[str] = field(default_factory=set, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def _answers(self, name: str) -> bool:
        client = self.control.stack.client(
            name, timeout=self.interval_s, source=self.control.source
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _tick(self, primary: str, last_answer: float) -> tuple[str, float]:
        now = time.monotonic()
        if self._answers(primary):
            last_answer = now
        else:
            with self.control.lock:
                replicas = [n.name for n in self.control.stack.data_nodes if n.name != primary]
                target = failover_target(
                    last_answer, now, self.control.offsets(replicas), detect_s=self.detect_s
                )
                if target is not None:
                    self.control.say(f"{primary} silent for {now - last_answer:.2f} s")
                    self.deposed.add(primary)
                    primary = self.control.promote(primary, target)
                    last_answer = time.monotonic()
        for name in sorted(self.deposed):
            if must_demote(name, self.control.role(name), primary):
                with self.control.lock:
                    self.control.repoint(primary, [name])
                self.control.events.append((time.monotonic(), DEMOTE_EVENT))
                self.control.say(f"{name} answers again: demoted, now a replica of {primary}")
                self.deposed.discard(name)
        return primary, last_answer

    def _loop(self) -> None:
        primary = self.control.primary()
        last_answer = time.monotonic()
        while not self._stop.wait(self.interval_s):
            try:
                routed = self.control.primary()
                if routed != primary:
                    # Another failover (the drill's planned, kill, freeze) moved it.
                    primary, last_answer = routed, time.monotonic()
                primary, last_answer = self._tick(primary, last_answer)
            except (LocalStackError, redis.RedisError) as exc:
                self.control.say(f"failure detector: {exc}")

    def start(self) -> Watchdog:
        """Start checking the primary (a daemon thread)."""
        self._thread = threading.Thread(target=self._loop, name="endpoint-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop checking; returns once a failover under way has finished."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
