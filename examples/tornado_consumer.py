"""A Tornado consumer: TornadoConnection on Tornado's IOLoop.

TornadoConnection runs pika on a Tornado IOLoop, so a Tornado application
(web handlers, say) and its RabbitMQ consumer share one thread and one loop.
Everything is callbacks: connection open -> channel open -> queue declared ->
publish a few messages -> consume -> after the last one, close -> stop the loop.
The loop does not stop by itself when the connection closes; the close
callback stops it.

Usage: python examples/tornado_consumer.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.tornado"), EXAMPLE_MESSAGES (default 5),
             EXAMPLE_SECONDS: stop after this long (default 10).
"""

from __future__ import annotations

import os
import sys

from tornado.ioloop import IOLoop

import pika
from pika.adapters.tornado_connection import TornadoConnection
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


class TornadoConsumer:
    def __init__(self, loop: IOLoop, queue: str, count: int) -> None:
        self.loop = loop
        self.queue = queue
        self.count = count
        self.received = 0
        self.channel: Channel | None = None
        self.connection = TornadoConnection(
            pika.URLParameters(broker_url()),
            on_open_callback=self.on_open,
            on_open_error_callback=self.on_open_error,
            on_close_callback=self.on_closed,
            custom_ioloop=loop,
        )

    def on_open(self, connection: TornadoConnection) -> None:
        print("connected")
        connection.channel(on_open_callback=self.on_channel_open)

    def on_channel_open(self, channel: Channel) -> None:
        self.channel = channel
        channel.queue_declare(self.queue, auto_delete=True, callback=self.on_queue_declared)

    def on_queue_declared(self, _: object) -> None:
        assert self.channel is not None
        for number in range(1, self.count + 1):
            self.channel.basic_publish("", self.queue, f"message {number}")
        print(f"published {self.count} messages to {self.queue!r}")
        self.channel.basic_consume(self.queue, self.on_message)

    def on_message(
        self, channel: Channel, method: Basic.Deliver, _: BasicProperties, body: bytes
    ) -> None:
        print(f"received {body.decode()!r}")
        channel.basic_ack(method.delivery_tag)
        self.received += 1
        if self.received == self.count:
            self.connection.close()

    def on_open_error(self, _: object, error: BaseException) -> None:
        print(f"could not connect: {error!r}")
        self.loop.stop()

    def on_closed(self, _: object, reason: BaseException) -> None:
        print(f"connection closed: {reason!r}")
        self.loop.stop()

    def on_time_up(self) -> None:
        print("time limit reached")
        if self.connection.is_open:
            self.connection.close()
        else:
            self.loop.stop()


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.tornado")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    seconds = float(os.environ.get("EXAMPLE_SECONDS", "10"))
    loop = IOLoop.current()
    consumer = TornadoConsumer(loop, queue, count)
    timer = loop.call_later(seconds, consumer.on_time_up)
    loop.start()
    loop.remove_timeout(timer)
    print(f"done: {consumer.received} of {count} messages consumed")


if __name__ == "__main__":
    main()
