"""Publish persistent messages to a durable queue with BlockingConnection.

A producer in its simplest useful form: declare the queue it feeds (declaring
is idempotent, so producer and consumer can both do it), then publish each
message as persistent so it survives a broker restart. Run
blocking_consume.py afterwards to read them.

Usage: python examples/blocking_publish.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.tasks"), EXAMPLE_MESSAGES (default 5).
"""

from __future__ import annotations

import os
import sys

import pika

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.tasks")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    # The with-block closes the connection (and its channels) even on error.
    with pika.BlockingConnection(pika.URLParameters(broker_url())) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=queue, durable=True)
        properties = pika.BasicProperties(
            content_type="text/plain",
            delivery_mode=pika.DeliveryMode.Persistent,  # written to disk by the broker
        )
        for number in range(1, count + 1):
            body = f"task {number}"
            # The default exchange ("") routes by queue name.
            channel.basic_publish(exchange="", routing_key=queue, body=body, properties=properties)
            print(f"published {body!r} to {queue!r}")
    print(f"done: {count} messages published")


if __name__ == "__main__":
    main()
