"""Poll a queue with basic_get: fetch one message at a time, on demand.

basic_get suits jobs that look at a queue now and then (a cron task, an admin
tool) rather than waiting for messages: each call asks the broker for one
message and returns (None, None, None) when the queue is empty. For a steady
stream use a consumer instead (blocking_consume.py); polling costs a round trip
per message.

This program publishes a few messages, then drains the queue with basic_get,
acknowledging each one, and reports the remaining count from a passive declare.

Usage: python examples/basic_get.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.polled"), EXAMPLE_MESSAGES (default 3).
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
    queue = os.environ.get("EXAMPLE_QUEUE", "example.polled")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "3"))
    with pika.BlockingConnection(pika.URLParameters(broker_url())) as connection:
        channel = connection.channel()
        channel.queue_declare(queue=queue)
        for number in range(1, count + 1):
            channel.basic_publish("", queue, f"job {number}")
        print(f"published {count} messages to {queue!r}")

        fetched = 0
        while True:
            method, _properties, body = channel.basic_get(queue)
            if method is None:
                print("queue is empty")
                break
            fetched += 1
            # message_count is how many were left in the queue after this one.
            print(f"got {body.decode()!r}, {method.message_count} left")
            channel.basic_ack(method.delivery_tag)

        # A passive declare only checks the queue exists and reports its counts.
        left = channel.queue_declare(queue=queue, passive=True).method.message_count
    print(f"done: {fetched} fetched, {left} left in the queue")


if __name__ == "__main__":
    main()
