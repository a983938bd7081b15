"""A long-running SelectConnection consumer that survives connection loss.

Connections do get lost: the broker restarts, an operator closes the
connection, the network blips. A consumer meant to run for weeks therefore
treats every close it did not ask for as a reason to reconnect, waiting a
little longer after each failed attempt (1 s, 2 s, 4 s ... capped at 30 s) and
going back to 1 s once a connection works.

Each attempt gets a fresh SelectConnection (and IOLoop). Within one, the set-up
is a chain of callbacks: connection open -> channel open -> queue declared ->
prefetch set -> consuming. Whatever breaks the chain (connection closed,
channel closed, consumer cancelled by the broker) ends in on_connection_closed,
which stops the loop; run() then decides whether to come back.

Messages are acknowledged after they are handled; one that was being handled
when the connection died is redelivered (``redelivered=True``) after the
reconnect, so handling must tolerate duplicates.

A real consumer runs until Ctrl-C; this one also stops after EXAMPLE_MESSAGES
messages or EXAMPLE_SECONDS seconds so it can be demonstrated. Try it: run it,
publish to the queue (e.g. with blocking_publish.py), restart the broker or
close the connection in the management UI, and publish again.

Usage: python examples/async_consumer_reconnect.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.tasks"),
             EXAMPLE_MESSAGES: stop after this many messages (default 10),
             EXAMPLE_SECONDS: stop after this long (default 30),
             EXAMPLE_CONNECTION_NAME: the name shown by the broker
             (default "example.reconnecting-consumer").
"""

from __future__ import annotations

import os
import sys
import time

import pika
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
FIRST_DELAY = 1.0
MAX_DELAY = 30.0


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


class ReconnectingConsumer:
    """Consumes from one queue, reconnecting whenever the connection is lost."""

    def __init__(self, parameters: pika.URLParameters, queue: str, limit: int) -> None:
        self.parameters = parameters
        self.queue = queue
        self.limit = limit
        self.handled = 0
        self.attempt = 0
        self.delay = FIRST_DELAY
        self.stopping = False  # True once we decided to stop: closes are then expected
        self.deadline = 0.0
        self.connection: pika.SelectConnection | None = None
        self.channel: Channel | None = None

    # -- the outer loop: one iteration per connection ------------------------------------

    def run(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        while not self.stopping:
            self.attempt += 1
            self.connection = pika.SelectConnection(
                self.parameters,
                on_open_callback=self.on_connection_open,
                on_open_error_callback=self.on_connection_open_error,
                on_close_callback=self.on_connection_closed,
            )
            remaining = max(self.deadline - time.monotonic(), 0.0)
            self.connection.ioloop.call_later(remaining, self.on_time_up)
            try:
                self.connection.ioloop.start()  # returns when a close callback stops it
            except KeyboardInterrupt:
                self.stop("interrupted")
                self.connection.ioloop.start()  # let the graceful close finish
            self.connection.ioloop.close()
            if not self.stopping:
                self.wait_before_reconnecting()
        print(f"done: {self.handled} messages handled, {self.attempt} connection attempt(s)")

    def wait_before_reconnecting(self) -> None:
        delay = min(self.delay, max(self.deadline - time.monotonic(), 0.0))
        print(f"reconnecting in {delay:.1f} s")
        time.sleep(delay)  # no connection is open, so nothing needs servicing meanwhile
        self.delay = min(self.delay * 2, MAX_DELAY)
        if time.monotonic() >= self.deadline:
            self.stopping = True

    # -- connection ---------------------------------------------------------------------

    def on_connection_open(self, connection: pika.SelectConnection) -> None:
        print(f"connected (attempt #{self.attempt})")
        self.delay = FIRST_DELAY  # this one worked: start the back-off afresh next time
        connection.channel(on_open_callback=self.on_channel_open)

    def on_connection_open_error(self, connection: object, error: BaseException) -> None:
        print(f"connection attempt failed: {error!r}")
        self.stop_loop()

    def on_connection_closed(self, connection: object, reason: BaseException) -> None:
        self.channel = None
        if self.stopping:
            print("connection closed")
        else:
            print(f"connection lost: {reason!r}")
        self.stop_loop()

    def stop_loop(self) -> None:
        if self.connection is not None:
            self.connection.ioloop.stop()

    # -- channel and consumer -------------------------------------------------------------

    def on_channel_open(self, channel: Channel) -> None:
        self.channel = channel
        channel.add_on_close_callback(self.on_channel_closed)
        channel.add_on_cancel_callback(self.on_consumer_cancelled)
        channel.queue_declare(self.queue, durable=True, callback=self.on_queue_declared)

    def on_queue_declared(self, _: object) -> None:
        if self.channel is not None:
            self.channel.basic_qos(prefetch_count=10, callback=self.on_qos_set)

    def on_qos_set(self, _: object) -> None:
        if self.channel is not None:
            self.channel.basic_consume(self.queue, self.on_message)
            print(f"consuming from {self.queue!r}")

    def on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        # A channel closed by the broker (e.g. the queue was deleted): start over
        # on a fresh connection rather than patching things up.
        if self.connection is not None and self.connection.is_open and not self.stopping:
            print(f"channel closed: {reason!r}")
            self.connection.close()

    def on_consumer_cancelled(self, _: object) -> None:
        print("consumer cancelled by the broker")
        if self.channel is not None and self.channel.is_open:
            self.channel.close()  # leads to on_channel_closed, then a reconnect

    def on_message(
        self, channel: Channel, method: Basic.Deliver, _: BasicProperties, body: bytes
    ) -> None:
        print(f"received {body.decode()!r} (redelivered={method.redelivered})")
        # ... the real work goes here ...
        channel.basic_ack(method.delivery_tag)
        self.handled += 1
        if self.handled >= self.limit:
            self.stop(f"handled {self.handled} messages")

    # -- stopping -----------------------------------------------------------------------

    def on_time_up(self) -> None:
        self.stop("time limit reached")

    def stop(self, why: str) -> None:
        """Close cleanly and do not reconnect; the close callback stops the loop."""
        if self.stopping:
            return
        self.stopping = True
        print(f"stopping: {why}")
        if self.connection is not None and self.connection.is_open:
            self.connection.close()  # closes the channel, which cancels the consumer
        else:
            self.stop_loop()


def main() -> None:
    parameters = pika.URLParameters(broker_url())
    # The name makes this connection easy to spot in `rabbitmqctl list_connections`.
    name = os.environ.get("EXAMPLE_CONNECTION_NAME", "example.reconnecting-consumer")
    parameters.client_properties = {"connection_name": name}
    queue = os.environ.get("EXAMPLE_QUEUE", "example.tasks")
    limit = int(os.environ.get("EXAMPLE_MESSAGES", "10"))
    seconds = float(os.environ.get("EXAMPLE_SECONDS", "30"))
    ReconnectingConsumer(parameters, queue, limit).run(seconds)


if __name__ == "__main__":
    main()
