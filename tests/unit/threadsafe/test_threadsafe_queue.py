"""BoundedBuffer and WorkQueue: ordering, limits, timeouts, closing."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from pika.adapters._threadsafe_queue import (
    CLOSED,
    TIMED_OUT,
    BoundedBuffer,
    PutResult,
    WorkQueue,
)

WAIT = 5.0


def test_buffer_is_fifo_and_reports_timeouts() -> None:
    buffer = BoundedBuffer(maxsize=0, put_timeout=1.0)
    for item in range(3):
        assert buffer.put(item) is PutResult.OK
    assert [buffer.get(0) for _ in range(3)] == [0, 1, 2]
    assert buffer.get(0.01) is TIMED_OUT


def test_full_buffer_gives_up_after_put_timeout() -> None:
    buffer = BoundedBuffer(maxsize=1, put_timeout=0.05)
    assert buffer.put("a") is PutResult.OK
    started = time.monotonic()
    assert buffer.put("b") is PutResult.FULL
    assert time.monotonic() - started >= 0.05
    assert len(buffer) == 1


def test_full_buffer_accepts_once_the_consumer_takes_an_item() -> None:
    buffer = BoundedBuffer(maxsize=1, put_timeout=WAIT)
    buffer.put("a")
    results: list[PutResult] = []
    producer = threading.Thread(target=lambda: results.append(buffer.put("b")))
    producer.start()
    assert buffer.get(WAIT) == "a"
    producer.join(WAIT)
    assert results == [PutResult.OK]
    assert buffer.get(WAIT) == "b"


def test_close_wakes_a_waiting_producer_and_drops_its_item() -> None:
    buffer = BoundedBuffer(maxsize=1, put_timeout=WAIT)
    buffer.put("a")
    results: list[PutResult] = []
    producer = threading.Thread(target=lambda: results.append(buffer.put("b")))
    producer.start()
    buffer.close()
    producer.join(WAIT)
    assert results == [PutResult.CLOSED]
    assert buffer.put("c") is PutResult.CLOSED
    assert buffer.get(0) == "a"  # what was queued is still delivered
    assert buffer.get(0) is CLOSED


def test_control_items_ignore_the_limit_and_closing() -> None:
    buffer = BoundedBuffer(maxsize=1, put_timeout=0.01)
    buffer.put("a")
    buffer.put_control("marker")
    buffer.close()
    buffer.put_control("late marker")
    assert [buffer.get(0), buffer.get(0), buffer.get(0), buffer.get(0)] == [
        "a",
        "marker",
        "late marker",
        CLOSED,
    ]


def test_get_blocks_until_an_item_or_close() -> None:
    buffer = BoundedBuffer(maxsize=0, put_timeout=1.0)
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.append(buffer.get(None)))
    consumer.start()
    buffer.put("x")
    consumer.join(WAIT)
    assert got == ["x"]
    consumer = threading.Thread(target=lambda: got.append(buffer.get(None)))
    consumer.start()
    buffer.close()
    consumer.join(WAIT)
    assert got == ["x", CLOSED]


def test_drain_closes_and_empties() -> None:
    buffer = BoundedBuffer(maxsize=0, put_timeout=1.0)
    buffer.put(1)
    buffer.put(2)
    assert buffer.drain() == [1, 2]
    assert buffer.closed
    assert buffer.get(0) is CLOSED


def test_work_queue_runs_items_in_order_on_its_named_thread() -> None:
    queue = WorkQueue("pika-consumer", maxsize=0, put_timeout=1.0)
    assert queue.join(0) is True  # no thread until the first item
    seen: list[tuple[int, str]] = []
    done = threading.Event()
    for index in range(50):
        queue.put(lambda i=index: seen.append((i, threading.current_thread().name)))
    queue.put(done.set)
    assert done.wait(WAIT)
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"pika-consumer"}
    queue.close()
    assert queue.join(WAIT)


def test_work_queue_logs_exceptions_and_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    queue = WorkQueue("worker", maxsize=0, put_timeout=1.0)
    done = threading.Event()

    def broken() -> None:
        raise ValueError("callback bug")

    with caplog.at_level(logging.ERROR, "pika.adapters.thread_safe_connection"):
        queue.put(broken)
        queue.put(done.set)
        assert done.wait(WAIT)
    assert "callback bug" in caplog.text
    queue.close()
    assert queue.join(WAIT)


def test_work_queue_finishes_queued_work_after_close() -> None:
    queue = WorkQueue("worker", maxsize=0, put_timeout=1.0)
    gate = threading.Event()
    ran: list[int] = []
    queue.put(lambda: gate.wait(WAIT))
    queue.put(lambda: ran.append(1))
    queue.close()
    assert queue.put(lambda: ran.append(2)) is PutResult.CLOSED
    gate.set()
    assert queue.join(WAIT)
    assert ran == [1]


def test_work_queue_join_from_its_own_thread_does_not_deadlock() -> None:
    queue = WorkQueue("worker", maxsize=0, put_timeout=1.0)
    answers: list[tuple[bool, bool]] = []
    done = threading.Event()

    def inside() -> None:
        answers.append((queue.is_current_thread(), queue.join(WAIT)))
        done.set()

    queue.put(inside)
    assert done.wait(WAIT)
    assert answers == [(True, False)]
    assert not queue.is_current_thread()
    queue.close()
    assert queue.join(WAIT)
