"""A Twisted consumer: TwistedProtocolConnection with Deferreds and async/await.

With Twisted, the reactor owns the socket: you connect a
TwistedProtocolConnection like any other protocol (here with a TCP endpoint,
so the host and port in the pika parameters are not used), then wait for its
``ready`` Deferred, which fires once the AMQP handshake is done. Channel methods
return Deferreds, so coroutines can await them. basic_consume gives a queue
object; each ``queue.get()`` is a Deferred for the next message.

The program publishes some messages to its own queue, consumes and acks them,
and stops when all have arrived, or when none arrives for EXAMPLE_SECONDS.

Usage: python examples/twisted_consumer.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.twisted"), EXAMPLE_MESSAGES (default 5),
             EXAMPLE_SECONDS: give up after this many idle seconds (default 10).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from twisted.internet import defer, task
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol

import pika
from pika.adapters.twisted_connection import TwistedChannel, TwistedProtocolConnection

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


async def consume(reactor: Any, channel: TwistedChannel, queue: str, count: int) -> int:
    """Handle up to ``count`` messages; stop early if none comes for EXAMPLE_SECONDS."""
    idle = float(os.environ.get("EXAMPLE_SECONDS", "10"))
    messages, consumer_tag = await channel.basic_consume(queue)
    handled = 0
    while handled < count:
        try:
            # Each message is a ReceivedMessage(channel, method, properties, body).
            message = await messages.get().addTimeout(idle, reactor)
        except defer.TimeoutError:
            print(f"no message for {idle} s, giving up")
            break
        print(f"received {message.body.decode()!r}")
        channel.basic_ack(message.method.delivery_tag)
        handled += 1
    await channel.basic_cancel(consumer_tag)
    return handled


async def main(reactor: Any) -> None:
    params = pika.URLParameters(broker_url())
    queue = os.environ.get("EXAMPLE_QUEUE", "example.twisted")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "5"))

    endpoint = HostnameEndpoint(reactor, params.host, params.port, timeout=10)
    protocol = await connectProtocol(endpoint, TwistedProtocolConnection(params))
    connection = await protocol.ready  # fires once the AMQP handshake has completed
    print("connected")
    channel = await connection.channel()
    await channel.queue_declare(queue, auto_delete=True)
    await channel.basic_qos(prefetch_count=10)
    for number in range(1, count + 1):
        await channel.basic_publish("", queue, f"message {number}")
    print(f"published {count} messages to {queue!r}")

    handled = await consume(reactor, channel, queue, count)
    reason = await connection.close()  # the `closed` Deferred: fires with the reason
    print(f"connection closed: {reason.__class__.__name__}")
    print(f"done: {handled} of {count} messages consumed")


if __name__ == "__main__":
    # react() runs the reactor until main() finishes, then exits the process.
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor)))
