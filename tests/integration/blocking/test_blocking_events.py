"""Timers, thread-safe callbacks, sleep and blocked notifications: all deferred to dispatch."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import pika
from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from tests.support.rabbitmq_node import RabbitNode


def test_call_later_runs_only_in_dispatching_calls(
    connection: BlockingConnection, channel: BlockingChannel
) -> None:
    fired: list[str] = []
    connection.call_later(0, lambda: fired.append("now"))
    channel.queue_declare("", exclusive=True)  # I/O, and the timer is due, but no dispatch
    assert fired == []
    connection.process_data_events()
    assert fired == ["now"]


def test_call_later_waits_for_its_delay(connection: BlockingConnection) -> None:
    fired: list[float] = []
    started = time.monotonic()
    connection.call_later(0.2, lambda: fired.append(time.monotonic()))
    while not fired:
        connection.process_data_events(time_limit=None)
    assert fired[0] - started >= 0.19
    with pytest.raises(TypeError):
        connection.call_later(1, "not callable")  # type: ignore[arg-type]


def test_remove_timeout_cancels_even_after_it_fired(
    connection: BlockingConnection, channel: BlockingChannel
) -> None:
    fired: list[str] = []
    pending = connection.call_later(0, lambda: fired.append("removed"))
    never = connection.call_later(0.01, lambda: fired.append("never"))
    connection.remove_timeout(never)
    channel.queue_declare("", exclusive=True)  # the first timer fires here, queued
    connection.remove_timeout(pending)
    connection.sleep(0.05)
    assert fired == []


def test_legacy_add_timeout_and_process_timeouts(connection: BlockingConnection) -> None:
    fired: list[str] = []
    handle = connection.add_timeout(0, lambda: fired.append("legacy"))
    connection.process_timeouts()
    assert fired == ["legacy"]
    connection.remove_timeout(handle)  # already ran: no-op


def test_process_data_events_time_limit_bounds_the_wait(connection: BlockingConnection) -> None:
    started = time.monotonic()
    connection.process_data_events(time_limit=0.2)
    elapsed = time.monotonic() - started
    assert 0.19 <= elapsed < 3


def test_sleep_dispatches_and_lasts(connection: BlockingConnection) -> None:
    fired: list[str] = []
    connection.call_later(0.05, lambda: fired.append("during sleep"))
    started = time.monotonic()
    connection.sleep(0.2)
    assert time.monotonic() - started >= 0.19
    assert fired == ["during sleep"]
    with pytest.raises(AssertionError):
        connection.sleep(-1)


def test_add_callback_threadsafe_wakes_the_owner_thread(connection: BlockingConnection) -> None:
    ran_in: list[threading.Thread] = []
    about_to_wait = threading.Event()

    def other_thread() -> None:
        about_to_wait.wait(10)
        connection.add_callback_threadsafe(lambda: ran_in.append(threading.current_thread()))

    thread = threading.Thread(target=other_thread)
    thread.start()
    started = time.monotonic()
    about_to_wait.set()
    connection.process_data_events(time_limit=None)  # blocks until the callback is ready
    elapsed = time.monotonic() - started
    thread.join(10)
    assert ran_in == [threading.current_thread()]
    assert elapsed < 4  # woken up, not left to the loop's 5 s poll limit


def test_ack_from_a_worker_thread_through_add_callback_threadsafe(
    channel: BlockingChannel, queue: str
) -> None:
    connection = channel.connection
    threads: list[threading.Thread] = []

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        def work() -> None:
            connection.add_callback_threadsafe(functools.partial(ch.basic_ack, method.delivery_tag))
            connection.add_callback_threadsafe(ch.stop_consuming)

        worker = threading.Thread(target=work)
        threads.append(worker)
        worker.start()

    channel.basic_publish("", queue, b"work item")
    channel.basic_consume(queue, on_message)
    channel.start_consuming()
    for worker in threads:
        worker.join(10)
    assert channel.queue_declare(queue, passive=True).method.message_count == 0
    assert channel.basic_get(queue) == (None, None, None)


def test_add_callback_threadsafe_rejects_non_callables(connection: BlockingConnection) -> None:
    with pytest.raises(TypeError):
        connection.add_callback_threadsafe("nope")  # type: ignore[arg-type]


def test_exception_in_a_timer_propagates_and_the_connection_survives(
    connection: BlockingConnection,
) -> None:
    def boom() -> None:
        raise RuntimeError("timer failed")

    connection.call_later(0, boom)
    with pytest.raises(RuntimeError, match="timer failed"):
        connection.process_data_events(time_limit=1)
    assert connection.is_open
    assert connection.channel().is_open


def _wait_for(condition: Callable[[], bool], connection: BlockingConnection) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "condition not met within 30 s"
        connection.process_data_events(time_limit=0.5)


def test_blocked_and_unblocked_callbacks_and_blocked_timeout(
    node_factory: Callable[..., RabbitNode],
) -> None:
    # A node of its own: the memory alarm blocks every publisher on a node.
    node = node_factory()
    connection = pika.BlockingConnection(pika.ConnectionParameters(node.host, node.port))
    impatient = pika.BlockingConnection(
        pika.ConnectionParameters(node.host, node.port, blocked_connection_timeout=0.5)
    )
    events: list[tuple[Any, Any]] = []
    connection.add_on_connection_blocked_callback(lambda c, f: events.append((c, f.method)))
    connection.add_on_connection_unblocked_callback(lambda c, f: events.append((c, f.method)))
    channel, impatient_channel = connection.channel(), impatient.channel()
    node.set_memory_alarm(True)
    try:
        channel.basic_publish("", "nowhere", b"x")  # the broker blocks publishing connections
        impatient_channel.basic_publish("", "nowhere", b"x")
        _wait_for(lambda: len(events) == 1, connection)
        assert events[0][0] is connection
        assert isinstance(events[0][1], spec.Connection.Blocked)
        started = time.monotonic()
        with pytest.raises(exceptions.ConnectionBlockedTimeout):
            while time.monotonic() - started < 30:
                impatient.process_data_events(time_limit=None)
        assert impatient.is_closed
    finally:
        node.set_memory_alarm(False)
    _wait_for(lambda: len(events) == 2, connection)
    assert isinstance(events[1][1], spec.Connection.Unblocked)
    connection.close()
