"""Connection loss seen through BlockingConnection: raised from the call in progress, no hang."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

import pika
from pika import exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from tests.conftest import Broker
from tests.support.faultproxy import FaultProxy


def _named_connection(broker: Broker, **overrides: Any) -> tuple[BlockingConnection, str]:
    name = f"blocking-{uuid.uuid4().hex[:8]}"
    params = broker.params(client_properties={"connection_name": name}, **overrides)
    return pika.BlockingConnection(params), name


def _assert_dead(connection: BlockingConnection, channel: BlockingChannel) -> None:
    assert connection.is_closed and not connection.is_open
    assert channel.is_closed
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.channel()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.close()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.process_data_events(time_limit=None)
    with pytest.raises(exceptions.ChannelWrongStateError, match="Channel is closed"):
        channel.basic_ack(1)


def test_broker_close_during_start_consuming_is_raised(broker: Broker) -> None:
    node = broker.require_node()
    connection, name = _named_connection(broker)
    closes: list[Any] = []
    connection.add_on_close_callback(lambda conn, exc: closes.append(exc))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.basic_consume(queue, lambda *args: None)
    # Runs inside start_consuming's dispatch; the broker's Close is read afterwards.
    connection.call_later(0, lambda: node.close_connection_named(name, "test says bye"))
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        channel.start_consuming()
    assert info.value.reply_code == 320
    assert "test says bye" in info.value.reply_text
    assert closes == [info.value]
    _assert_dead(connection, channel)


def test_broker_close_is_raised_by_the_next_blocking_call(broker: Broker) -> None:
    node = broker.require_node()
    connection, name = _named_connection(broker)
    channel = connection.channel()
    assert node.close_connection_named(name) == 1
    with pytest.raises(exceptions.ConnectionClosedByBroker):
        channel.queue_declare("", exclusive=True)
    _assert_dead(connection, channel)


def test_stream_cut_during_a_wait_raises_stream_lost(broker: Broker) -> None:
    with FaultProxy(broker.host, broker.port) as proxy:
        connection = pika.BlockingConnection(broker.params(host=proxy.host, port=proxy.port))
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.basic_consume(queue, lambda *args: None)
        connection.call_later(0, proxy.cut)
        with pytest.raises(exceptions.StreamLostError):
            channel.start_consuming()
        _assert_dead(connection, channel)


def test_connection_lost_while_waiting_for_a_confirm(broker: Broker) -> None:
    with FaultProxy(broker.host, broker.port) as proxy:
        connection = pika.BlockingConnection(broker.params(host=proxy.host, port=proxy.port))
        channel = connection.channel()
        channel.confirm_delivery()
        proxy.cut_after(0)  # the broker's next bytes (the Ack) never arrive: the stream ends
        with pytest.raises(exceptions.StreamLostError):
            channel.basic_publish("", "anywhere", b"never confirmed")
        _assert_dead(connection, channel)


def test_missed_heartbeats_raise_heartbeat_timeout(broker: Broker) -> None:
    with FaultProxy(broker.host, broker.port) as proxy:
        params = broker.params(host=proxy.host, port=proxy.port, heartbeat=1)
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(exceptions.AMQPHeartbeatTimeout):
            connection.process_data_events(time_limit=None)
        assert time.monotonic() - started < 10
        _assert_dead(connection, channel)


def test_client_close_is_not_raised_and_callbacks_see_closed_by_client(broker: Broker) -> None:
    connection = pika.BlockingConnection(broker.params())
    closes: list[Any] = []
    connection.add_on_close_callback(lambda conn, exc: closes.append(exc))
    channel = connection.channel()
    connection.close()
    assert [type(exc) for exc in closes] == [exceptions.ConnectionClosedByClient]
    _assert_dead(connection, channel)
