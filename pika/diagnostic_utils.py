"""Diagnostic helpers: log exceptions escaping a function before they propagate."""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["create_log_exception_decorator"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def create_log_exception_decorator(
    logger: logging.Logger,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Return a decorator that logs, via ``logger.exception``, any exception
    raised by the wrapped function together with the caller's stack, and then
    re-raises it unchanged.
    """

    def log_exception(func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return func(*args, **kwargs)
            except Exception:
                # The traceback shows where it failed; the caller's stack
                # shows who called it, which the traceback alone omits.
                caller_stack = "".join(traceback.format_stack()[:-1])
                logger.exception(
                    "%s exited with an exception; caller's stack:\n%s",
                    getattr(func, "__qualname__", func),
                    caller_stack,
                )
                raise

        return wrapper

    return log_exception
