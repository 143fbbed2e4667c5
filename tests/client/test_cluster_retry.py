"""I/O-free: what a durable cluster write does after a failure (:mod:`aragora_redis._redirect`)."""

from __future__ import annotations

import pytest
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

from aragora_redis._redirect import MAX_REDIRECTS, Budget, Retry, retry_for
from aragora_redis._retry import BUDGET_S, MIN_RETRIES, PAUSE_CAP_S


def test_a_redirect_goes_again_at_once() -> None:
    assert retry_for(MovedError("3999 127.0.0.1:7001")) == Retry(
        refresh=True, moved_to=("127.0.0.1", 7001)
    )
    assert retry_for(AskError("3999 127.0.0.1:7002")) == Retry(
        refresh=False, ask=("127.0.0.1", 7002)
    )


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionError("refused"),
        TimeoutError("timed out"),
        ClusterDownError("The cluster is down"),
        SlotNotCoveredError("slot 3999 not covered"),
    ],
)
def test_a_lost_primary_pauses_and_refreshes_the_slot_map(exc: Exception) -> None:
    assert retry_for(exc) == Retry(refresh=True, pause=True)


def test_tryagain_pauses_without_a_refresh() -> None:
    assert retry_for(TryAgainError("")) == Retry(refresh=False, pause=True)


def test_other_errors_are_the_callers() -> None:
    assert retry_for(ResponseError("WRONGTYPE")) is None
    assert Budget().pause_for(None) is None


def test_redirects_are_followed_a_few_times() -> None:
    budget = Budget()
    moved = Retry(refresh=True, moved_to=("127.0.0.1", 7001))
    assert [budget.pause_for(moved) for _ in range(MAX_REDIRECTS)] == [0.0] * MAX_REDIRECTS
    assert budget.pause_for(moved) is None


def test_a_lost_primary_is_retried_within_the_budget() -> None:
    budget = Budget()
    lost = Retry(refresh=True, pause=True)
    pauses = [budget.pause_for(lost) for _ in range(MIN_RETRIES + 1)]
    assert all(p is not None and 0 < p <= PAUSE_CAP_S for p in pauses)
    budget.started -= BUDGET_S  # as if the budget had been spent
    assert budget.pause_for(lost) is None


def test_a_durable_write_gives_up_when_another_slow_attempt_would_end_past_the_timeout() -> None:
    lost = Retry(refresh=True, pause=True)
    budget = Budget(timeout_s=5.0)
    budget.started -= 1.0  # a first attempt that failed at once, 1 s into the write
    budget.attempted = budget.started + 1.0
    assert budget.pause_for(lost) is not None
    budget.attempt()
    budget.attempted -= 4.5  # the second attempt waited 4.5 s for a timeout
    assert budget.pause_for(lost) is None


def test_after_an_error_the_budget_says_how_to_go_again_or_raises_it() -> None:
    budget = Budget()
    assert budget.after(MovedError("3999 127.0.0.1:7001")) == (
        Retry(refresh=True, moved_to=("127.0.0.1", 7001)),
        0.0,
    )
    wrong = ResponseError("WRONGTYPE")
    with pytest.raises(ResponseError) as caught:
        budget.after(wrong)
    assert caught.value is wrong
