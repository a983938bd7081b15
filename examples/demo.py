"""A short tour of pika against a real broker.

Connects with BlockingConnection, declares a private queue, publishes a few
messages with publisher confirms (each basic_publish returns once the broker
has acknowledged it), reads them back with the consume() generator, acks them
and closes. Only the public pika 1.x API is used.

Usage: python examples/demo.py [AMQP_URL]
       (default: amqp://guest:guest@localhost:5672/%2F)
"""

from __future__ import annotations

import sys

import pika
import pika.exceptions

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
MESSAGES = 5


def publish(channel: pika.adapters.blocking_connection.BlockingChannel, queue: str) -> None:
    """Publish MESSAGES messages; with confirms on, each call waits for the broker's ack."""
    properties = pika.BasicProperties(
        content_type="text/plain", delivery_mode=pika.DeliveryMode.Transient
    )
    for number in range(1, MESSAGES + 1):
        body = f"hello #{number}".encode()
        channel.basic_publish("", queue, body, properties=properties, mandatory=True)
        print(f"published {body.decode()!r}: confirmed by the broker")


def consume(channel: pika.adapters.blocking_connection.BlockingChannel, queue: str) -> int:
    """Read the messages back with the consume() generator; return how many arrived."""
    received = 0
    for method, properties, body in channel.consume(queue, inactivity_timeout=5):
        if method is None:
            print("no message for 5 seconds, giving up")
            break
        print(
            f"received {body.decode()!r} (delivery tag {method.delivery_tag}, "
            f"content type {properties.content_type})"
        )
        channel.basic_ack(method.delivery_tag)
        received += 1
        if received == MESSAGES:
            break
    channel.cancel()
    return received


def main(url: str) -> int:
    parameters = pika.URLParameters(url)
    where = f"{parameters.host}:{parameters.port}"
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPConnectionError as exc:
        print(f"cannot connect to {where}: {exc!r}", file=sys.stderr)
        return 1
    print(f"connected to {where}")
    with connection:
        channel = connection.channel()
        channel.confirm_delivery()
        queue = channel.queue_declare(queue="", exclusive=True).method.queue
        print(f"declared queue {queue!r}")
        publish(channel, queue)
        received = consume(channel, queue)
    print(f"received {received} of {MESSAGES} messages; connection closed")
    return 0 if received == MESSAGES else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL))
