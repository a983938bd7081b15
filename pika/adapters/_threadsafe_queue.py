"""Bounded FIFO buffers and ordered worker threads for the thread-safe Connection.

The I/O thread is the only producer.  ``put`` waits while a buffer is full (so
the I/O thread stops reading from the socket: TCP back-pressure) and gives up
after ``put_timeout``; the caller then tears the connection down with
WorkQueueFullError.  Control markers (end of stream, close reasons) bypass the
size limit so they can never block.  Consumers are one worker thread per
``WorkQueue`` (user callbacks, strictly in order) or the user's own thread for
a ``consume()`` stream.  One ``threading.Condition`` per buffer guards its deque
and its ``closed`` flag; nothing else is shared.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger("pika.adapters.thread_safe_connection")


class PutResult(enum.Enum):
    """What became of an item offered with ``put``."""

    OK = "ok"
    FULL = "full"  # still full after put_timeout: the caller tears the connection down
    CLOSED = "closed"  # the buffer no longer accepts items; the item was dropped


class _Signal(enum.Enum):
    TIMED_OUT = "timed out"
    CLOSED = "closed"


TIMED_OUT = _Signal.TIMED_OUT
"""Returned by ``BoundedBuffer.get`` when nothing arrived within its timeout."""

CLOSED = _Signal.CLOSED
"""Returned by ``BoundedBuffer.get`` once the buffer is closed and empty."""


class BoundedBuffer:
    """A FIFO with a size limit (0 = unbounded) for one producer and one consumer."""

    name = "consume() stream"

    def __init__(self, maxsize: int, put_timeout: float) -> None:
        self.maxsize = maxsize
        self.put_timeout = put_timeout
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def closed(self) -> bool:
        """True once ``close`` was called."""
        return self._closed

    def put(self, item: Any) -> PutResult:
        """Append ``item``, waiting up to ``put_timeout`` while the buffer is full."""
        with self._cond:
            if self._closed:
                return PutResult.CLOSED
            if self.maxsize and len(self._items) >= self.maxsize:
                deadline = time.monotonic() + self.put_timeout
                while len(self._items) >= self.maxsize and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return PutResult.FULL
                    self._cond.wait(remaining)
                if self._closed:
                    return PutResult.CLOSED
            self._items.append(item)
            self._cond.notify_all()
            return PutResult.OK

    def put_control(self, item: Any) -> None:
        """Append a control marker regardless of size and of ``closed``."""
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Any:
        """The next item; TIMED_OUT after ``timeout`` seconds, CLOSED once closed and empty."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait_for(lambda: self._items or self._closed, timeout)
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()  # a producer may be waiting for room
                return item
            return CLOSED if self._closed else TIMED_OUT

    def close(self) -> list[Any]:
        """Stop accepting items; return what is still queued without removing it."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            return list(self._items)

    def drain(self) -> list[Any]:
        """Close and remove everything still queued."""
        with self._cond:
            self._closed = True
            items = list(self._items)
            self._items.clear()
            self._cond.notify_all()
            return items


class WorkQueue:
    """Runs callables in order on one daemon thread, started on the first item.

    Exceptions from the callables are logged and swallowed: a failing user
    callback never stops the queue or the connection.  After ``close`` the
    thread runs what is already queued, then exits.
    """

    def __init__(self, thread_name: str, maxsize: int, put_timeout: float) -> None:
        self.name = thread_name
        self._buffer = BoundedBuffer(maxsize, put_timeout)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<WorkQueue {self.name} queued={len(self._buffer)}>"

    def put(self, work: Callable[[], Any]) -> PutResult:
        """Queue ``work``; waits while full (see BoundedBuffer.put)."""
        result = self._buffer.put(work)
        if result is PutResult.OK and self._thread is None:
            self._start()
        return result

    def close(self) -> None:
        """Accept no more work; the thread exits once the queue is empty."""
        self._buffer.close()

    def join(self, timeout: float | None) -> bool:
        """Wait for the thread to finish (never from the thread itself); True if it has."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return thread is None
        thread.join(timeout)
        return not thread.is_alive()

    def is_current_thread(self) -> bool:
        """True when called from this queue's own thread."""
        return self._thread is threading.current_thread()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread = thread  # before start(): the first item may ask who runs it
                thread.start()

    def _run(self) -> None:
        buffer = self._buffer
        while True:
            work = buffer.get(None)
            if work is CLOSED:
                return
            try:
                work()
            except Exception:
                LOGGER.exception("Exception in user callback %r (ignored)", work)
