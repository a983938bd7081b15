"""Request/reply (RPC) over RabbitMQ with direct reply-to.

The client sends each request with reply_to="amq.rabbitmq.reply-to" and a
correlation id; the server publishes its answer to whatever reply_to says. The
pseudo-queue amq.rabbitmq.reply-to needs no declaring: the broker delivers
replies straight to the client's consumer, so there is no reply queue to create
or clean up. Two rules apply: the client must consume from it with
auto_ack=True, and must start that consumer *before* publishing, on the same
channel it publishes from.

Server and client run in one program here (the server on a thread with its own
connection: a BlockingConnection belongs to one thread); in production they are
separate processes and the code is the same.

Usage: python examples/rpc_direct_reply_to.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE: the server's request queue (default "example.rpc"),
             EXAMPLE_MESSAGES: how many requests to make (default 5).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
REPLY_TO = "amq.rabbitmq.reply-to"
TIMEOUT = 5.0  # seconds a client waits for one reply; also bounds the server


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


# -- server ---------------------------------------------------------------------------


def serve(url: str, queue: str, requests: int, ready: threading.Event) -> None:
    """Answer ``requests`` requests from ``queue``, then return."""
    served = 0

    def on_request(
        channel: BlockingChannel, method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        nonlocal served
        n = int(body)
        print(f"server: fib({n}) requested")
        reply = pika.BasicProperties(correlation_id=props.correlation_id)
        # Publish to the default exchange with the reply_to value as routing key.
        channel.basic_publish("", props.reply_to, str(fibonacci(n)), properties=reply)
        channel.basic_ack(method.delivery_tag)
        served += 1
        if served == requests:
            channel.stop_consuming()

    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.queue_declare(queue, auto_delete=True)  # goes away with its last consumer
        channel.basic_qos(prefetch_count=1)
        channel.basic_consume(queue, on_request)
        connection.call_later(TIMEOUT * requests, channel.stop_consuming)  # never hang
        ready.set()
        channel.start_consuming()
    print(f"server: stopped after {served} requests")


# -- client ---------------------------------------------------------------------------


class FibonacciClient:
    """Sends requests and waits for the matching reply."""

    def __init__(self, connection: pika.BlockingConnection, queue: str) -> None:
        self.connection = connection
        self.queue = queue
        self.channel = connection.channel()
        self.replies: dict[str, bytes] = {}
        # Consume replies first, with auto_ack: direct reply-to requires both.
        self.channel.basic_consume(REPLY_TO, self.on_reply, auto_ack=True)

    def on_reply(
        self, _: BlockingChannel, __: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        if props.correlation_id is not None:
            self.replies[props.correlation_id] = body

    def call(self, n: int) -> int:
        correlation_id = uuid.uuid4().hex
        props = pika.BasicProperties(reply_to=REPLY_TO, correlation_id=correlation_id)
        self.channel.basic_publish("", self.queue, str(n), properties=props)
        deadline = time.monotonic() + TIMEOUT
        # process_data_events() dispatches on_reply; loop until our answer is in.
        while correlation_id not in self.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no reply to fib({n}) within {TIMEOUT} s")
            self.connection.process_data_events(time_limit=remaining)
        return int(self.replies.pop(correlation_id))


def main() -> None:
    url = broker_url()
    queue = os.environ.get("EXAMPLE_QUEUE", "example.rpc")
    requests = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    ready = threading.Event()
    server = threading.Thread(target=serve, args=(url, queue, requests, ready), daemon=True)
    server.start()
    if not ready.wait(TIMEOUT):
        sys.exit("server did not start")

    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        client = FibonacciClient(connection, queue)
        for n in range(10, 10 + requests):
            print(f"client: fib({n}) = {client.call(n)}")
    server.join(TIMEOUT)
    print(f"done: {requests} calls answered")


if __name__ == "__main__":
    main()
