"""Fast reliable publishing: SelectConnection with a window of outstanding confirms.

Waiting for each confirm (confirms_blocking.py) costs a round trip per
message. Here the publisher keeps up to WINDOW messages unconfirmed at once:
it publishes until the window is full, and every Basic.Ack (which may confirm
several messages at once when ``multiple`` is set) frees room for more. Tags
still in ``outstanding`` when the connection dies are the messages to resend.

The flow is all callbacks on one thread: open connection -> open channel ->
enable confirms -> declare queue -> publish/confirm until done -> close.

Usage: python examples/confirms_async.py [AMQP_URL]
Environment: AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
             EXAMPLE_QUEUE (default "example.fast"), EXAMPLE_MESSAGES (default 1000),
             EXAMPLE_SECONDS: give up after this long (default 10).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pika
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"
WINDOW = 50  # most unconfirmed messages allowed at any moment


def broker_url() -> str:
    """The broker to use: first argument, else $AMQP_URL, else a local broker."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMQP_URL", DEFAULT_URL)


class WindowedPublisher:
    """Publishes ``total`` messages, never more than WINDOW of them unconfirmed."""

    def __init__(self, url: str, queue: str, total: int) -> None:
        self.queue = queue
        self.total = total
        self.next_tag = 1  # confirms number messages 1, 2, 3, ... per channel
        self.outstanding: set[int] = set()
        self.acked = 0
        self.nacked = 0
        self.peak = 0
        self.channel: Channel | None = None
        self.connection = pika.SelectConnection(
            pika.URLParameters(url),
            on_open_callback=self.on_connection_open,
            on_open_error_callback=self.on_connection_error,
            on_close_callback=self.on_connection_closed,
        )

    # -- set-up, one step per callback --------------------------------------------------

    def on_connection_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self.on_channel_open)

    def on_channel_open(self, channel: Channel) -> None:
        self.channel = channel
        channel.confirm_delivery(self.on_confirm, callback=self.on_confirms_enabled)

    def on_confirms_enabled(self, _: object) -> None:
        assert self.channel is not None
        self.channel.queue_declare(self.queue, callback=self.on_queue_ready)

    def on_queue_ready(self, _: object) -> None:
        print(f"publishing {self.total} messages to {self.queue!r}, window {WINDOW}")
        self.fill_window()

    # -- publishing and confirms --------------------------------------------------------

    def fill_window(self) -> None:
        assert self.channel is not None
        while len(self.outstanding) < WINDOW and self.next_tag <= self.total:
            self.channel.basic_publish("", self.queue, f"message {self.next_tag}")
            self.outstanding.add(self.next_tag)
            self.next_tag += 1
        self.peak = max(self.peak, len(self.outstanding))

    def on_confirm(self, frame: Method[Any]) -> None:
        method = frame.method
        assert isinstance(method, (Basic.Ack, Basic.Nack))
        # multiple=True confirms every outstanding tag up to and including this one.
        if method.multiple:
            done = {tag for tag in self.outstanding if tag <= method.delivery_tag}
        else:
            done = {method.delivery_tag}
        self.outstanding -= done
        if isinstance(method, Basic.Ack):
            self.acked += len(done)
        else:
            self.nacked += len(done)  # a real publisher would resend these
        if self.acked + self.nacked == self.total:
            self.finish()
        else:
            self.fill_window()

    def finish(self) -> None:
        print(f"all confirmed: {self.acked} acked, {self.nacked} nacked")
        assert self.channel is not None
        # This demo tidies up after itself; a real publisher would leave the queue.
        self.channel.queue_delete(self.queue, callback=lambda _: self.connection.close())

    # -- shutdown -----------------------------------------------------------------------

    def on_connection_error(self, _: object, error: BaseException) -> None:
        print(f"could not connect: {error!r}")
        self.connection.ioloop.stop()

    def on_connection_closed(self, _: object, reason: BaseException) -> None:
        print(f"connection closed: {reason!r}")
        self.connection.ioloop.stop()  # the loop does not stop by itself

    def run(self, seconds: float) -> None:
        # Bound the run so a lost broker cannot hang the demo.
        self.connection.ioloop.call_later(seconds, self.give_up)
        self.connection.ioloop.start()
        print(f"done: {self.acked} confirmed, at most {self.peak} outstanding at once")

    def give_up(self) -> None:
        print(f"gave up after the time limit with {len(self.outstanding)} unconfirmed")
        if self.connection.is_open:
            self.connection.close()
        else:
            self.connection.ioloop.stop()


def main() -> None:
    queue = os.environ.get("EXAMPLE_QUEUE", "example.fast")
    total = int(os.environ.get("EXAMPLE_MESSAGES", "1000"))
    seconds = float(os.environ.get("EXAMPLE_SECONDS", "10"))
    WindowedPublisher(broker_url(), queue, total).run(seconds)


if __name__ == "__main__":
    main()
