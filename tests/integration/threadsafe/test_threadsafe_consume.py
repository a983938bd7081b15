"""The consume() generator of the thread-safe Channel."""

from __future__ import annotations

import pytest
from threadsafe_support import WAIT, run_in_thread, wait_until

from pika import exceptions, spec
from pika.adapters.thread_safe_connection import Channel, Connection


def test_consume_is_lazy_and_yields_messages_then_inactivity(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    stream = channel.consume(queue, inactivity_timeout=0.2)
    assert channel.consumer_tags == []  # nothing happens before the first next()
    channel.basic_publish("", queue, b"first")
    method, properties, body = next(stream)
    assert isinstance(method, spec.Basic.Deliver)
    assert isinstance(properties, spec.BasicProperties)
    assert body == b"first"
    assert len(channel.consumer_tags) == 1
    channel.basic_ack(method.delivery_tag)
    assert next(stream) == (None, None, None)
    stream.close()
    assert channel.consumer_tags == []


def test_closing_the_generator_requeues_what_it_buffered(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    for index in range(5):
        channel.basic_publish("", queue, str(index))
    stream = channel.consume(queue)
    method, _props, body = next(stream)
    assert body == b"0"
    channel.basic_ack(method.delivery_tag)
    stream.close()  # the other four were buffered unread: rejected with requeue
    other = channel.connection.channel()
    wait_until(
        lambda: other.queue_declare(queue, passive=True).method.message_count == 4,
        what="the four buffered messages to be requeued",
    )


def test_broker_cancel_ends_the_generator(connection: Connection, queue: str) -> None:
    channel = connection.channel()
    channel.queue_declare(queue)
    thread, outcome = run_in_thread(lambda: list(channel.consume(queue)))
    wait_until(lambda: bool(channel.consumer_tags), what="the consumer to start")
    connection.channel().queue_delete(queue)
    thread.join(WAIT)
    assert not thread.is_alive()
    assert outcome.error is None
    assert outcome.value == []


def test_channel_closed_by_broker_raises_from_the_generator(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    stream = channel.consume(queue, inactivity_timeout=0.1)
    assert next(stream) == (None, None, None)
    channel.basic_publish("no-such-exchange-here", "x", b"closes the channel")
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        for _ in range(int(WAIT / 0.1)):
            next(stream)
    assert info.value.reply_code == 404


def test_channel_closed_by_the_client_ends_the_generator(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    thread, outcome = run_in_thread(lambda: list(channel.consume(queue)))
    wait_until(lambda: bool(channel.consumer_tags), what="the consumer to start")
    channel.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert outcome.error is None and outcome.value == []
