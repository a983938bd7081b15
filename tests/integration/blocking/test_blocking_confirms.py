"""Publisher confirms in the blocking adapter: per-publish waits, UnroutableError, NackError."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection, ReturnedMessage


def test_publish_returns_none_once_acked(channel: BlockingChannel, queue: str) -> None:
    channel.confirm_delivery()
    for number in range(5):
        assert channel.basic_publish("", queue, f"m{number}") is None
    assert channel.queue_declare(queue, passive=True).method.message_count == 5


def test_confirm_delivery_twice_logs_and_returns(
    channel: BlockingChannel, caplog: pytest.LogCaptureFixture
) -> None:
    channel.confirm_delivery()
    with caplog.at_level(logging.ERROR, logger="pika.adapters.blocking_connection"):
        assert channel.confirm_delivery() is None
    assert any("already enabled" in record.getMessage() for record in caplog.records)


def test_mandatory_unroutable_publish_raises_unroutable_error(channel: BlockingChannel) -> None:
    returned: list[Any] = []
    channel.add_on_return_callback(lambda *args: returned.append(args))
    channel.confirm_delivery()
    properties = spec.BasicProperties(message_id="m-1")
    routing_key = f"nowhere-{uuid.uuid4().hex[:8]}"
    with pytest.raises(exceptions.UnroutableError) as info:
        channel.basic_publish("", routing_key, b"lost", properties, mandatory=True)
    [message] = info.value.messages
    assert isinstance(message, ReturnedMessage)
    assert isinstance(message.method, spec.Basic.Return)
    assert (message.method.reply_code, message.method.reply_text) == (312, "NO_ROUTE")
    assert message.method.routing_key == routing_key
    assert message.properties.message_id == "m-1" and message.body == b"lost"
    assert info.value.args[0] == "1 unroutable message(s) returned"
    with pytest.raises(TypeError):
        _method, _properties, _body = message  # type: ignore[misc]
    # The return callback still runs, later, from a dispatching call.
    assert returned == []
    channel.connection.process_data_events()
    [(ch, method, _props, body)] = returned
    assert ch is channel and method.reply_code == 312 and body == b"lost"
    assert channel.is_open


def test_non_mandatory_unroutable_publish_returns_normally(channel: BlockingChannel) -> None:
    channel.confirm_delivery()
    assert channel.basic_publish("", f"nowhere-{uuid.uuid4().hex[:8]}", b"dropped") is None


def test_nack_from_a_reject_publish_queue_raises_nack_error(channel: BlockingChannel) -> None:
    name = f"overflow-{uuid.uuid4().hex[:8]}"
    arguments = {"x-max-length": 1, "x-overflow": "reject-publish"}
    channel.queue_declare(name, exclusive=True, arguments=arguments)
    channel.confirm_delivery()
    channel.basic_publish("", name, b"fits")
    with pytest.raises(exceptions.NackError) as info:
        channel.basic_publish("", name, b"rejected")
    assert info.value.messages == []
    assert info.value.args[0] == "0 message(s) NACKed"
    assert channel.is_open
    assert channel.basic_get(name, auto_ack=True)[2] == b"fits"
    channel.basic_publish("", name, b"fits again")


def test_publish_to_missing_exchange_with_confirms_raises_from_the_publish(
    connection: BlockingConnection,
) -> None:
    channel = connection.channel()
    channel.confirm_delivery()
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.basic_publish(f"missing-{uuid.uuid4().hex[:8]}", "rk", b"x")
    assert info.value.args[0] == 404
    assert connection.is_open and channel.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.basic_publish("", "rk", b"x")


def test_returns_without_confirms_reach_the_return_callback(channel: BlockingChannel) -> None:
    returned: list[Any] = []
    channel.add_on_return_callback(lambda ch, m, p, b: returned.append((ch, m.reply_code, b)))
    channel.basic_publish("", f"nowhere-{uuid.uuid4().hex[:8]}", b"back", mandatory=True)
    while not returned:
        channel.connection.process_data_events(time_limit=5)
    assert returned == [(channel, 312, b"back")]
