"""Read messages with the consume() generator instead of a callback.

channel.consume() turns a consumer into a plain for-loop: it yields
(method, properties, body) for each message, and (None, None, None) whenever
inactivity_timeout seconds pass without one, which is the place to do periodic
work or decide to stop. channel.cancel() ends the consumer; any messages it had
buffered but not yielded are returned to the queue.

This program first publishes a few messages so it has something to read.

Usage: python examples/consume_generator.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.generator"), EXAMPLE_MESSAGES (default 5).
"""

from __future__ import annotations

import os
import sys

import pika

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
IDLE_SECONDS = 1.0


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.generator")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    with pika.BlockingConnection(pika.URLParameters(broker_url())) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=queue)
        for number in range(1, count + 1):
            channel.basic_publish("", queue, f"event {number}")
        print(f"published {count} messages to {queue!r}")

        received = 0
        # The consumer is created on the first iteration, not by the call itself.
        for method, _properties, body in channel.consume(queue, inactivity_timeout=IDLE_SECONDS):
            if method is None:  # nothing arrived for IDLE_SECONDS: the queue is drained
                print(f"idle for {IDLE_SECONDS} s, stopping")
                break
            received += 1
            print(f"got {body.decode()!r} (redelivered={method.redelivered})")
            channel.basic_ack(method.delivery_tag)
        channel.cancel()  # unread messages, if any, go back to the queue
    print(f"done: {received} of {count} messages read")


if __name__ == "__main__":
    main()
