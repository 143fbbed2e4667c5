"""The bounded master discovery's decisions (I/O-free): timeout shares and the hold."""

from __future__ import annotations

import pytest

from aragora_redis._discovery import (
    FLOOR_S,
    HOLD_S,
    Unreachable,
    discovery_kwargs,
    shared_timeout,
)


@pytest.mark.parametrize(
    ("timeout", "sentinels", "share"),
    [(5.0, 3, 5.0 / 3), (5.0, 1, 5.0), (0.6, 3, FLOOR_S), (0.05, 3, 0.05), (2.0, 4, 0.5)],
)
def test_sentinels_share_the_timeout_never_below_the_floor_nor_above_it(
    timeout: float, sentinels: int, share: float
) -> None:
    assert shared_timeout(timeout, sentinels) == pytest.approx(share)
    assert shared_timeout(timeout, sentinels) <= timeout


def test_only_the_timeouts_are_shared() -> None:
    kwargs = {"socket_timeout": 6.0, "socket_connect_timeout": 3.0, "password": "p"}
    shared = discovery_kwargs(kwargs, 3)
    assert shared == {"socket_timeout": 2.0, "socket_connect_timeout": 1.0, "password": "p"}
    assert kwargs["socket_timeout"] == 6.0


def test_a_discovery_that_reached_no_sentinel_holds_the_next_ones() -> None:
    memo = Unreachable()
    assert not memo.refuses(100.0)
    memo.record(100.0, answered=False)
    assert memo.refuses(100.0 + HOLD_S / 2)
    assert not memo.refuses(100.0 + HOLD_S)


def test_any_sentinel_answering_clears_the_hold() -> None:
    memo = Unreachable()
    memo.record(100.0, answered=False)
    memo.record(100.1, answered=True)
    assert not memo.refuses(100.2)
