"""Futures, timeouts and recorded close reasons for the thread-safe Connection.

Every blocking call is a ``concurrent.futures.Future`` that the I/O thread
settles and the calling thread waits on with a timeout.  Settling is
idempotent here (a future the waiter abandoned on timeout is cancelled, and a
late reply must not raise on the I/O thread).  A close reason is raised by
many calls from many threads: ``Reason`` keeps the traceback it had when it
was recorded and every raise starts again from it, so the traceback does not
grow with each re-raise.
"""

from __future__ import annotations

import concurrent.futures
import math
from typing import Any, NoReturn, TypeVar

_T = TypeVar("_T")


class Reason:
    """A recorded close reason and its traceback at the time it was recorded."""

    __slots__ = ("error", "traceback")

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.traceback = error.__traceback__

    def __repr__(self) -> str:
        return f"<Reason {self.error!r}>"

    def throw(self) -> NoReturn:
        """Raise the reason with its recorded traceback."""
        raise self.error.with_traceback(self.traceback)


def resolve(future: concurrent.futures.Future[_T], value: _T) -> None:
    """Set the result unless the future is already settled or cancelled."""
    try:
        future.set_result(value)
    except concurrent.futures.InvalidStateError:
        pass


def fail(future: concurrent.futures.Future[Any], error: BaseException) -> None:
    """Set the exception unless the future is already settled or cancelled."""
    try:
        future.set_exception(error)
    except concurrent.futures.InvalidStateError:
        pass


def check_timeout(timeout: float | None, name: str = "timeout") -> None:
    """Validate a timeout argument: None (wait forever) or a number >= 0."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, got {timeout!r}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"{name} must be >= 0 seconds or None, got {timeout!r}")


def wait_settled(
    future: concurrent.futures.Future[Any],
    timeout: float | None,
    what: str,
    *,
    cancel: bool = True,
    where: str = "",
) -> BaseException | None:
    """Wait for ``future`` to settle; return its exception, or None if it has a result.

    On timeout the future is cancelled (unless ``cancel`` is False, for futures
    other callers share) and the builtin ``TimeoutError`` is raised.
    """
    try:
        return future.exception(timeout)
    except concurrent.futures.TimeoutError:
        if not cancel or future.cancel():
            suffix = f" ({where})" if where else ""
            raise TimeoutError(f"{what} timed out after {timeout} s{suffix}") from None
        return future.exception()  # settled between the timeout and the cancel


def check_optional_callback(callback: object, name: str) -> None:
    """TypeError unless ``callback`` is None or callable."""
    if callback is not None and not callable(callback):
        raise TypeError(f"{name} must be callable or None, got {callback!r}")


def check_maxsize(value: object) -> int:
    """Validate ``work_queue_maxsize``: an int >= 0 (0 = unbounded)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"work_queue_maxsize must be an int (0 = unbounded), got {value!r}")
    if value < 0:
        raise ValueError(f"work_queue_maxsize must be >= 0 (0 = unbounded), got {value!r}")
    return value


def check_put_timeout(value: object) -> float:
    """Validate ``work_queue_put_timeout``: a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"work_queue_put_timeout must be a positive number, got {value!r}")
    if math.isnan(value) or value <= 0:
        raise ValueError(f"work_queue_put_timeout must be a positive number, got {value!r}")
    return float(value)
