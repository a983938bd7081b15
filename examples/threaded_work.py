"""Hand slow work to threads; acknowledge through add_callback_threadsafe.

A BlockingConnection must only be used from the thread that created it, and it
only services heartbeats while that thread is inside a pika call. Slow message
handling done right in the callback would starve the connection (see
heartbeats_blocked.py). The fix: the callback passes the message to a worker
pool and returns at once, so start_consuming() keeps servicing the connection;
when a worker finishes it asks the connection thread to send the ack, with
connection.add_callback_threadsafe(), the one BlockingConnection method that may
be called from any thread. The ack must go on the channel that received the
message.

prefetch_count bounds how many messages are in the pool at once.

This program publishes some messages to itself, handles them on WORKERS
threads, and stops when all are acknowledged.

Usage: python examples/threaded_work.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.threaded"), EXAMPLE_MESSAGES (default 8),
             EXAMPLE_SECONDS: stop after this long whatever happened (default 10).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
WORKERS = 4
PRINT_LOCK = threading.Lock()  # keeps lines printed by different threads apart


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


class ThreadedConsumer:
    def __init__(self, connection: pika.BlockingConnection, total: int) -> None:
        self.connection = connection
        self.total = total
        self.acked = 0
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="worker")

    def on_message(
        self, channel: BlockingChannel, method: Basic.Deliver, _: BasicProperties, body: bytes
    ) -> None:
        # Runs on the connection's thread: do nothing slow here.
        self.pool.submit(self.work, channel, method.delivery_tag, body)

    def work(self, channel: BlockingChannel, delivery_tag: int, body: bytes) -> None:
        # Runs on a worker thread: never touch the channel or connection directly.
        time.sleep(0.2)  # the slow part
        with PRINT_LOCK:
            print(f"{threading.current_thread().name} handled {body.decode()!r}")
        ack = functools.partial(self.ack, channel, delivery_tag)
        self.connection.add_callback_threadsafe(ack)

    def ack(self, channel: BlockingChannel, delivery_tag: int) -> None:
        # Runs on the connection's thread again, inside start_consuming().
        channel.basic_ack(delivery_tag)
        self.acked += 1
        if self.acked == self.total:
            channel.stop_consuming()


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.threaded")
    total = int(os.environ.get("EXAMPLE_MESSAGES", "8"))
    seconds = float(os.environ.get("EXAMPLE_SECONDS", "10"))
    with pika.BlockingConnection(pika.URLParameters(broker_url())) as connection:
        channel = connection.channel()
        channel.queue_declare(queue, auto_delete=True)
        for number in range(1, total + 1):
            channel.basic_publish("", queue, f"job {number}")
        consumer = ThreadedConsumer(connection, total)
        channel.basic_qos(prefetch_count=WORKERS)  # no more unacked messages than workers
        channel.basic_consume(queue, consumer.on_message)
        connection.call_later(seconds, channel.stop_consuming)  # a bound for the demo
        print(f"main thread {threading.current_thread().name} consuming from {queue!r}")
        channel.start_consuming()
        consumer.pool.shutdown()
    print(f"done: {consumer.acked} of {total} messages handled and acknowledged")


if __name__ == "__main__":
    main()
