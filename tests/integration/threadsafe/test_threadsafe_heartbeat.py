"""Heartbeats keep flowing while callbacks run long and while user threads idle.

RabbitMQ closes a connection that misses two heartbeat intervals, and our own
engine gives up on a silent broker after 1.5 intervals, so with heartbeat=1 a
lapse of 3 s cannot go unnoticed.  The sleeps below are the scenario (a slow
callback, an idle application), not synchronisation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from threadsafe_support import WAIT

from pika import spec
from pika.adapters.thread_safe_connection import Channel, Connection
from tests.conftest import Broker

HEARTBEAT = 1
SLOW = 3 * HEARTBEAT


def _connect_with_heartbeat(
    connect: Callable[..., Connection], broker: Broker, closes: list[BaseException]
) -> Connection:
    conn = connect(
        broker.params(heartbeat=HEARTBEAT),
        on_close_callback=lambda _impl, reason: closes.append(reason),
    )
    assert conn.params.heartbeat == HEARTBEAT
    return conn


def test_callback_sleeping_three_heartbeat_intervals_keeps_the_connection(
    connect: Callable[..., Connection], broker: Broker, queue: str
) -> None:
    closes: list[BaseException] = []
    conn = _connect_with_heartbeat(connect, broker, closes)
    channel = conn.channel()
    channel.queue_declare(queue)
    finished = threading.Event()
    traffic: dict[str, int] = {}

    def slow(ch: Channel, method: spec.Basic.Deliver, _props: object, _body: bytes) -> None:
        impl = conn._impl
        sent, received = impl.frames_sent, impl.frames_received
        time.sleep(SLOW)  # the scenario: a callback busy for 3 heartbeat intervals
        traffic["sent"] = impl.frames_sent - sent
        traffic["received"] = impl.frames_received - received
        ch.basic_ack(method.delivery_tag)
        finished.set()

    channel.basic_consume(queue, slow)
    channel.basic_publish("", queue, b"slow job")
    assert finished.wait(SLOW + WAIT)
    assert traffic["sent"] >= 2  # our heartbeats went out while the callback slept
    assert traffic["received"] >= 2  # and the broker's came in
    assert conn.is_open and not closes
    assert channel.queue_declare(queue, passive=True).method.message_count == 0


def test_idle_application_threads_do_not_starve_heartbeats(
    connect: Callable[..., Connection], broker: Broker
) -> None:
    closes: list[BaseException] = []
    conn = _connect_with_heartbeat(connect, broker, closes)
    channel = conn.channel()
    sent = conn._impl.frames_sent
    time.sleep(SLOW)  # the scenario: the application does nothing at all
    assert conn._impl.frames_sent - sent >= 2
    assert conn.is_open and not closes
    assert channel.queue_declare("", exclusive=True).method.queue
