"""BlockingChannel: synchronous methods, basic_get, broker channel errors, closing."""

from __future__ import annotations

import uuid

import pytest

from pika import exceptions, spec
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exchange_type import ExchangeType


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_properties_and_repr(channel: BlockingChannel, connection: BlockingConnection) -> None:
    assert channel.connection is connection
    assert channel.is_open and not channel.is_closed
    assert int(channel) == channel.channel_number == 1
    assert channel.consumer_tags == []
    assert repr(channel).startswith("<BlockingChannel impl=<Channel number=1 OPEN")


def test_server_named_queue_declare(channel: BlockingChannel) -> None:
    result = channel.queue_declare("", exclusive=True)
    assert isinstance(result.method, spec.Queue.DeclareOk)
    assert isinstance(result.method.queue, str) and result.method.queue.startswith("amq.gen-")
    assert (result.method.message_count, result.method.consumer_count) == (0, 0)


def test_queue_declare_rejects_a_non_str_name(channel: BlockingChannel) -> None:
    with pytest.raises(TypeError):
        channel.queue_declare(None)  # type: ignore[arg-type]
    assert channel.is_open


def test_queue_lifecycle_returns_reply_frames(channel: BlockingChannel, queue: str) -> None:
    exchange = _name("x")
    channel.confirm_delivery()  # so each publish has reached the queue when it returns
    assert isinstance(channel.exchange_declare(exchange, "fanout").method, spec.Exchange.DeclareOk)
    assert isinstance(channel.queue_bind(queue, exchange).method, spec.Queue.BindOk)
    channel.basic_publish(exchange, "", b"one")
    channel.basic_publish(exchange, "", b"two")
    assert channel.queue_declare(queue, passive=True).method.message_count == 2
    assert channel.queue_purge(queue).method.message_count == 2
    assert isinstance(channel.queue_unbind(queue, exchange).method, spec.Queue.UnbindOk)
    assert isinstance(channel.exchange_delete(exchange).method, spec.Exchange.DeleteOk)
    channel.basic_publish("", queue, b"three")
    deleted = channel.queue_delete(queue)
    assert deleted.method.message_count == 1


def test_exchange_to_exchange_bindings(channel: BlockingChannel, queue: str) -> None:
    source, destination = _name("src"), _name("dst")
    channel.exchange_declare(source, ExchangeType.fanout, auto_delete=True)
    channel.exchange_declare(destination, ExchangeType.fanout, auto_delete=True)
    assert isinstance(channel.exchange_bind(destination, source).method, spec.Exchange.BindOk)
    channel.queue_bind(queue, destination)
    channel.basic_publish(source, "", b"routed twice")
    assert channel.basic_get(queue, auto_ack=True)[2] == b"routed twice"
    unbind = channel.exchange_unbind(destination, source)
    assert isinstance(unbind.method, spec.Exchange.UnbindOk)
    with pytest.raises(TypeError):
        channel.exchange_bind(None, source)  # type: ignore[arg-type]


def test_basic_get_empty_and_non_empty(channel: BlockingChannel, queue: str) -> None:
    assert channel.basic_get(queue) == (None, None, None)
    properties = spec.BasicProperties(content_type="text/plain", headers={"k": "v"})
    channel.basic_publish("", queue, "héllo", properties)
    method, props, body = channel.basic_get(queue)
    assert isinstance(method, spec.Basic.GetOk)
    assert body == "héllo".encode()
    assert props.content_type == "text/plain" and props.headers == {"k": "v"}
    assert method.message_count == 0
    channel.basic_ack(method.delivery_tag)
    assert channel.basic_get(queue, auto_ack=True) == (None, None, None)
    with pytest.raises(TypeError):
        channel.basic_get(None)  # type: ignore[arg-type]


def test_basic_nack_reject_and_recover_requeue(channel: BlockingChannel, queue: str) -> None:
    channel.basic_publish("", queue, b"m")
    method, _, _ = channel.basic_get(queue)
    channel.basic_nack(method.delivery_tag, requeue=True)
    method, _, _ = channel.basic_get(queue)
    assert method.redelivered
    channel.basic_reject(method.delivery_tag, requeue=True)
    method, _, _ = channel.basic_get(queue)
    assert channel.basic_recover(requeue=True) is None
    method, _, _ = channel.basic_get(queue, auto_ack=True)
    assert method.redelivered


def test_qos_flow_and_transactions(channel: BlockingChannel, queue: str) -> None:
    assert channel.basic_qos(prefetch_count=10) is None
    assert channel.basic_qos(prefetch_size=0, prefetch_count=5, global_qos=True) is None
    assert isinstance(channel.tx_select().method, spec.Tx.SelectOk)
    channel.basic_publish("", queue, b"rolled back")
    assert isinstance(channel.tx_rollback().method, spec.Tx.RollbackOk)
    channel.basic_publish("", queue, b"committed")
    assert isinstance(channel.tx_commit().method, spec.Tx.CommitOk)
    assert channel.basic_get(queue, auto_ack=True)[2] == b"committed"
    assert channel.basic_get(queue) == (None, None, None)


def test_flow_returns_the_brokers_answer(connection: BlockingConnection) -> None:
    channel = connection.channel()
    assert channel.flow(True) is True
    # RabbitMQ refuses client-initiated flow(False) by closing the whole connection.
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        channel.flow(False)
    assert info.value.reply_code == 540
    assert connection.is_closed and channel.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.flow(True)


def test_passive_declare_of_missing_queue_raises_404_and_connection_survives(
    connection: BlockingConnection,
) -> None:
    channel = connection.channel()
    number = channel.channel_number
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.queue_declare(_name("missing"), passive=True)
    assert info.value.args[0] == 404 and "NOT_FOUND" in info.value.args[1]
    assert info.value.reply_code == 404
    assert channel.is_closed and connection.is_open
    with pytest.raises(exceptions.ChannelWrongStateError, match="Channel is closed"):
        channel.queue_declare("", exclusive=True)
    with pytest.raises(exceptions.ChannelWrongStateError, match="Channel is closed"):
        channel.close()
    again = connection.channel()
    assert again.channel_number == number
    assert again.queue_declare("", exclusive=True).method.queue
    connection.process_data_events()  # the error was seen: not raised again


def test_invalid_exchange_type_is_raised_from_the_declare(channel: BlockingChannel) -> None:
    # Older brokers close the channel (406); recent ones close the connection (503).
    closed = (exceptions.ChannelClosedByBroker, exceptions.ConnectionClosedByBroker)
    with pytest.raises(closed) as info:
        channel.exchange_declare(_name("x"), "no-such-type")
    assert info.value.args[0] in (406, 503)
    assert channel.is_closed


def test_publish_to_missing_exchange_raises_from_the_next_call(
    connection: BlockingConnection,
) -> None:
    channel = connection.channel()
    assert channel.basic_publish(_name("missing"), "rk", b"lost") is None
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.queue_declare("", exclusive=True)
    assert info.value.args[0] == 404
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.basic_publish("", "rk", b"x")


def test_unseen_broker_close_is_raised_once_by_process_data_events(
    connection: BlockingConnection,
) -> None:
    doomed, other = connection.channel(), connection.channel()
    doomed.basic_publish(_name("missing"), "rk", b"lost")
    other.queue_declare("", exclusive=True)  # the broker's Close arrives meanwhile
    assert doomed.is_closed
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        connection.process_data_events()
    assert info.value.args[0] == 404
    connection.process_data_events()  # only once
    with pytest.raises(exceptions.ChannelWrongStateError):
        doomed.basic_publish("", "rk", b"x")


def test_close_and_context_manager(connection: BlockingConnection) -> None:
    with connection.channel() as channel:
        assert channel.is_open
    assert channel.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.close()
    with pytest.raises(KeyError), connection.channel() as other:
        raise KeyError("propagates")
    assert other.is_closed


def test_context_manager_does_not_swallow_broker_errors(connection: BlockingConnection) -> None:
    with pytest.raises(exceptions.ChannelClosedByBroker), connection.channel() as channel:
        channel.queue_declare(_name("missing"), passive=True)
    assert connection.is_open


def test_wrong_state_after_close(connection: BlockingConnection) -> None:
    channel = connection.channel()
    channel.close()
    for call in (
        lambda: channel.basic_ack(1),
        lambda: channel.basic_nack(1),
        lambda: channel.basic_reject(1),
        lambda: channel.basic_get("q"),
        lambda: channel.basic_qos(prefetch_count=1),
        lambda: channel.queue_declare("q"),
        lambda: channel.basic_consume("q", lambda *a: None),
        lambda: channel.confirm_delivery(),
        lambda: channel.start_consuming(),
    ):
        with pytest.raises(exceptions.ChannelWrongStateError):
            call()
