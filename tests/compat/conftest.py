"""The compatibility suite's own stack: the endpoint topology (``local up --topology endpoint``).

The other topologies are the session stacks of tests/conftest.py; the endpoint stack
(a primary and two replicas behind one HAProxy address that a hidden control plane
moves, like a managed service's primary endpoint) is started here, once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aragora_redis._engine import Engine
from aragora_redis.local import LocalStack, up_on_free_ports


@pytest.fixture(scope="session")
def endpoint_topology(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> Iterator[LocalStack]:
    """``aragora-redis local up --topology endpoint`` on free loopback ports."""
    folder = tmp_path_factory.mktemp(f"endpoint-{engine}")
    stack = up_on_free_ports(folder, "endpoint", engine=engine)
    try:
        yield stack
    finally:
        stack.down()
