"""Mandatory publishing: find out when a message reaches no queue.

By default the broker silently drops a message that no queue is bound to
receive. Published with mandatory=True, it is sent back instead, as a
Basic.Return with the reason, and arrives in the channel's return callback.

Here a direct exchange routes alerts by severity, but only "disk" alerts have
a queue bound. The "cpu" alert comes back, and the return callback reports it.
With BlockingConnection, callbacks run only inside calls that dispatch events,
such as process_data_events(); with publisher confirms turned on, the publish
itself would raise UnroutableError instead (see confirms_blocking.py).

Usage: python examples/mandatory_returns.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.disk-alerts"),
             EXAMPLE_EXCHANGE (default "example.alerts").
"""

from __future__ import annotations

import os
import sys

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


def on_return(
    _: BlockingChannel, method: Basic.Return, properties: BasicProperties, body: bytes
) -> None:
    # reply_code 312 / NO_ROUTE: no binding matched the routing key.
    print(
        f"returned {body.decode()!r}: {method.reply_code} {method.reply_text} "
        f"(exchange {method.exchange!r}, routing key {method.routing_key!r}, "
        f"message id {properties.message_id})"
    )


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.disk-alerts")
    exchange = os.environ.get("EXAMPLE_EXCHANGE", "example.alerts")
    with pika.BlockingConnection(pika.URLParameters(broker_url())) as connection:
        channel = connection.channel()
        channel.add_on_return_callback(on_return)
        # auto_delete exchange + exclusive queue: both vanish when this program ends.
        channel.exchange_declare(exchange, exchange_type="direct", auto_delete=True)
        channel.queue_declare(queue, exclusive=True)
        channel.queue_bind(queue, exchange, routing_key="disk")

        for number, severity in enumerate(("disk", "cpu"), start=1):
            properties = pika.BasicProperties(message_id=f"alert-{number}")
            body = f"{severity} alert"
            channel.basic_publish(exchange, severity, body, properties=properties, mandatory=True)
            print(f"published {body!r} with routing key {severity!r}")

        # The broker handles a channel's commands in order, so once this round trip
        # completes any Basic.Return for the publishes above has arrived too.
        channel.queue_declare(queue, passive=True)
        connection.process_data_events(time_limit=0)  # runs on_return for it

        # The routable alert did reach the queue:
        for _, _, body in channel.consume(queue, auto_ack=True, inactivity_timeout=5):
            if body is None:  # inactivity_timeout passed
                print("nothing delivered")
            else:
                print(f"delivered to {queue!r}: {body.decode()!r}")
            break
        channel.cancel()
    print("done")


if __name__ == "__main__":
    main()
