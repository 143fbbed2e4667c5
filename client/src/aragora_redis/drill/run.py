"""Run the drill: workloads on, then each fault in turn (inject, observe, heal, verify).

With ``trigger="none"`` nothing is injected: the drill observes for ``observe_s``
seconds while an operator triggers the provider's own failover.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from redis.exceptions import RedisError

from .. import keys
from .._follow import ABORTS
from ..errors import ConfigError
from ..local import LocalStack, netplan
from ..local.detector import DETECT_S
from ..local.shards import SHARD_PROMOTED
from ..settings import RedisSettings
from ..stores import Stores, connect
from . import faults as f
from .netfaults import NET_FAULTS, PARTITION_S
from .netobserve import bound_for, net_figures
from .observe import ENDPOINT_MOVED, Observations, Verified, buckets, fault_figures
from .record import DrillRecord, FaultResult, Marker
from .workload import NaiveWorkload, OurWorkload, UrlOnlyWorkload, naive_cluster

Say = Callable[[str], None]
#: Sentinel (and endpoint control-plane) events worth a line on the timeline.
MARKED = (
    "+sdown",
    "+odown",
    "+selected-slave",
    "+promoted-slave",
    "+switch-master",
    *ABORTS,
    ENDPOINT_MOVED,
    SHARD_PROMOTED,
)


@dataclass(frozen=True)
class DrillOptions:
    """What to run; durations in seconds."""

    faults: tuple[f.Fault, ...] = f.FAULTS
    trigger: Literal["local", "none"] = "local"
    baseline: bool = False
    warmup_s: float = 2.0
    settle_s: float = 6.0
    observe_s: float = 30.0
    writers: int = 2
    url_only: bool = False
    #: How long the network faults ``partition`` and ``partition-client`` hold.
    partition_s: float = PARTITION_S
    #: Endpoint stacks: how long the primary may be silent before the control plane's
    #: failure detector promotes a replica (during the network faults).
    detect_s: float = DETECT_S


class Drill:
    """One run; :meth:`snapshot` may be called from another thread for live progress."""

    def __init__(
        self,
        settings: RedisSettings,
        options: DrillOptions,
        stack: LocalStack | None = None,
        say: Say | None = None,
    ) -> None:
        self.settings = settings.replace(rate_limit_fail_open=True)
        self.options = options
        self.stack = stack
        self.say: Say = say or (lambda _: None)
        self.run_id = uuid.uuid4().hex[:8]
        self.t0 = time.monotonic()
        self.phase = "starting"
        self.ours: OurWorkload | None = None
        self.naive: NaiveWorkload | UrlOnlyWorkload | None = None
        self.url_only: UrlOnlyWorkload | None = None
        self.stores: Stores | None = None
        #: What an endpoint stack's control plane did: (monotonic time, event).
        self.control_events: list[tuple[float, str]] = []
        #: On a cluster, the slots of the shard the last fault failed over.
        self.shard: range | None = None

    def clock(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.t0

    def _sentinel_events(self) -> list[tuple[float, str]]:
        """Sentinel's events as the watcher saw them, and the endpoint's moves, in run time."""
        watcher = self.stores.watcher if self.stores else None
        seen = [(e.at - self.t0, e.channel) for e in (watcher.events if watcher else [])]
        seen += [(at - self.t0, what) for at, what in self.control_events]
        return sorted(seen)

    def snapshot(self) -> dict[str, object]:
        """Counts so far, for a live table."""
        events = self._sentinel_events()
        row: dict[str, object] = {"phase": self.phase, "t": round(self.clock(), 1)}
        loads: tuple[tuple[str, Any], ...] = (
            ("ours", self.ours),
            ("naive", self.naive),
            ("url_only", self.url_only),
        )
        for name, load in loads:
            if load is not None:
                row[f"{name}_acks"] = len(load.obs.write_acks)
                row[f"{name}_errors"] = len(load.obs.caller_errors)
        row["last_event"] = events[-1][1] if events else ""
        return row

    def run(self) -> DrillRecord:
        """Run every fault (or observe) and return the record."""
        record = DrillRecord(target=self.settings.describe(), started_at=time.time())
        self.stores = connect(self.settings)
        net = any(fault.name in NET_FAULTS for fault in self.options.faults)
        self.ours = OurWorkload(
            self.stores, self.run_id, self.clock, writers=self.options.writers, net=net
        )
        source = self._sources()
        standalone = self.settings.mode == "standalone"
        if self.options.baseline:
            # Behind one endpoint (no Sentinel) naive redis-py is a URL client with retries,
            # with the same socket timeouts as ours, so that only failover handling differs.
            if standalone:
                timeout = self.settings.socket_timeout
                self.naive = UrlOnlyWorkload(
                    self.settings,
                    self.run_id,
                    self.clock,
                    timeout=timeout,
                    source=source.get("naive"),
                )
            elif self.settings.mode == "cluster":
                self.naive = naive_cluster(
                    self.settings, self.run_id, self.clock, source=source.get("naive")
                )
            else:
                self.naive = NaiveWorkload(
                    self.settings, self.run_id, self.clock, source=source.get("naive")
                )
        if self.options.url_only and self.settings.mode == "sentinel":
            self.url_only = UrlOnlyWorkload(
                self.settings, self.run_id, self.clock, source=source.get("url_only")
            )
        try:
            self.ours.start()
            for extra in (self.naive, self.url_only):
                if extra is not None:
                    extra.start()
            self.phase = "warm-up"
            time.sleep(self.options.warmup_s)
            if self.options.trigger == "none":
                record.faults.append(self._observe(record))
            else:
                for fault in self.options.faults:
                    record.faults.append(self._fault(fault, record))
        finally:
            self.phase = "stopping"
            self.ours.stop()
            for extra in (self.naive, self.url_only):
                if extra is not None:
                    extra.stop()
            record.duration = round(self.clock(), 3)
            record.samples = buckets(
                self.ours.obs, self.naive.obs if self.naive else None, record.duration
            )
            record.markers += [
                Marker(round(t, 3), "sentinel", ch)
                for t, ch in self._sentinel_events()
                if ch in MARKED
            ]
            record.markers.sort(key=lambda m: m.t)
            self.stores.close()
        return record

    def _sources(self) -> dict[str, str]:
        """Where the naive clients connect from, on a stack with its own addresses."""
        subnet = self.stack.options.subnet if self.stack is not None else None
        if subnet is None:
            return {}
        return {c: netplan.client_host(subnet, c) for c in ("naive", "url_only")}

    def _observe(self, record: DrillRecord) -> FaultResult:
        self.phase = "observing (trigger the failover now)"
        start = self.clock()
        record.markers.append(Marker(round(start, 3), "fault", "observe: start"))
        time.sleep(self.options.observe_s)
        end = self.clock()
        record.markers.append(Marker(round(end, 3), "fault", "observe: end"))
        return self._figures("observe", start, end)

    def _fault(self, fault: f.Fault, record: DrillRecord) -> FaultResult:
        if self.stack is None:
            raise ConfigError("--trigger", "injecting faults needs the local stack; use none")
        channel = self.ours.channel if self.ours else "aragora"
        injector = f.Injector(
            self.stack,
            self.say,
            shard_key=channel,
            partition_s=self.options.partition_s,
            detect_s=self.options.detect_s,
        )
        start = self.clock()
        self.phase = f"{fault.name}: injecting"
        self.say(f"{fault.name}: {fault.description}")
        record.markers.append(Marker(round(start, 3), "fault", f"{fault.name}: start"))
        try:
            injector.inject(fault)
        finally:
            self.control_events += injector.events
            self.shard = injector.shards.slots if injector.shards else None
        healed = injector.net.healed_at
        heal = None if healed is None else round(healed - self.t0, 3)
        if heal is not None:
            record.markers.append(Marker(heal, "fault", f"{fault.name}: healed"))
        self.phase = f"{fault.name}: observing"
        time.sleep(self.options.settle_s)
        end = self.clock()
        record.markers.append(Marker(round(end, 3), "fault", f"{fault.name}: end"))
        self.phase = f"{fault.name}: healing"
        injector.heal()
        time.sleep(1.0)  # let the subscribers drain what is in flight
        return self._figures(fault.name, start, end, heal)

    def _figures(
        self, name: str, start: float, end: float, heal: float | None = None
    ) -> FaultResult:
        self.phase = f"{name}: verifying"
        events = self._sentinel_events()
        ours_obs = self.ours.obs if self.ours else Observations()
        result = FaultResult(name, round(start, 3), round(end, 3))
        ours_verified = self._verify(ours_obs, start, end, True)
        result.ours = fault_figures(
            ours_obs,
            ours_verified,
            start,
            end,
            events,
            with_events=True,
            shard=self.shard,
        )
        bound = bound_for(self.settings.mode)
        if heal is not None:
            missing = ours_verified.missing_keys
            result.ours |= net_figures(
                ours_obs, missing, start, end, heal, ours=True, bound_s=bound
            )
        others = (("naive", self.naive), ("url_only", self.url_only))
        for attr, load in others:
            if load is None:
                continue
            verified = self._verify(load.obs, start, end, False)
            figures = fault_figures(
                load.obs, verified, start, end, events, with_events=False, shard=self.shard
            )
            if heal is not None:
                missing = verified.missing_keys
                figures |= net_figures(
                    load.obs, missing, start, end, heal, ours=False, bound_s=bound
                )
            setattr(result, attr, figures)
        return result

    def _verify(self, obs: Observations, start: float, end: float, events: bool) -> Verified:
        with obs.lock:
            acked = [k for t, k in obs.write_acks + obs.plain_acks if start <= t <= end]
        if self.stores is None:
            return Verified()
        client = self.stores.client
        missing = frozenset(_missing(client, acked))
        seqs: frozenset[int] = frozenset()
        if events and self.ours is not None:
            entries: Any = client.xrange(keys.stream(self.ours.channel), "-", "+")
            seqs = frozenset(_seqs(entry for _, entry in entries or []))
        return Verified(missing, seqs)


def _missing(client: object, acked: list[str], batch: int = 1000) -> list[str]:
    missing: list[str] = []
    for i in range(0, len(acked), batch):
        part = acked[i : i + batch]
        for attempt in range(5):
            try:
                pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
                for key in part:
                    pipe.exists(key)
                found = pipe.execute()
                break
            except RedisError:
                if attempt == 4:
                    raise
                time.sleep(0.5)
        missing += [k for k, n in zip(part, found, strict=True) if not n]
    return missing


def _seqs(entries: Iterable[Any]) -> list[int]:
    from .._codec import decode_event

    out = []
    for fields in entries:
        event = decode_event(fields.get(b"e", b"{}"), "")
        if isinstance(event.payload, int):
            out.append(event.payload)
    return out
