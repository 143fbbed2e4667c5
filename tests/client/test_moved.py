"""The I/O-free "this reply means the primary moved" decision (aragora_redis._moved).

Error replies are built by redis-py's own parser from the bytes a server sends, so
the decision is tested on the exceptions the connections really see.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from aragora_redis._moved import (
    CAPA_REDIRECT,
    Moved,
    OutcomeUnknown,
    PrimaryMoved,
    at_most_once,
    parse_redirect,
    primary_moved,
    reply_lost,
)


def _reply(line: str) -> ResponseError:
    """What redis-py raises for the error reply ``-<line>``."""
    return BaseParser.parse_error(line)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("line", "code", "elsewhere"),
    [
        ("READONLY You can't write against a read only replica.", "READONLY", True),
        (
            "READONLY You can't write against a read only replica. script: 07142d, on "
            "@user_script:49.",
            "READONLY",
            True,
        ),
        (
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            "MASTERDOWN",
            True,
        ),
        ("LOADING Redis is loading the dataset in memory", "LOADING", True),
        ("NOREPLICAS Not enough good replicas to write.", "NOREPLICAS", False),
    ],
)
def test_replies_that_say_the_node_is_not_the_primary(
    line: str, code: str, elsewhere: bool
) -> None:
    assert primary_moved(_reply(line)) == Moved(code, elsewhere)


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("REDIRECT 10.0.1.17:6379", ("10.0.1.17", 6379)),
        ("REDIRECT primary.example.internal:6380", ("primary.example.internal", 6380)),
        ("REDIRECT ::1:6379", ("::1", 6379)),
        ("REDIRECT [fd00::5]:6379", ("fd00::5", 6379)),
        ("REDIRECT garbage", None),
    ],
)
def test_a_valkey_redirect_says_not_the_primary_and_where_it_is(
    line: str, where: tuple[str, int] | None
) -> None:
    moved = primary_moved(_reply(line))
    assert moved == Moved("REDIRECT", True, where)


@pytest.mark.parametrize(
    "line",
    [
        "ERR unknown subcommand 'capa'. Try CLIENT HELP.",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "NOSCRIPT No matching script. Please use EVAL.",
        "MOVED 3999 127.0.0.1:6381",
        "ERR Error running script: READONLY inside a message is not a READONLY reply",
        "NOPERM this user has no permissions to run the 'set' command",
    ],
)
def test_other_errors_are_not_a_move(line: str) -> None:
    assert primary_moved(_reply(line)) is None


def test_connection_errors_are_not_a_move_but_the_signal_is() -> None:
    assert primary_moved(ConnectionError("Connection reset by peer")) is None
    assert primary_moved(TimeoutError("Timeout reading from socket")) is None
    moved = Moved("READONLY", True)
    signal = PrimaryMoved("endpoint.example:6379", moved)
    assert primary_moved(signal) is moved
    assert isinstance(signal, ConnectionError), "redis-py's retry must retry it"
    assert "READONLY" in str(signal)
    assert "endpoint.example:6379" in str(signal)


def test_parse_redirect() -> None:
    assert parse_redirect(" 127.0.0.1:7001 ") == ("127.0.0.1", 7001)
    assert parse_redirect("127.0.0.1") is None
    assert parse_redirect(":7001") is None
    assert parse_redirect("host:port") is None


def test_capa_redirect_is_the_valkey_command() -> None:
    assert CAPA_REDIRECT == ("CLIENT", "CAPA", "redirect")


def test_a_lost_reply_counts_only_inside_at_most_once() -> None:
    reset = ConnectionError("Connection reset by peer")
    timeout = TimeoutError("Timeout reading from socket")
    assert not reply_lost(reset)
    with at_most_once():
        assert reply_lost(reset)
        assert reply_lost(timeout)
        assert not reply_lost(PrimaryMoved("x:1", Moved("READONLY", True)))
        assert not reply_lost(_reply("LOADING Redis is loading the dataset in memory"))
        assert not reply_lost(_reply("WRONGTYPE Operation against a key"))
    assert not reply_lost(reset)
    assert not isinstance(OutcomeUnknown("x"), ConnectionError | TimeoutError), "not retried"


def test_at_most_once_is_per_thread_and_per_task() -> None:
    reset = ConnectionError("reset")
    seen: list[bool] = []

    def other_thread() -> None:
        seen.append(reply_lost(reset))

    async def tasks() -> list[bool]:
        async def marked() -> bool:
            with at_most_once():
                await asyncio.sleep(0)
                return reply_lost(reset)

        async def unmarked() -> bool:
            await asyncio.sleep(0)
            return reply_lost(reset)

        return list(await asyncio.gather(marked(), unmarked()))

    with at_most_once():
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen == [False]
    assert asyncio.run(tasks()) == [True, False]
