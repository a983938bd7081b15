"""A gevent consumer: GeventConnection with greenlets.

GeventConnection runs pika's I/O on the gevent hub, so no loop has to be
started by hand: pika's callbacks run whenever the application's greenlets
yield (on gevent.sleep, a queue wait, gevent-aware I/O ...). Callbacks are
bridged to straight-line greenlet code with gevent's AsyncResult (wait for one
answer) and Queue (a stream of deliveries). Any number of greenlets can wait
this way side by side; here a second one does unrelated periodic work while
the consumer runs.

The program publishes some messages to its own queue, consumes and acks them,
and stops when all have arrived, or when none arrives for EXAMPLE_SECONDS.

Usage: python examples/gevent_consumer.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.gevent"), EXAMPLE_MESSAGES (default 5),
             EXAMPLE_SECONDS: give up after this many idle seconds (default 10).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import gevent
import gevent.queue
from gevent.event import AsyncResult

import pika
from pika.adapters.gevent_connection import GeventConnection
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
TIMEOUT = 10.0


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def completed(start: Callable[[Callable[[Any], None]], Any]) -> Any:
    """Run a pika call that reports through a callback; block this greenlet for the result."""
    result = AsyncResult()
    start(result.set)
    return result.get(timeout=TIMEOUT)


def connect(params: pika.connection.Parameters) -> tuple[GeventConnection, AsyncResult]:
    """Open a connection; the returned AsyncResult is set with the reason when it closes."""
    opened = AsyncResult()
    closed = AsyncResult()
    connection = GeventConnection(
        params,
        on_open_callback=opened.set,
        on_open_error_callback=lambda _, error: opened.set_exception(error),
        on_close_callback=lambda _, reason: closed.set(reason),
    )
    opened.get(timeout=TIMEOUT)  # raises the open error, if any
    return connection, closed


def consume(channel: Channel, queue: str, count: int, idle: float) -> int:
    """Handle up to ``count`` messages; stop early if none comes for ``idle`` seconds."""
    deliveries: gevent.queue.Queue[tuple[Basic.Deliver, bytes]] = gevent.queue.Queue()

    def on_message(_: Channel, method: Basic.Deliver, __: BasicProperties, body: bytes) -> None:
        deliveries.put((method, body))

    completed(lambda done: channel.basic_consume(queue, on_message, callback=done))
    handled = 0
    while handled < count:
        try:
            method, body = deliveries.get(timeout=idle)
        except gevent.queue.Empty:
            print(f"no message for {idle} s, giving up")
            break
        print(f"received {body.decode()!r}")
        channel.basic_ack(method.delivery_tag)
        handled += 1
    return handled


def other_work() -> None:
    """Unrelated work in its own greenlet, running while the consumer waits."""
    for tick in range(1, 4):
        gevent.sleep(0.01)
        print(f"other greenlet: tick {tick}")


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.gevent")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    idle = float(os.environ.get("EXAMPLE_SECONDS", "10"))
    side_job = gevent.spawn(other_work)

    connection, closed = connect(pika.URLParameters(broker_url()))
    print("connected")
    channel: Channel = completed(lambda done: connection.channel(on_open_callback=done))
    completed(lambda done: channel.queue_declare(queue, auto_delete=True, callback=done))
    for number in range(1, count + 1):
        channel.basic_publish("", queue, f"message {number}")
    print(f"published {count} messages to {queue!r}")

    handled = consume(channel, queue, count, idle)
    connection.close()
    print(f"connection closed: {closed.get(timeout=TIMEOUT)!r}")
    side_job.join(timeout=TIMEOUT)
    print(f"done: {handled} of {count} messages consumed")


if __name__ == "__main__":
    main()
