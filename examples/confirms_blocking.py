"""Publisher confirms with BlockingConnection: know that each message arrived.

After channel.confirm_delivery(), basic_publish waits until the broker has
taken responsibility for the message (for a durable queue and a persistent
message: written to disk) and raises if it could not:

- pika.exceptions.UnroutableError: published with mandatory=True but no queue
  was bound to take it (the broker returned it);
- pika.exceptions.NackError: the broker refused it (e.g. a full queue with
  overflow=reject-publish, as demonstrated below).

Waiting for each confirm is simple and safe but slow (one round trip per
message); see confirms_async.py for a window of outstanding confirms.

Usage: python examples/confirms_blocking.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.confirmed"), EXAMPLE_MESSAGES (default 3).
"""

from __future__ import annotations

import os
import sys

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def publish(channel: BlockingChannel, routing_key: str, body: str) -> bool:
    """Publish one message and report the broker's verdict; True if confirmed."""
    persistent = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
    try:
        channel.basic_publish("", routing_key, body, properties=persistent, mandatory=True)
    except pika.exceptions.UnroutableError as exc:
        # exc.messages holds ReturnedMessage objects (method, properties, body).
        returned = exc.messages[0]
        print(f"{body!r}: returned as unroutable ({returned.method.reply_text})")
        return False
    except pika.exceptions.NackError:
        print(f"{body!r}: rejected by the broker (nack)")
        return False
    print(f"{body!r}: confirmed")
    return True


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.confirmed")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "3"))
    with pika.BlockingConnection(pika.URLParameters(broker_url())) as connection:
        channel = connection.channel()
        channel.confirm_delivery()  # from now on basic_publish waits for the broker's ack
        # A queue that holds at most `count` messages and refuses (nacks) any more.
        limits = {"x-max-length": count, "x-overflow": "reject-publish"}
        channel.queue_declare(queue=queue, durable=True, arguments=limits)

        confirmed = sum(publish(channel, queue, f"order {n}") for n in range(1, count + 1))
        publish(channel, queue, "one too many")  # the queue is full: nacked
        publish(channel, queue + ".nowhere", "lost order")  # no such queue: returned
        channel.queue_delete(queue)
    print(f"done: {confirmed} of {count} messages confirmed")


if __name__ == "__main__":
    main()
