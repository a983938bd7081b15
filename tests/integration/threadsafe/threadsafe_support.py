"""Helpers for the thread-safe Connection integration tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

WAIT = 15.0  # upper bound for anything a test waits on


def wait_until(
    predicate: Callable[[], bool], timeout: float = WAIT, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(0.01)


class Outcome:
    """What one thread's call returned or raised, filled in by ``run_in_thread``."""

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.started = threading.Event()
        self.done = threading.Event()


def run_in_thread(
    target: Callable[[], Any], name: str = "test-caller"
) -> tuple[threading.Thread, Outcome]:
    """Run ``target()`` on a new daemon thread; its result or exception lands in the Outcome."""
    outcome = Outcome()

    def body() -> None:
        outcome.started.set()
        try:
            outcome.value = target()
        except BaseException as exc:  # the test inspects it
            outcome.error = exc
        finally:
            outcome.done.set()

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    return thread, outcome
