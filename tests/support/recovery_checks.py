"""Helpers shared by the recovery tests: draining a queue, running a step in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pika


def drain_and_delete(params: Any, queue: str) -> list[bytes]:
    """Every body left in ``queue`` (fetched with basic_get), then delete the queue."""
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        bodies: list[bytes] = []
        while True:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            bodies.append(body)
        channel.queue_delete(queue)
    return bodies


def assert_at_least_once(bodies: list[bytes], total: int, republished: int) -> None:
    """Messages b"0".. b"total-1" are all there; duplicates only from republishing."""
    assert {int(body) for body in bodies} == set(range(total))
    assert total <= len(bodies) <= total + republished


class Background:
    """Runs one call in a daemon thread; ``join`` re-raises what it raised."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        self.error: BaseException | None = None
        self._target = target
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._target()
        except BaseException as exc:  # handed to the test thread by join()
            self.error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"{self._thread.name} still running after {timeout:g} s")
        if self.error is not None:
            raise self.error
