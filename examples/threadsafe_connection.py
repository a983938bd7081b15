"""One pika.Connection shared by several threads.

pika.Connection (the thread-safe adapter) runs its I/O loop on a background
thread, so any thread may call any method of the connection and of its
channels, and heartbeats keep flowing while your threads do other things.
Blocking calls (queue_declare, channel(), ...) wait for the broker's answer;
basic_publish and the acks are fire-and-forget. Consumer callbacks run on a
worker thread per channel, in delivery order, never on the I/O thread, so a
slow callback does not stall the connection.

Here PRODUCERS threads each publish some messages on one shared channel while
a consumer on a second channel counts them; the main thread waits for all of
them and closes the connection.

Usage: python examples/threadsafe_connection.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.shared"),
             EXAMPLE_MESSAGES: messages per producer (default 5).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter

import pika
from pika.adapters.thread_safe_connection import Channel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
PRODUCERS = 3
TIMEOUT = 10.0
PRINT_LOCK = threading.Lock()  # keeps lines printed by different threads apart


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


class Tally:
    """Counts deliveries per producer; sets ``complete`` once ``expected`` arrived."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.by_producer: Counter[str] = Counter()
        self.complete = threading.Event()

    def on_message(
        self, channel: Channel, method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        # Runs on the channel's consumer thread; the thread-safe channel may be used here.
        channel.basic_ack(method.delivery_tag)
        self.by_producer[str(props.app_id)] += 1
        if sum(self.by_producer.values()) == self.expected:
            self.complete.set()


def produce(channel: Channel, queue: str, count: int) -> None:
    """Publish ``count`` messages from the calling thread on a shared channel."""
    name = threading.current_thread().name
    for number in range(1, count + 1):
        props = pika.BasicProperties(app_id=name)
        channel.basic_publish("", queue, f"{name} message {number}", properties=props)
    with PRINT_LOCK:
        print(f"{name} published {count} messages")


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.shared")
    per_producer = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    # The constructor returns once the connection is open (or raises).
    with pika.Connection(pika.URLParameters(broker_url())) as connection:
        consumer_channel = connection.channel()
        consumer_channel.queue_declare(queue, auto_delete=True)
        tally = Tally(PRODUCERS * per_producer)
        consumer_channel.basic_consume(queue, tally.on_message)

        shared = connection.channel()  # one channel, used by every producer thread
        producers = [
            threading.Thread(
                target=produce, args=(shared, queue, per_producer), name=f"producer-{n}"
            )
            for n in range(1, PRODUCERS + 1)
        ]
        for thread in producers:
            thread.start()
        for thread in producers:
            thread.join(TIMEOUT)
        if not tally.complete.wait(TIMEOUT):
            print("timed out waiting for the messages")
        for producer, count in sorted(tally.by_producer.items()):
            print(f"consumer got {count} messages from {producer}")
    print(f"done: {sum(tally.by_producer.values())} of {tally.expected} messages consumed")


if __name__ == "__main__":
    main()
