"""One-shot timers for the select ``IOLoop``: a heap with lazy cancellation.

Cancelling only marks the entry; marked entries are dropped when they reach the
top of the heap, or all at once when they make up most of it, so cancel is O(1)
and the heap cannot fill up with dead timers.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger("pika.adapters.select_connection")

#: Rebuild the heap once at least this many cancelled entries make up half of it.
_COMPACT_MIN = 512


class _Timeout:
    """Opaque handle of one timer; pass it to ``IOLoop.remove_timeout``."""

    __slots__ = ("callback", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], Any]) -> None:
        self.deadline = deadline
        self.callback: Callable[[], Any] | None = callback

    def __repr__(self) -> str:
        state = "pending" if self.callback is not None else "done"
        return f"<{self.__class__.__name__} deadline={self.deadline:.3f} {state}>"


class _Timers:
    """Timers ordered by deadline; ties run in unspecified order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Timeout]] = []
        self._seq = itertools.count()
        self._cancelled = 0

    def __len__(self) -> int:
        return len(self._heap) - self._cancelled

    def call_later(self, delay: float, callback: Callable[[], Any]) -> _Timeout:
        timeout = _Timeout(time.monotonic() + delay, callback)
        heapq.heappush(self._heap, (timeout.deadline, next(self._seq), timeout))
        return timeout

    def remove(self, timeout: _Timeout) -> None:
        if timeout.callback is None:
            return  # already fired or removed
        timeout.callback = None
        self._cancelled += 1
        if self._cancelled >= _COMPACT_MIN and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2].callback is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def clear(self) -> None:
        for _, _, timeout in self._heap:
            timeout.callback = None
        self._heap.clear()
        self._cancelled = 0

    def seconds_to_next(self) -> float | None:
        """Seconds until the earliest live timer (0 if overdue), or None if there is none."""
        heap = self._heap
        if heap and heap[0][2].callback is None:
            self._drop_cancelled_top()
        if not heap:
            return None
        delay = heap[0][0] - time.monotonic()
        return delay if delay > 0.0 else 0.0

    def run_due(self) -> None:
        """Run the timers due now; timers added meanwhile wait for the next call.

        If a callback raises, the timers not yet run stay scheduled.
        """
        if not self._heap:
            return
        now = time.monotonic()
        if self._heap[0][0] > now:
            return
        due: list[tuple[float, int, _Timeout]] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if entry[2].callback is None:
                self._cancelled -= 1
            else:
                due.append(entry)
        for index, (_, _, timeout) in enumerate(due):
            callback = timeout.callback
            if callback is None:
                self._cancelled -= 1  # removed by an earlier callback of this batch
                continue
            timeout.callback = None
            try:
                callback()
            except BaseException:
                for entry in due[index + 1 :]:
                    heapq.heappush(self._heap, entry)
                raise

    def _drop_cancelled_top(self) -> None:
        while self._heap and self._heap[0][2].callback is None:
            heapq.heappop(self._heap)
            self._cancelled -= 1
