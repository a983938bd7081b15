"""Futures, timeouts and recorded reasons used by the thread-safe Connection."""

from __future__ import annotations

import concurrent.futures
import math
import traceback

import pytest

from pika import exceptions
from pika.adapters._threadsafe_calls import Reason, check_timeout, fail, resolve, wait_settled


def test_reason_raises_with_the_same_traceback_every_time() -> None:
    try:
        raise exceptions.StreamLostError("lost")
    except exceptions.StreamLostError as exc:
        reason = Reason(exc)
    depths = []
    for _ in range(3):
        with pytest.raises(exceptions.StreamLostError) as info:
            reason.throw()
        assert info.value is reason.error
        depths.append(len(traceback.extract_tb(info.value.__traceback__)))
    assert depths[0] == depths[1] == depths[2]


def test_settling_twice_or_after_cancel_is_harmless() -> None:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    resolve(future, 1)
    resolve(future, 2)
    fail(future, ValueError("late"))
    assert future.result() == 1
    cancelled: concurrent.futures.Future[int] = concurrent.futures.Future()
    assert cancelled.cancel()
    resolve(cancelled, 3)
    fail(cancelled, ValueError("late"))
    assert cancelled.cancelled()


@pytest.mark.parametrize("value", [None, 0, 0.5, 10])
def test_valid_timeouts(value: float | None) -> None:
    check_timeout(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (math.nan, ValueError), ("1", TypeError), (True, TypeError)],
)
def test_invalid_timeouts(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_timeout(value)  # type: ignore[arg-type]


def test_wait_settled_returns_the_exception_or_none() -> None:
    done: concurrent.futures.Future[int] = concurrent.futures.Future()
    done.set_result(5)
    assert wait_settled(done, 0, "call") is None
    failed: concurrent.futures.Future[int] = concurrent.futures.Future()
    error = KeyError("x")
    failed.set_exception(error)
    assert wait_settled(failed, 0, "call") is error


def test_wait_settled_times_out_with_builtin_timeout_error_and_cancels() -> None:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    with pytest.raises(TimeoutError, match=r"^queue_declare timed out after 0.01 s \(here\)$"):
        wait_settled(future, 0.01, "queue_declare", where="here")
    assert future.cancelled()


def test_wait_settled_can_leave_a_shared_future_alone() -> None:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    with pytest.raises(TimeoutError):
        wait_settled(future, 0.01, "close", cancel=False)
    assert not future.done()
