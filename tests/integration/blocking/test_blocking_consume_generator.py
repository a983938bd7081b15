"""The consume() generator: laziness, inactivity, resumption, cancel and broker cancel."""

from __future__ import annotations

import time

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection


def _publish(channel: BlockingChannel, queue: str, *bodies: bytes) -> None:
    with channel.connection.channel() as publisher:
        publisher.confirm_delivery()
        for body in bodies:
            publisher.basic_publish("", queue, body)


def test_messages_are_yielded_and_nothing_happens_before_next(
    channel: BlockingChannel, queue: str
) -> None:
    _publish(channel, queue, b"1", b"2")
    generator = channel.consume(queue)
    assert channel.consumer_tags == []  # lazy
    method, properties, body = next(generator)
    assert isinstance(method, spec.Basic.Deliver) and body == b"1"
    assert isinstance(properties, spec.BasicProperties)
    channel.basic_ack(method.delivery_tag)
    assert len(channel.consumer_tags) == 1
    assert next(generator)[2] == b"2"


def test_inactivity_timeout_yields_none_triples_and_keeps_going(
    channel: BlockingChannel, queue: str
) -> None:
    generator = channel.consume(queue, auto_ack=True, inactivity_timeout=0.1)
    started = time.monotonic()
    assert next(generator) == (None, None, None)
    assert time.monotonic() - started >= 0.09
    assert next(generator) == (None, None, None)
    _publish(channel, queue, b"late")
    message = next(generator)
    while message == (None, None, None):
        message = next(generator)
    assert message[2] == b"late"


def test_a_second_call_with_the_same_params_resumes_the_consumer(
    channel: BlockingChannel, queue: str
) -> None:
    _publish(channel, queue, b"1", b"2", b"3")
    for _method, _properties, body in channel.consume(queue, auto_ack=True):
        assert body == b"1"
        break
    tags = channel.consumer_tags
    resumed = channel.consume(queue, auto_ack=True)
    assert [next(resumed)[2], next(resumed)[2]] == [b"2", b"3"]
    assert channel.consumer_tags == tags
    with pytest.raises(ValueError, match="Consume with different params not allowed"):
        next(channel.consume(queue, auto_ack=False))


def test_get_waiting_message_count_and_cancel_requeues(
    channel: BlockingChannel, queue: str
) -> None:
    assert channel.get_waiting_message_count() == 0
    _publish(channel, queue, b"1", b"2", b"3")
    generator = channel.consume(queue, inactivity_timeout=5)
    method, _, body = next(generator)
    assert body == b"1"
    while channel.get_waiting_message_count() < 2:
        channel.connection.process_data_events(time_limit=1)
    assert channel.get_waiting_message_count() == 2
    channel.basic_ack(method.delivery_tag)
    assert channel.cancel() == 0
    assert channel.consumer_tags == [] and channel.get_waiting_message_count() == 0
    with pytest.raises(StopIteration):
        next(generator)
    # The two buffered messages went back to the queue.
    assert sorted(channel.basic_get(queue, auto_ack=True)[2] for _ in range(2)) == [b"2", b"3"]


def test_cancel_without_a_generator_returns_zero(channel: BlockingChannel) -> None:
    assert channel.cancel() == 0


def test_generator_ends_when_the_broker_cancels(
    connection: BlockingConnection, channel: BlockingChannel, queue: str
) -> None:
    _publish(channel, queue, b"only")
    generator = channel.consume(queue, auto_ack=True)
    assert next(generator)[2] == b"only"
    with connection.channel() as other:
        other.queue_delete(queue)
    with pytest.raises(StopIteration):
        next(generator)
    assert channel.consumer_tags == [] and channel.is_open


def test_stop_consuming_also_cancels_the_generator(channel: BlockingChannel, queue: str) -> None:
    generator = channel.consume(queue, inactivity_timeout=0.01)
    assert next(generator) == (None, None, None)
    channel.stop_consuming()
    assert channel.consumer_tags == []
    assert list(generator) == []


def test_consumer_tag_for_the_generator(channel: BlockingChannel, queue: str) -> None:
    generator = channel.consume(queue, inactivity_timeout=0.01, consumer_tag="gen-tag")
    next(generator)
    assert channel.consumer_tags == ["gen-tag"]


def test_broker_channel_error_propagates_from_the_generator(
    connection: BlockingConnection,
) -> None:
    channel = connection.channel()
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        next(channel.consume("no-such-queue-for-the-generator"))
    assert info.value.args[0] == 404


def test_channel_closed_by_broker_while_iterating(
    connection: BlockingConnection, queue: str
) -> None:
    channel = connection.channel()
    generator = channel.consume(queue, inactivity_timeout=0.01)
    assert next(generator) == (None, None, None)
    channel.basic_ack(999)  # unknown delivery tag: the broker closes the channel (406)
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        while True:
            next(generator)
    assert info.value.args[0] == 406
    with pytest.raises(StopIteration):
        next(generator)
