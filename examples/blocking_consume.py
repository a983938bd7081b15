"""Consume from a queue with BlockingConnection, basic_consume and start_consuming.

The classic worker: a prefetch limit so the broker never sends more than a few
unacknowledged messages at once, a callback that handles each message and
acknowledges it only after the work is done, and stop_consuming() to leave the
loop. A real worker would consume forever; this one stops after a number of
messages, or after a few seconds without any, so it can be run as a demo.
Run blocking_publish.py first to give it something to do.

Usage: python examples/blocking_consume.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.tasks"), EXAMPLE_MESSAGES (default 5),
             EXAMPLE_SECONDS: idle seconds before giving up (default 5).
"""

from __future__ import annotations

import os
import sys

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


class Worker:
    """Handles messages until it has seen ``limit`` of them or the queue stays idle."""

    def __init__(self, connection: pika.BlockingConnection, limit: int, idle: float) -> None:
        self.connection = connection
        self.limit = limit
        self.idle = idle
        self.handled = 0
        self.channel: BlockingChannel | None = None
        self.idle_timer: object | None = None

    def on_message(
        self, channel: BlockingChannel, method: Basic.Deliver, _: BasicProperties, body: bytes
    ) -> None:
        print(f"handling {body.decode()!r} (delivery tag {method.delivery_tag})")
        # ... the real work goes here ...
        channel.basic_ack(delivery_tag=method.delivery_tag)  # only once the work is done
        self.handled += 1
        if self.handled >= self.limit:
            channel.stop_consuming()  # start_consuming() returns once the consumer is gone
        else:
            self.restart_idle_timer()

    def on_idle(self) -> None:
        print(f"no message for {self.idle} s, stopping")
        if self.channel is not None:
            self.channel.stop_consuming()

    def restart_idle_timer(self) -> None:
        # Timers run inside start_consuming(), on this thread, like message callbacks.
        if self.idle_timer is not None:
            self.connection.remove_timeout(self.idle_timer)
        self.idle_timer = self.connection.call_later(self.idle, self.on_idle)

    def run(self, queue: str) -> None:
        self.channel = self.connection.channel()
        self.channel.queue_declare(queue=queue, durable=True)
        self.channel.basic_qos(prefetch_count=2)  # at most 2 unacked messages in flight
        self.channel.basic_consume(queue=queue, on_message_callback=self.on_message)
        print(f"waiting for messages on {queue!r}")
        self.restart_idle_timer()
        self.channel.start_consuming()


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.tasks")
    limit = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    idle = float(os.environ.get("EXAMPLE_SECONDS", "5"))
    with pika.BlockingConnection(pika.URLParameters(broker_url())) as connection:
        worker = Worker(connection, limit, idle)
        worker.run(queue)
    print(f"done: {worker.handled} messages handled")


if __name__ == "__main__":
    main()
