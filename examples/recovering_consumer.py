"""A BlockingConnection consumer that recovers by itself (automatic recovery).

Compare with async_consumer_reconnect.py, which writes its own reconnect
loop. Here one parameter does it: ``recovery=RecoveryPolicy(...)``. When the
connection is lost (broker restart, an operator closing it, a network blip,
a missed heartbeat) the library reconnects with backoff, re-opens the same
channel object, and replays what this program declared: the server-named
queue (under its new name), its binding, the prefetch setting and the
consumer with the same tag and callback. ``start_consuming()`` simply keeps
going. A recovery callback prints what happens.

Messages handled before the drop and not yet acknowledged are redelivered by
the broker; an ack for one of them after the drop is dropped with a log line
rather than sent with a stale delivery tag.

Try it: run it, publish to amq.direct with the routing key it prints, close
its connection in the management UI or restart the broker, publish again.
It stops after EXAMPLE_MESSAGES messages or EXAMPLE_SECONDS seconds.

Usage: python examples/recovering_consumer.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_ROUTING_KEY (default "example.recovering"),
             EXAMPLE_MESSAGES: stop after this many messages (default 10),
             EXAMPLE_SECONDS: stop after this long (default 30),
             EXAMPLE_CONNECTION_NAME: the name shown by the broker
             (default "example.recovering-consumer").
"""

from __future__ import annotations

import os
import sys

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.recovery import (
    Recovered,
    RecoveryAttemptFailed,
    RecoveryEvent,
    RecoveryGaveUp,
    RecoveryPolicy,
    RecoveryStarted,
)
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def on_recovery(_connection: BlockingConnection, event: RecoveryEvent) -> None:
    """Print what recovery is doing (runs while start_consuming dispatches)."""
    if isinstance(event, RecoveryStarted):
        print(f"connection lost: {type(event.error).__name__}: {event.error}; recovering")
    elif isinstance(event, RecoveryAttemptFailed):
        print(f"attempt {event.attempt} failed: {type(event.error).__name__}")
    elif isinstance(event, Recovered):
        print(f"recovered after {event.attempts} attempt(s), {event.downtime:.1f} s down")
    elif isinstance(event, RecoveryGaveUp):
        print(f"recovery gave up: {event.error}")


def main() -> None:
    routing_key = os.environ.get("EXAMPLE_ROUTING_KEY", "example.recovering")
    limit = int(os.environ.get("EXAMPLE_MESSAGES", "10"))
    seconds = float(os.environ.get("EXAMPLE_SECONDS", "30"))
    name = os.environ.get("EXAMPLE_CONNECTION_NAME", "example.recovering-consumer")
    params = pika.URLParameters(broker_url())
    params.client_properties = {"connection_name": name}
    params.recovery = RecoveryPolicy(initial_delay=0.5, max_delay=10.0)
    handled = 0

    with pika.BlockingConnection(params) as connection:
        connection.add_on_recovery_callback(on_recovery)
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, "amq.direct", routing_key)
        channel.basic_qos(prefetch_count=10)

        def on_message(
            ch: BlockingChannel, method: Basic.Deliver, _props: BasicProperties, body: bytes
        ) -> None:
            nonlocal handled
            handled += 1
            print(f"received {body.decode()!r} (delivery tag {method.delivery_tag})")
            ch.basic_ack(method.delivery_tag)
            if handled >= limit:
                ch.stop_consuming()

        channel.basic_consume(queue, on_message)
        connection.call_later(seconds, channel.stop_consuming)
        print(f"consuming: publish to amq.direct with routing key {routing_key!r}")
        channel.start_consuming()
    print(f"done: {handled} messages handled")


if __name__ == "__main__":
    main()
