"""The NFQUEUE netlink messages of the packet delayer (I/O-free)."""

from __future__ import annotations

import socket
import struct

from aragora_redis.local import nfqueue


def _header(message: bytes) -> tuple[int, int, int, int]:
    length, kind, flags, _, _ = struct.unpack_from("=IHHII", message)
    _, _, queue = struct.unpack_from("=BBH", message, 16)
    return length, kind, flags, socket.ntohs(queue)


def test_binding_asks_for_metadata_only() -> None:
    message = nfqueue.config_message(1042)
    length, kind, flags, queue = _header(message)
    assert (length, kind, flags, queue) == (len(message), (3 << 8) | 2, 1, 1042)
    # NFQA_CFG_CMD BIND, then NFQA_CFG_PARAMS copy_range 0 and NFQNL_COPY_META.
    assert message[20:28] == struct.pack("=HH", 8, 1) + struct.pack("!BBH", 1, 0, 0)
    assert message[28:37] == struct.pack("=HH", 9, 2) + struct.pack("!IB", 0, 1)


def test_a_verdict_names_the_packet_and_accepts_it() -> None:
    message = nfqueue.verdict_message(1042, 77)
    assert _header(message)[1:] == ((3 << 8) | 1, 1, 1042)
    assert message[20:] == struct.pack("=HH", 12, 2) + struct.pack("!II", nfqueue.NF_ACCEPT, 77)


def test_packet_ids_are_read_from_each_message_of_a_read() -> None:
    def packet(packet_id: int) -> bytes:
        hdr = struct.pack("=HH", 11, 1) + struct.pack("!IHB", packet_id, 0x0800, 3) + b"\0"
        mark = struct.pack("=HH", 8, 3) + b"\0\0\0\0"
        body = struct.pack("=BBH", 2, 0, 0) + mark + hdr
        return struct.pack("=IHHII", 16 + len(body), (3 << 8) | 0, 0, 0, 0) + body

    error = struct.pack("=IHHII", 20, 2, 0, 0, 0) + b"\0" * 4
    assert list(nfqueue.packet_ids(packet(5) + error + packet(6))) == [5, 6]


def test_delays_spread_around_the_mean() -> None:
    draw = nfqueue.jitter(0.2, 0.05)
    values = [draw() for _ in range(1000)]
    assert min(values) >= 0.15
    assert max(values) <= 0.25
