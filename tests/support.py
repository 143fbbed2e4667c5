"""Helpers shared by the tests: Sentinel queries, a forced failover, a stranger CA."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.commands import READ_COMMANDS
from redis.retry import Retry

from aragora_redis import RedisSettings
from aragora_redis._options import sentinel_addresses, sentinel_kwargs
from aragora_redis._parse import text
from aragora_redis.local import LocalStack
from aragora_redis.local.probe import wait_until


def sentinel_clients(s: RedisSettings) -> list[redis.Redis]:
    """One plain client per sentinel of ``s``."""
    once = Retry(NoBackoff(), 0)
    return [
        redis.Redis(host=h, port=p, **sentinel_kwargs(s, once)) for h, p in sentinel_addresses(s)
    ]


def _master_of(sentinel: redis.Redis, name: str) -> tuple[str, int]:
    state: dict[str, Any] = sentinel.sentinel_master(name)  # type: ignore[assignment]
    return text(state["ip"]), int(state["port"])


def sentinel_master_address(s: RedisSettings) -> tuple[str, int]:
    """The master address, as the first sentinel that answers sees it (SENTINEL MASTER)."""
    for client in sentinel_clients(s):
        try:
            return _master_of(client, s.sentinel_master)
        except redis.ConnectionError:
            continue
        finally:
            client.close()
    raise RuntimeError("no sentinel answered")


def _node(s: RedisSettings, host: str, port: int) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        username=s.username,
        password=s.password.get_secret_value() if s.password else None,
        ssl=s.ssl,
        ssl_ca_certs=s.ssl_ca_certs,
        socket_timeout=2,
    )


def _agreed_master(s: RedisSettings, clients: list[redis.Redis]) -> tuple[str, int] | None:
    # SENTINEL MASTER changes at +switch-master, which is what redis-py's discovery
    # reads; GET-MASTER-ADDR-BY-NAME already names a replica being promoted.
    seen = {_master_of(c, s.sentinel_master) for c in clients}
    return seen.pop() if len(seen) == 1 else None


RETRY_FAILOVER_S = 4.0


def _in_progress(s: RedisSettings, clients: list[redis.Redis]) -> bool:
    for c in clients:
        state: dict[str, Any] = c.sentinel_master(s.sentinel_master)  # type: ignore[assignment]
        if "failover_in_progress" in str(state.get("flags", "")):
            return True
    return False


def failover_and_wait(
    s: RedisSettings, timeout: float = 60.0, *, heal: bool = True
) -> tuple[str, int]:
    """Run SENTINEL FAILOVER and wait until every sentinel names the new master.

    With ``heal`` the old master is then pointed at the new one at once (what Sentinel
    does by itself only at its next 10 s INFO round) and the call returns when every
    replica replicates from the new master, so the next test starts from a whole stack.
    """
    old = sentinel_master_address(s)
    clients = sentinel_clients(s)
    deadline = time.monotonic() + timeout
    try:
        replicas = len(clients[0].sentinel_slaves(s.sentinel_master))
        new = None
        asked = 0.0
        while time.monotonic() < deadline:
            new = _agreed_master(s, clients)
            if new is not None and new != old:
                break
            if time.monotonic() - asked > RETRY_FAILOVER_S and not _in_progress(s, clients):
                # Sentinel may abort a failover (e.g. -failover-abort-no-good-slave while a
                # replica it just re-pointed still looks stale to it): ask again.
                with contextlib.suppress(redis.ResponseError):
                    clients[0].sentinel_failover(s.sentinel_master)
                asked = time.monotonic()
            time.sleep(0.05)
        else:
            raise TimeoutError(f"no failover away from {old} within {timeout} s")
        if heal:
            demoted = _node(s, *old)
            try:
                demoted.replicaof(*new)
            finally:
                demoted.close()
        master = _node(s, *new)
        try:
            while time.monotonic() < deadline:
                info = master.info("replication")
                attached = sum(
                    1 for k, v in info.items() if k.startswith("slave") and v["state"] == "online"
                )
                if info["role"] == "master" and (not heal or attached >= replicas):
                    return new
                time.sleep(0.05)
        finally:
            master.close()
    finally:
        for c in clients:
            c.close()
    raise TimeoutError(f"{new} did not become a master with {replicas} replicas in {timeout} s")


def make_other_ca(folder: Path) -> Path:
    """A self-signed CA that signed nothing the servers use."""
    key, cert = folder / "other-ca.key", folder / "other-ca.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=stranger-ca", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert


def replica_reads(stack: LocalStack) -> int:
    """Read commands (redis-py's ``READ_COMMANDS``) the stack's replicas have served.

    A replica's own commandstats count the writes it replicates too, but those are
    never read commands.
    """
    total = 0
    for node in stack.data_nodes:
        client = stack.client(node.name, timeout=5.0)
        try:
            if client.info("replication")["role"] == "master":
                continue
            stats: dict[str, Any] = client.info("commandstats")
        finally:
            client.close()
        for name, value in stats.items():
            if name.removeprefix("cmdstat_").upper() in READ_COMMANDS:
                total += int(value["calls"])
    return total


def wait_for_replicas_in_slots(stack: LocalStack, timeout: float = 60.0) -> None:
    """Wait until CLUSTER SLOTS names a replica beside every primary.

    Redis 7 lists a replica there only once gossip has told its primary the
    replica's offset, about 9 s after the cluster forms; a redis-py client made
    before that never sees the replicas, so a test of where reads go waits first.
    """

    def listed() -> bool | str:
        admin = stack.client("redis-0", timeout=5.0)
        try:
            ranges = admin.execute_command("CLUSTER", "SLOTS")
        finally:
            admin.close()
        alone = [f"{r[0]}-{r[1]}" for r in ranges if len(r) < 4]
        return not alone or f"slots {', '.join(alone)} have no replica listed"

    wait_until(listed, "CLUSTER SLOTS to list the replicas", timeout=timeout)


def wait_answering(
    check: Callable[[], object], server: subprocess.Popen[bytes], *, timeout: float, who: str
) -> None:
    """Call ``check`` until it no longer raises :class:`redis.ConnectionError`; fail with
    ``server``'s output, naming ``who``, once it has exited or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                out = server.stdout.read().decode() if server.stdout else ""
                pytest.fail(f"{who} did not answer: {out}")
            time.sleep(0.05)
