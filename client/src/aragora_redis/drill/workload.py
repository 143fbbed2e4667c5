"""The drill's workloads: our four stores, naive redis-py (Sentinel, cluster), a URL-only client.

Ours, per writer thread and iteration: a durable session write with a unique id
(the counted write), a durable event; every tenth iteration a debate-state update.
A limiter thread makes a rate-limit check every 5 ms, and two subscriber threads
count what they hear, live and from the stream. The naive baseline only writes
unique keys with redis-py's defaults (on a cluster, ``redis.RedisCluster`` with the
URL-only client's retry loop: :func:`naive_cluster`). The URL-only client is what most of Aragora
runs: ``redis.Redis.from_url(ARAGORA_REDIS_URL)`` (through HAProxy when the stack
has it), with the small retry loop such a caller needs, since it does not retry
on its own.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import redis
from redis.exceptions import RedisError
from redis.sentinel import Sentinel, SentinelManagedConnection

from .. import _options as o
from .. import keys
from ..errors import AragoraRedisError
from ..settings import RedisSettings
from ..stores import Stores
from .bound import bound_class
from .observe import Observations, is_readonly

Clock = Callable[[], float]
SESSION_KIND = "drill"
#: The session kind of the default (not durable) writes of network faults.
PLAIN_KIND = "drill-plain"
#: Pause between two rate-limit checks of the limiter thread.
LIMIT_EVERY_S = 0.005
#: The small-rate check of network faults: its fallback may admit at most
#: rate x duration + burst per process.
BOUNDED_RATE = 20.0
BOUNDED_BURST = 5.0


@dataclass(eq=False)
class OurWorkload:
    """Threads driving :class:`~aragora_redis.Stores`; results in ``obs``."""

    stores: Stores
    run: str
    clock: Clock
    _: KW_ONLY
    writers: int = 2
    durable: bool = True
    #: Network faults: also a writer of default writes, a small-rate limiter
    #: check, and the duration of every call.
    net: bool = False
    channel: str = field(init=False)
    obs: Observations = field(default_factory=Observations, init=False)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1), init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.channel = keys.debate_channel(f"drill-{self.run}")

    def start(self) -> None:
        """Subscribe, then start the writers."""
        live = self.stores.events.subscribe(self.channel)
        durable = self.stores.events.subscribe(self.channel, durable=True)
        targets: list[Callable[[], None]] = [
            lambda: self._listen(live, self.obs.live_heard),
            lambda: self._listen(durable, self.obs.durable_heard),
        ]
        targets += [lambda n=n: self._write(n) for n in range(self.writers)]  # type: ignore[misc]
        targets.append(self._limit)
        if self.net:
            targets += [self._write_plain, self._limit_bounded]
        for target in targets:
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _listen(self, sub: Any, into: list[tuple[float, int]]) -> None:
        try:
            while not self._stop.is_set():
                event = sub.get(timeout=0.2)
                if event is not None and not event.is_gap and isinstance(event.payload, int):
                    with self.obs.lock:
                        into.append((self.clock(), event.payload))
        finally:
            sub.close()

    def _limit(self) -> None:
        # Its own thread, so that decisions keep coming while writes wait on a dead Redis.
        obs, clock = self.obs, self.clock
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                decision = self.stores.rate_limiter.hit(f"drill:{self.run}", rate=1e6, burst=1e6)
                ms = (time.perf_counter() - started) * 1000
                self._timed(started)
                with obs.lock:
                    obs.decisions.append((clock(), decision.source, ms))
            except AragoraRedisError:
                with obs.lock:
                    obs.limiter_errors.append(clock())
                obs.error(clock(), "rate_limiter")
            time.sleep(LIMIT_EVERY_S)

    def _timed(self, started: float) -> None:
        if self.net:
            with self.obs.lock:
                self.obs.calls.append((self.clock(), time.perf_counter() - started))

    def _write_plain(self) -> None:
        # Default writes: acknowledged by the master alone, so a partition can lose them.
        obs, clock = self.obs, self.clock
        for i in itertools.count(1):
            if self._stop.is_set():
                return
            key = keys.session(PLAIN_KIND, f"{self.run}-{i}")
            started = time.perf_counter()
            try:
                self.stores.sessions.put(PLAIN_KIND, f"{self.run}-{i}", {"i": i})
                with obs.lock:
                    obs.plain_acks.append((clock(), key))
            except AragoraRedisError as exc:
                obs.error(clock(), "sessions", readonly=is_readonly(exc))
            self._timed(started)
            time.sleep(0.002)

    def _limit_bounded(self) -> None:
        obs, clock = self.obs, self.clock
        while not self._stop.is_set():
            started, began = time.perf_counter(), clock()
            try:
                decision = self.stores.rate_limiter.hit(
                    f"drill:{self.run}:bounded", rate=BOUNDED_RATE, burst=BOUNDED_BURST
                )
                with obs.lock:
                    obs.bounded.append((began, clock(), decision.source, decision.allowed))
            except AragoraRedisError:
                with obs.lock:
                    obs.limiter_errors.append(clock())
            self._timed(started)
            time.sleep(LIMIT_EVERY_S)

    def _write(self, writer: int) -> None:
        s, obs, clock = self.stores, self.obs, self.clock
        for i in itertools.count(1):
            if self._stop.is_set():
                return
            ident = f"{self.run}-{writer}-{i}"
            started = time.perf_counter()
            try:
                s.sessions.put(SESSION_KIND, ident, {"i": i}, durable=self.durable)
                obs.ack(clock(), keys.session(SESSION_KIND, ident))
            except AragoraRedisError as exc:
                obs.error(clock(), "sessions", write=True, readonly=is_readonly(exc))
            self._timed(started)
            seq = next(self._seq)
            started = time.perf_counter()
            try:
                s.events.publish(self.channel, "drill", seq, durable=True)
                with obs.lock:
                    obs.events_acked.append((clock(), seq))
            except AragoraRedisError as exc:
                obs.error(clock(), "events", readonly=is_readonly(exc))
            self._timed(started)
            if i % 10 == 0:
                started = time.perf_counter()
                try:
                    s.state.update(
                        f"drill-{self.run}-{writer}", lambda st: {"n": (st or {}).get("n", 0) + 1}
                    )
                except AragoraRedisError as exc:
                    obs.error(clock(), "state", readonly=is_readonly(exc))
                self._timed(started)

    def stop(self) -> None:
        """Stop every thread."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


class _Writer:
    """What the naive and URL-only workloads share: one thread running ``_write``."""

    def __init__(self, client: redis.Redis | redis.RedisCluster, run: str, clock: Clock) -> None:
        self.client = client
        self.run = run
        self.clock = clock
        self.obs = Observations()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def start(self) -> None:
        """Start writing."""
        self._thread.start()

    def _write(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop writing (a call hung on a frozen master is abandoned)."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.close()


class NaiveWorkload(_Writer):
    """A plain redis-py Sentinel client with its defaults, writing unique keys.

    ``source``: the loopback address its connections leave from (network faults)."""

    def __init__(
        self, settings: RedisSettings, run: str, clock: Clock, *, source: str | None = None
    ) -> None:
        secret = settings.password.get_secret_value() if settings.password else None
        once = redis.retry.Retry(o.no_backoff(), 0)
        sentinel = Sentinel(
            o.sentinel_addresses(settings),
            sentinel_kwargs=o.sentinel_kwargs(settings, once),
            username=settings.username,
            password=secret,
            **({"ssl": True, **o.tls_kwargs(settings)} if settings.ssl else {}),
        )
        node: dict[str, Any] = {}
        if source is not None:
            # redis.Redis takes no connection class: set it on each sentinel's (lazy) pool.
            for each in sentinel.sentinels:
                each.connection_pool.connection_class = bound_class(redis.Connection, source)
            node["connection_class"] = bound_class(SentinelManagedConnection, source)
        super().__init__(sentinel.master_for(settings.sentinel_master, **node), run, clock)

    def _write(self) -> None:
        for i in itertools.count(1):
            if self._stop.is_set():
                return
            key = f"aragora:drill:naive:{self.run}:{i}"
            try:
                self.client.set(key, i)
                self.obs.ack(self.clock(), key)
            except RedisError as exc:
                self.obs.error(self.clock(), "naive", write=True, readonly=is_readonly(exc))
                time.sleep(0.01)  # redis-py gives up at once on some errors; do not spin


#: URL-only client: pause between two attempts of the same write, and its socket timeouts.
URL_RETRY_S = 0.05
URL_TIMEOUT_S = 1.0


class UrlOnlyWorkload(_Writer):
    """``redis.Redis.from_url(settings.url)`` writing unique keys, each retried until acked.

    No Sentinel: after a failover only the address in the URL (HAProxy) can lead
    it to the new master. A failed write is counted as a caller error and tried
    again with the same key after ``URL_RETRY_S``. ``timeout``: its socket timeouts;
    ``source``: the loopback address its connections leave from (network faults).
    """

    def __init__(
        self,
        settings: RedisSettings,
        run: str,
        clock: Clock,
        *,
        timeout: float = URL_TIMEOUT_S,
        client: redis.Redis | redis.RedisCluster | None = None,
        source: str | None = None,
    ) -> None:
        tls: dict[str, Any] = {"ssl_ca_certs": settings.ssl_ca_certs} if settings.ssl else {}
        if source is not None:
            tls["connection_class"] = bound_class(redis.Connection, source)
        client = client or redis.Redis.from_url(
            settings.url, socket_timeout=timeout, socket_connect_timeout=timeout, **tls
        )
        super().__init__(client, run, clock)

    def _write(self) -> None:
        for i in itertools.count(1):
            key = f"aragora:drill:url:{self.run}:{i}"
            while not self._stop.is_set():
                try:
                    self.client.set(key, i)
                except RedisError as exc:
                    self.obs.error(self.clock(), "url_only", write=True, readonly=is_readonly(exc))
                    time.sleep(URL_RETRY_S)
                    continue
                self.obs.ack(self.clock(), key)
                break
            if self._stop.is_set():
                return


def naive_cluster(
    settings: RedisSettings, run: str, clock: Clock, *, source: str | None = None
) -> UrlOnlyWorkload:
    """Naive redis-py on a cluster: ``redis.RedisCluster`` from the seed nodes with its
    defaults and our socket timeouts, each failed write retried as the URL-only loop does.
    ``source``: the loopback address its connections leave from (network faults)."""
    secret = settings.password.get_secret_value() if settings.password else None
    client = redis.RedisCluster(
        startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in o.cluster_addresses(settings)],
        username=settings.username,
        password=secret,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_connect_timeout,
        **({"ssl": True, **o.tls_kwargs(settings)} if settings.ssl else {}),
    )
    if source is not None:
        _bind_cluster(client, bound_class(redis.Connection, source))
    return UrlOnlyWorkload(settings, run, clock, client=client)


def _bind_cluster(client: redis.RedisCluster, connection_class: type[redis.Connection]) -> None:
    # redis.Redis takes no connection class, and RedisCluster makes one per node: set it on
    # the nodes it knows (dropping their first connections) and on every node it adds.
    manager: Any = client.nodes_manager
    create = manager.create_redis_node

    def bound_node(host: str, port: int, **kwargs: Any) -> redis.Redis:
        node: redis.Redis = create(host, port, **kwargs)
        node.connection_pool.connection_class = connection_class
        return node

    manager.create_redis_node = bound_node
    for node in client.get_nodes():
        if node.redis_connection is not None:
            pool = node.redis_connection.connection_pool
            pool.connection_class = connection_class
            # A connection made while the client started (redis-py's COMMAND on the default
            # node) keeps its class: closed, it reconnected from the host address, on our
            # client's side of every partition. Drop it from the pool, not just its socket.
            pool.disconnect()
            pool.reset()
