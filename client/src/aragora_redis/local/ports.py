"""Loopback ports: is one taken, and which free ones can a throwaway stack use."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable
from pathlib import Path

from ..errors import LocalStackError

LOOPBACK = "127.0.0.1"
_LOWEST = 20000


class PortInUse(LocalStackError):
    """A port the stack needs is already taken; ``ports`` lists them all."""

    def __init__(self, ports: Iterable[int]) -> None:
        self.ports = tuple(ports)
        names = ", ".join(str(p) for p in self.ports)
        plural = "s" if len(self.ports) > 1 else ""
        super().__init__(
            f"port{plural} {names} on {LOOPBACK} already in use; nothing was started "
            "(free it, or choose other ports, e.g. with --port-base)"
        )


def port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a listener could bind ``host:port`` now, with the options Redis uses."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(ports: Iterable[int], host: str = LOOPBACK) -> None:
    """Raise :class:`PortInUse` naming every port of ``ports`` that is taken."""
    wanted = list(ports)
    bad = [p for p in wanted if not 1 <= p <= 65535]
    if bad:
        raise LocalStackError(f"port {bad[0]} is outside 1..65535")
    if len(set(wanted)) != len(wanted):
        raise LocalStackError(f"the stack's ports overlap: {sorted(wanted)}")
    busy = [p for p in wanted if not port_free(p, host)]
    if busy:
        raise PortInUse(busy)


def pick_free_ports(count: int, *, rng: random.Random | None = None) -> tuple[int, ...]:
    """``count`` distinct ports that are free right now.

    They are drawn below the kernel's ephemeral range, where the many outgoing
    client connections of a test run cannot take one between the check and the
    server's bind. Another process still can: callers retry on :class:`PortInUse`.
    """
    rng = rng or random.SystemRandom()
    highest = _ephemeral_low() - 1
    chosen: list[int] = []
    for _ in range(count * 50):
        if len(chosen) == count:
            break
        port = rng.randint(_LOWEST, highest)
        if port not in chosen and port_free(port):
            chosen.append(port)
    if len(chosen) < count:
        raise LocalStackError(f"could not find {count} free ports in {_LOWEST}..{highest}")
    return tuple(chosen)


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
    return low if low > _LOWEST + 1000 else 32768
