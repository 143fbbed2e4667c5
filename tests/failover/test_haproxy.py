"""A URL-only client (``redis.Redis.from_url``, no Sentinel) through HAProxy across a failover.

Most of Aragora reads only ``ARAGORA_REDIS_URL``. The local stack points it at
HAProxy, whose health check routes to whichever node says ``role:master`` with
a replica attached. The writer is the drill's URL-only workload: one key per
write, a failed write retried after 50 ms, as a caller without Sentinel must.

What Sentinel itself cannot prevent is measured, not hidden: between the
promotion of a replica and the moment the old master loses its last replica,
the old master still acknowledges writes that the new master never receives.
Those are reported (``lost_before_demotion``); every write acknowledged once
the old master is a replica must be on the new master.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
import redis

from aragora_redis.drill.observe import longest_gap
from aragora_redis.drill.workload import UrlOnlyWorkload
from aragora_redis.local import LocalStack, current_master, wait_ready
from tests.endpoint_support import wait_for
from tests.support import failover_and_wait, sentinel_master_address

ENOUGH_ACKS = 50


def _role(stack: LocalStack, port: int) -> str:
    name = next(n.name for n in stack.data_nodes if n.port == port)
    client = stack.client(name)
    try:
        return str(client.info("replication")["role"])
    except redis.RedisError:
        return "unreachable"
    finally:
        client.close()


def _acks_after(load: UrlOnlyWorkload, t: float) -> int:
    with load.obs.lock:
        return sum(1 for at, _ in load.obs.write_acks if at > t)


@pytest.mark.parametrize("fixture", ["sentinel_haproxy", "sentinel_haproxy_tls"])
def test_url_only_client_writes_through_haproxy_across_sentinel_failover(
    fixture: str,
    engine: str,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    stack: LocalStack = request.getfixturevalue(fixture)  # on ``engine``
    s = stack.settings
    assert (s.host, s.port) == stack.address("haproxy"), "the URL names HAProxy"
    load = UrlOnlyWorkload(s, uuid.uuid4().hex[:8], time.monotonic)
    load.start()
    try:
        started = time.monotonic()
        wait_for(lambda: _acks_after(load, started) >= ENOUGH_ACKS, "writes before the failover")
        old = sentinel_master_address(s)
        failover_at = time.monotonic()
        new = failover_and_wait(s, heal=False)
        # Sentinel turns the old master into a replica by itself (within ~10 s).
        demoted_at = wait_for(lambda: _role(stack, old[1]) == "slave", "the old master's demotion")
        wait_for(lambda: _acks_after(load, demoted_at) >= ENOUGH_ACKS, "writes after the failover")
    finally:
        load.stop()

    with load.obs.lock:
        acks = list(load.obs.write_acks)
        errors = list(load.obs.write_errors)
    node = next(n.name for n in stack.data_nodes if n.port == new[1])
    master = stack.client(node, timeout=5.0)
    try:
        pipe = master.pipeline(transaction=False)
        for _, key in acks:
            pipe.exists(key)
        missing = {key for (_, key), found in zip(acks, pipe.execute(), strict=True) if not found}
    finally:
        master.close()
    tls = {"ssl_ca_certs": s.ssl_ca_certs} if s.ssl else {}
    url_client = redis.Redis.from_url(s.url, socket_timeout=5, **tls)
    try:
        reached = url_client.info("server")["tcp_port"]
    finally:
        url_client.close()

    after = [key for at, key in acks if at > demoted_at]
    lost = [key for at, key in acks if key in missing]
    outage = longest_gap([at for at, _ in acks], failover_at, demoted_at)
    lost_at = [at - failover_at for at, key in acks if key in missing] or [0.0]
    for name, value in (
        ("acked_writes", len(acks)),
        ("lost_before_demotion", len(lost)),
        ("write_outage_s", round(outage, 3)),
        ("failed_attempts", len(errors)),
    ):
        record_property(name, value)
    print(
        f"URL-only through HAProxy ({fixture}): {len(acks)} acked writes, {len(lost)} lost, "
        f"longest write gap {outage:.3f} s, {len(errors)} failed attempts; lost writes were "
        f"acked {min(lost_at):.3f} to {max(lost_at):.3f} s after SENTINEL FAILOVER"
    )
    assert reached == new[1], "new connections through HAProxy reach the new master"
    assert after, "the URL-only client kept writing after the failover"
    assert not missing & set(after), "a write acknowledged after the demotion is missing"
    assert all(at <= demoted_at for at, key in acks if key in missing)
    wait_ready(stack, timeout=60.0)


def test_every_new_connection_lands_on_the_current_master(sentinel_haproxy: LocalStack) -> None:
    stack = sentinel_haproxy
    wait_ready(stack, timeout=60.0)
    master = current_master(stack).port
    client = redis.Redis.from_url(stack.settings.url, socket_timeout=5)
    try:
        for _ in range(20):
            assert client.info("server")["tcp_port"] == master
            client.connection_pool.disconnect()  # the next command opens a new connection
    finally:
        client.close()
