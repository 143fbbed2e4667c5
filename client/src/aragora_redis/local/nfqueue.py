"""Delay packets in user space: an NFQUEUE listener that accepts each packet late.

This machine's kernel has no ``sch_netem``, so ``tc ... netem delay`` is refused.
Instead an iptables rule in a chain of ours sends the chosen packets to an
NFQUEUE (``--queue-bypass``: with no listener they pass untouched), and
:class:`Delayer` gives each its verdict (ACCEPT) after a random delay. Only packet
metadata is copied to user space (``NFQNL_COPY_META``). The netlink messages are
built here (:func:`config_message`, :func:`verdict_message`, :func:`packet_ids`:
I/O-free); the thread that reads and answers is small.
"""

from __future__ import annotations

import heapq
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

from ..errors import LocalStackError

NETLINK_NETFILTER = 12
_SUBSYS_QUEUE = 3
_MSG_PACKET, _MSG_VERDICT, _MSG_CONFIG = 0, 1, 2
_CFG_CMD, _CFG_PARAMS, _CFG_QUEUE_MAXLEN = 1, 2, 3
_CMD_BIND, _CMD_UNBIND = 1, 2
_COPY_META = 1
_ATTR_PACKET_HDR, _ATTR_VERDICT_HDR = 1, 2
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
NF_ACCEPT = 1
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_GEN = struct.Struct("=BBH")  # nfgenmsg: family, version, res_id (big-endian value)


def _attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def _message(kind: int, queue: int, attrs: bytes, seq: int = 0) -> bytes:
    body = _GEN.pack(socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    header = _HEADER.pack(_HEADER.size + len(body), (_SUBSYS_QUEUE << 8) | kind,
                          _NLM_F_REQUEST, seq, 0)  # fmt: skip
    return header + body


def config_message(queue: int, *, bind: bool = True, maxlen: int = 20000) -> bytes:
    """Bind (or unbind) queue ``queue``, copying packet metadata only."""
    cmd = struct.pack("!BBH", _CMD_BIND if bind else _CMD_UNBIND, 0, 0)
    attrs = _attr(_CFG_CMD, cmd)
    if bind:
        attrs += _attr(_CFG_PARAMS, struct.pack("!IB", 0, _COPY_META))
        attrs += _attr(_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen))
    return _message(_MSG_CONFIG, queue, attrs)


def verdict_message(queue: int, packet_id: int, verdict: int = NF_ACCEPT) -> bytes:
    """The verdict on one queued packet."""
    return _message(
        _MSG_VERDICT, queue, _attr(_ATTR_VERDICT_HDR, struct.pack("!II", verdict, packet_id))
    )


def packet_ids(data: bytes) -> Iterator[int]:
    """The ids of the queued packets announced in one netlink read."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            return
        if kind == (_SUBSYS_QUEUE << 8) | _MSG_PACKET:
            pos = offset + _HEADER.size + _GEN.size
            end = offset + length
            while pos + 4 <= end:
                size, attr = struct.unpack_from("=HH", data, pos)
                if size < 4:
                    break
                if attr & 0x7FFF == _ATTR_PACKET_HDR:
                    yield struct.unpack_from("!I", data, pos + 4)[0]
                    break
                pos += size + (-size % 4)
        offset += length + (-length % 4)


class Delayer:
    """Accepts every packet of NFQUEUE ``queue`` after ``delay()`` seconds."""

    def __init__(self, queue: int, delay: Callable[[], float]) -> None:
        self.queue = queue
        self.delay = delay
        self.delayed = 0
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self._sock.bind((0, 0))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.send(config_message(queue))
        self._due: list[tuple[float, int]] = []
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, name="nfqueue-read", daemon=True),
            threading.Thread(target=self._release, name="nfqueue-release", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = self._sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.monotonic()
            with self._lock:
                for packet in packet_ids(data):
                    heapq.heappush(self._due, (now + max(0.0, self.delay()), packet))
                    self.delayed += 1
                self._lock.notify()

    def _release(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                wait = self._due[0][0] - time.monotonic() if self._due else 0.2
                if wait > 0:
                    self._lock.wait(min(wait, 0.2))
                    continue
                _, packet = heapq.heappop(self._due)
            try:
                self._sock.send(verdict_message(self.queue, packet))
            except OSError:
                return

    def close(self) -> None:
        """Accept what is still queued, unbind, stop the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        with self._lock:
            pending, self._due = self._due, []
        try:
            for _, packet in pending:
                self._sock.send(verdict_message(self.queue, packet))
            self._sock.send(config_message(self.queue, bind=False))
        except OSError as exc:
            raise LocalStackError(f"NFQUEUE {self.queue}: {exc}") from exc
        finally:
            self._sock.close()


def jitter(mean_s: float, spread_s: float, rng: random.Random | None = None) -> Callable[[], float]:
    """Delays uniform in ``mean_s +- spread_s``."""
    draw = rng or random.Random()
    return lambda: mean_s + draw.uniform(-spread_s, spread_s)
