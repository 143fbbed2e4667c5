"""redis-py connections that leave from a chosen loopback address.

The drill's naive clients bind the addresses :mod:`aragora_redis.local.netplan`
gives them, so that a network fault can put them on one side of a partition and
our client (connecting from the host address) on the other. Only the source
address differs from redis-py's own ``_connect``; TLS wrapping, AUTH and the rest
happen above it, unchanged.
"""

from __future__ import annotations

import socket
from typing import Any, TypeVar

from redis.connection import AbstractConnection

C = TypeVar("C", bound=AbstractConnection)


def bound_class(base: type[C], source: str) -> type[C]:
    """A subclass of ``base`` whose sockets are bound to ``source`` before connecting."""

    def _connect(self: Any) -> socket.socket:
        sock = socket.create_connection(
            (self.host, self.port),
            timeout=self.socket_connect_timeout,
            source_address=(source, 0),
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.socket_timeout)
        return sock

    return type(f"Bound{base.__name__}", (base,), {"_connect": _connect, "source": source})
