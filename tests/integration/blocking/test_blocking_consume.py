"""basic_consume, start_consuming and the deferred-dispatch model (API.md §16.1)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

Delivery = tuple[BlockingChannel, spec.Basic.Deliver, spec.BasicProperties, bytes]


def _publish(channel: BlockingChannel, queue: str, *bodies: bytes) -> None:
    """Publish with confirms on a separate channel, so the messages are queued on return."""
    with channel.connection.channel() as publisher:
        publisher.confirm_delivery()
        for body in bodies:
            publisher.basic_publish("", queue, body)


def _wait_until_all_received(channel: BlockingChannel, queue: str) -> None:
    """Return once every ready message of ``queue`` has reached this client.

    The broker may answer a passive declare before writing deliveries it already
    dispatched, so one more round trip follows the declare that shows 0 ready.
    """
    while channel.queue_declare(queue, passive=True).method.message_count:
        pass  # each pass is a round trip; the test timeout bounds the loop
    channel.basic_qos(prefetch_count=0)


def test_start_consuming_returns_at_once_without_consumers(channel: BlockingChannel) -> None:
    channel.start_consuming()


def test_callback_gets_channel_method_properties_and_bytes(
    channel: BlockingChannel, queue: str
) -> None:
    got: list[Delivery] = []

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        got.append((ch, method, properties, body))
        ch.basic_ack(method.delivery_tag)
        ch.stop_consuming()

    _publish(channel, queue, b"")
    tag = channel.basic_consume(queue, on_message)
    assert re.fullmatch(r"ctag1\.[0-9a-f]{32}", tag)
    assert channel.consumer_tags == [tag]
    channel.start_consuming()
    [(ch, method, properties, body)] = got
    assert ch is channel
    assert isinstance(method, spec.Basic.Deliver) and method.consumer_tag == tag
    assert (method.delivery_tag, method.redelivered, method.routing_key) == (1, False, queue)
    assert isinstance(properties, spec.BasicProperties)
    assert body == b"" and type(body) is bytes
    assert channel.consumer_tags == []


def test_callbacks_run_only_inside_dispatching_calls(channel: BlockingChannel, queue: str) -> None:
    got: list[bytes] = []
    channel.basic_consume(queue, lambda ch, m, p, body: got.append(body), auto_ack=True)
    _publish(channel, queue, b"a", b"b")
    channel.queue_declare(queue, passive=True)  # does I/O; deliveries arrive meanwhile
    channel.basic_get(queue)
    assert got == []
    while len(got) < 2:
        channel.connection.process_data_events(time_limit=5)
    assert got == [b"a", b"b"]


def test_legacy_consume_form_and_no_ack(channel: BlockingChannel, queue: str) -> None:
    got: list[bytes] = []

    def handle_delivery(ch: BlockingChannel, method: Any, header: Any, body: bytes) -> None:
        got.append(body)
        ch.stop_consuming()

    _publish(channel, queue, b"legacy")
    channel.basic_consume(handle_delivery, queue=queue, no_ack=True)
    channel.start_consuming()
    assert got == [b"legacy"]
    assert channel.queue_declare(queue, passive=True).method.message_count == 0


def test_consumer_tag_given_and_duplicate(channel: BlockingChannel, queue: str) -> None:
    assert channel.basic_consume(queue, lambda *a: None, consumer_tag="mine") == "mine"
    with pytest.raises(exceptions.DuplicateConsumerTag):
        channel.basic_consume(queue, lambda *a: None, consumer_tag="mine")
    with pytest.raises(TypeError):
        channel.basic_consume(queue, "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        channel.basic_consume(None, lambda *a: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        channel.basic_consume(queue, lambda *a: None, callback=lambda frame: None)
    assert channel.consumer_tags == ["mine"]


def test_consume_from_missing_queue_raises_404(connection: BlockingConnection) -> None:
    channel = connection.channel()
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.basic_consume("no-such-queue-for-blocking", lambda *a: None)
    assert info.value.args[0] == 404
    assert channel.consumer_tags == []
    assert connection.is_open


def test_exception_in_callback_propagates_and_consuming_resumes(
    channel: BlockingChannel, queue: str
) -> None:
    seen: list[bytes] = []

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        seen.append(body)
        ch.basic_ack(method.delivery_tag)
        if body == b"bad":
            raise ZeroDivisionError("in callback")
        if len(seen) == 3:
            ch.stop_consuming()

    _publish(channel, queue, b"ok", b"bad", b"after")
    tag = channel.basic_consume(queue, on_message)
    with pytest.raises(ZeroDivisionError):
        channel.start_consuming()
    assert seen == [b"ok", b"bad"]
    assert channel.consumer_tags == [tag] and channel.is_open
    channel.start_consuming()
    assert seen == [b"ok", b"bad", b"after"]


def test_start_consuming_from_a_callback_raises_reentrancy_error(
    channel: BlockingChannel, queue: str
) -> None:
    errors: list[BaseException] = []

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        try:
            ch.start_consuming()
        except exceptions.ReentrancyError as exc:
            errors.append(exc)
        ch.stop_consuming()

    _publish(channel, queue, b"x")
    channel.basic_consume(queue, on_message, auto_ack=True)
    channel.start_consuming()
    assert len(errors) == 1


def test_nested_process_data_events_does_io_but_does_not_dispatch(
    channel: BlockingChannel, queue: str
) -> None:
    order: list[str] = []
    connection = channel.connection

    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        name = body.decode()
        order.append(f"start {name}")
        if name == "1":
            connection.call_later(0, lambda: order.append("timer"))
        connection.process_data_events(time_limit=0.05)
        connection.sleep(0.01)
        ch.basic_ack(method.delivery_tag)  # I/O inside a callback works
        order.append(f"end {name}")
        if name == "2":
            ch.stop_consuming()

    _publish(channel, queue, b"1", b"2")
    channel.basic_consume(queue, on_message)
    _wait_until_all_received(channel, queue)
    channel.start_consuming()
    assert order[:4] == ["start 1", "end 1", "start 2", "end 2"]
    connection.process_data_events()
    assert order[4:] == ["timer"]


def test_stop_consuming_from_a_callback_with_several_consumers(
    channel: BlockingChannel, queue: str
) -> None:
    got: list[str] = []
    channel.basic_consume(queue, lambda ch, m, p, b: got.append("first"), auto_ack=True)

    def second(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        got.append("second")
        ch.stop_consuming()

    channel.basic_consume(queue, second, auto_ack=True)
    _publish(channel, queue, b"1", b"2", b"3", b"4")
    channel.start_consuming()
    assert "second" in got and channel.consumer_tags == []


def test_broker_cancel_when_the_queue_is_deleted(
    connection: BlockingConnection, channel: BlockingChannel, queue: str
) -> None:
    frames: list[Any] = []

    def on_cancel(method_frame: Any) -> None:
        frames.append((method_frame, list(channel.consumer_tags)))

    channel.add_on_cancel_callback(on_cancel)
    tag = channel.basic_consume(queue, lambda *a: None)
    with connection.channel() as other:
        other.queue_delete(queue)
    assert frames == [] and channel.consumer_tags == [tag]  # not dispatched yet
    channel.start_consuming()  # returns once the cancellation has been dispatched
    [(method_frame, tags_in_callback)] = frames
    assert isinstance(method_frame.method, spec.Basic.Cancel)
    assert method_frame.method.consumer_tag == tag
    assert tags_in_callback == []
    assert channel.is_open


def test_basic_cancel_requeues_undispatched_manual_ack_messages(
    channel: BlockingChannel, queue: str
) -> None:
    tag = channel.basic_consume(queue, lambda *a: pytest.fail("must not be dispatched"))
    _publish(channel, queue, b"1", b"2", b"3")
    _wait_until_all_received(channel, queue)  # buffered locally, not dispatched
    assert channel.basic_cancel(tag) == []
    assert channel.consumer_tags == []
    bodies = [channel.basic_get(queue, auto_ack=True)[2] for _ in range(3)]
    assert sorted(bodies) == [b"1", b"2", b"3"]
    channel.connection.process_data_events()


def test_basic_cancel_returns_undispatched_auto_ack_messages(
    channel: BlockingChannel, queue: str
) -> None:
    tag = channel.basic_consume(queue, lambda *a: pytest.fail("must not be dispatched"), True)
    _publish(channel, queue, b"1", b"2")
    _wait_until_all_received(channel, queue)
    returned = channel.basic_cancel(tag)
    assert [(type(m), body) for m, _p, body in returned] == [
        (spec.Basic.Deliver, b"1"),
        (spec.Basic.Deliver, b"2"),
    ]
    assert channel.queue_declare(queue, passive=True).method.message_count == 0
    channel.connection.process_data_events()


def test_basic_cancel_of_an_unknown_tag_returns_empty_list(channel: BlockingChannel) -> None:
    assert channel.basic_cancel("no-such-tag") == []


def test_close_from_a_callback_ends_start_consuming(channel: BlockingChannel, queue: str) -> None:
    def on_message(ch: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        ch.close()

    _publish(channel, queue, b"x", b"y")
    channel.basic_consume(queue, on_message)
    channel.start_consuming()
    assert channel.is_closed
    assert channel.connection.is_open


def test_deliveries_on_several_channels_are_dispatched_in_arrival_order(
    connection: BlockingConnection, queue: str
) -> None:
    first, second = connection.channel(), connection.channel()
    got: list[tuple[int, bytes]] = []
    for ch in (first, second):
        ch.basic_consume(queue, lambda c, m, p, b: got.append((c.channel_number, b)), True)
    _publish(first, queue, *[str(i).encode() for i in range(6)])
    while len(got) < 6:
        connection.process_data_events(time_limit=5)
    assert sorted(body for _, body in got) == [str(i).encode() for i in range(6)]
    assert {number for number, _ in got} <= {first.channel_number, second.channel_number}
