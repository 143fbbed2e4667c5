"""Sentinels behind a partition, for the discovery tests: they accept and never answer."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from aragora_redis._parse import HostPort
from aragora_redis.settings import RedisSettings


@contextlib.contextmanager
def silent_sentinels(count: int = 3, timeout: float = 0.75) -> Iterator[RedisSettings]:
    """Sentinel-mode settings naming ``count`` listeners that never reply."""
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    try:
        yield RedisSettings(
            mode="sentinel",
            sentinel_hosts=tuple(HostPort("127.0.0.1", s.getsockname()[1]) for s in socks),
            sentinel_master="aragora-master",
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    finally:
        for sock in socks:
            sock.close()
