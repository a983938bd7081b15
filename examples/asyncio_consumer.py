"""An asyncio consumer: AsyncioConnection driven from coroutines.

pika's async adapters speak callbacks, not coroutines. A few lines bridge the
two: each pika call that takes a completion callback gets a Future's
set_result, so the coroutine can simply ``await`` it; deliveries go into an
asyncio.Queue that the consuming coroutine reads. Created inside a running loop,
AsyncioConnection uses that loop, so everything runs on one thread under
asyncio.run().

The program publishes some messages to its own queue, consumes and acks them,
and closes once all have arrived.

Usage: python examples/asyncio_consumer.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.asyncio"), EXAMPLE_MESSAGES (default 5),
             EXAMPLE_SECONDS: give up after this many idle seconds (default 10).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"

Delivery = tuple[Basic.Deliver, BasicProperties, bytes]


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


async def completed(start: Callable[[Callable[[Any], None]], Any]) -> Any:
    """Run a pika call that reports through a callback; return what it reports."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    start(future.set_result)
    return await future


async def connect(params: pika.connection.Parameters) -> tuple[AsyncioConnection, asyncio.Event]:
    """Open a connection; the returned event is set when it closes."""
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    closed = asyncio.Event()

    def on_open_error(_: object, error: BaseException) -> None:
        opened.set_exception(error)

    def on_close(_: object, reason: BaseException) -> None:
        print(f"connection closed: {reason!r}")
        closed.set()

    connection = AsyncioConnection(
        params,
        on_open_callback=lambda _: opened.set_result(None),
        on_open_error_callback=on_open_error,
        on_close_callback=on_close,
    )
    await opened
    return connection, closed


async def consume(channel: Channel, queue: str, count: int, idle: float) -> int:
    """Consume until ``count`` messages were handled or none came for ``idle`` seconds."""
    deliveries: asyncio.Queue[Delivery] = asyncio.Queue()

    def on_message(_: Channel, method: Basic.Deliver, props: BasicProperties, body: bytes) -> None:
        deliveries.put_nowait((method, props, body))  # runs on the loop: no locking needed

    await completed(lambda done: channel.basic_consume(queue, on_message, callback=done))
    handled = 0
    while handled < count:
        try:
            method, _, body = await asyncio.wait_for(deliveries.get(), idle)
        except asyncio.TimeoutError:
            print(f"no message for {idle} s, giving up")
            break
        print(f"received {body.decode()!r}")
        await asyncio.sleep(0)  # a real handler would await its I/O here
        channel.basic_ack(method.delivery_tag)
        handled += 1
    return handled


async def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.asyncio")
    count = int(os.environ.get("EXAMPLE_MESSAGES", "5"))
    seconds = float(os.environ.get("EXAMPLE_SECONDS", "10"))

    connection, closed = await connect(pika.URLParameters(broker_url()))
    print("connected")
    channel: Channel = await completed(lambda done: connection.channel(on_open_callback=done))
    await completed(lambda done: channel.queue_declare(queue, auto_delete=True, callback=done))
    await completed(lambda done: channel.basic_qos(prefetch_count=10, callback=done))
    for number in range(1, count + 1):
        channel.basic_publish("", queue, f"message {number}")
    print(f"published {count} messages to {queue!r}")

    handled = await consume(channel, queue, count, seconds)
    connection.close()
    await closed.wait()
    print(f"done: {handled} of {count} messages consumed")


if __name__ == "__main__":
    asyncio.run(main())
