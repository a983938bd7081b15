"""BlockingConnection: opening, the errors of a failed open, lifecycle and closing."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest

import pika
from pika import exceptions
from pika.adapters.blocking_connection import BlockingConnection
from pika.adapters.select_connection import SelectConnection
from pika.adapters.utils.connection_workflow import AMQPConnectorSocketConnectError
from tests.conftest import Broker, TlsBroker


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CountingSelectConnection(SelectConnection):
    """Counts the connection objects the workflow creates (one per attempt)."""

    created = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).created += 1
        super().__init__(*args, **kwargs)


def test_opens_and_exposes_the_impl(broker: Broker) -> None:
    connection = pika.BlockingConnection(broker.params())
    try:
        assert connection.is_open and not connection.is_closed
        assert connection._impl.params.port == broker.port
        assert connection._impl.server_properties["product"] == "RabbitMQ"
        assert repr(connection).startswith("<BlockingConnection impl=<SelectConnection OPEN")
        assert connection.publisher_confirms_supported is True
        assert connection.basic_nack_supported is True
        assert connection.consumer_cancel_notify_supported is True
        assert connection.exchange_exchange_bindings_supported is True
        assert connection.publisher_confirms is connection.basic_nack is True
        assert connection.consumer_cancel_notify is connection.exchange_exchange_bindings is True
    finally:
        connection.close()
    assert connection.is_closed and not connection.is_open


def test_default_parameters_are_used_when_none_given(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pika._params.parameters import Parameters

    monkeypatch.setattr(Parameters, "DEFAULT_HOST", broker.host)
    monkeypatch.setattr(Parameters, "DEFAULT_PORT", broker.port)
    with BlockingConnection() as connection:
        assert connection._impl.params.port == broker.port


def test_refused_port_raises_amqp_connection_error_wrapping_the_connector_error() -> None:
    port = _unused_port()
    params = pika.ConnectionParameters("127.0.0.1", port, retry_delay=0)
    with pytest.raises(exceptions.AMQPConnectionError) as info:
        pika.BlockingConnection(params)
    assert type(info.value) is exceptions.AMQPConnectionError
    assert isinstance(info.value.args[0], AMQPConnectorSocketConnectError)
    assert (info.value.host, info.value.port) == ("127.0.0.1", port)


def test_bad_credentials_raise_probable_authentication_error_after_retrying(
    broker: Broker,
) -> None:
    CountingSelectConnection.created = 0
    params = broker.params(
        credentials=pika.PlainCredentials("guest", "wrong"), connection_attempts=2, retry_delay=0
    )
    with pytest.raises(exceptions.ProbableAuthenticationError) as info:
        pika.BlockingConnection(params, _impl_class=CountingSelectConnection)
    assert "ACCESS_REFUSED" in str(info.value)
    assert CountingSelectConnection.created == 2  # AMQP failures are retried here


def test_unknown_vhost_raises_probable_access_denied_error(broker: Broker) -> None:
    params = broker.params(virtual_host=f"missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(exceptions.ProbableAccessDeniedError) as info:
        pika.BlockingConnection(params)
    assert "530" in str(info.value) or "NOT_ALLOWED" in str(info.value)


def test_dns_failure_raises_a_gaierror_that_is_also_an_amqp_connection_error() -> None:
    params = pika.ConnectionParameters("no-such-host.invalid", retry_delay=0)
    with pytest.raises(socket.gaierror) as info:
        pika.BlockingConnection(params)
    assert isinstance(info.value, exceptions.AMQPConnectionError)
    assert info.value.host == "no-such-host.invalid"


def test_multi_host_list_falls_through_to_a_working_host(broker: Broker) -> None:
    dead = pika.ConnectionParameters("127.0.0.1", _unused_port())
    with pika.BlockingConnection([dead, broker.params()]) as connection:
        assert connection._impl.params.port == broker.port


def test_multi_host_list_takes_attempts_from_the_last_element(broker: Broker) -> None:
    CountingSelectConnection.created = 0
    bad = pika.PlainCredentials("guest", "wrong")
    first = broker.params(credentials=bad, connection_attempts=5, retry_delay=0)
    last = broker.params(credentials=bad, connection_attempts=1, retry_delay=0)
    with pytest.raises(exceptions.ProbableAuthenticationError):
        pika.BlockingConnection([first, last], _impl_class=CountingSelectConnection)
    assert CountingSelectConnection.created == 2  # one cycle over both hosts


@pytest.mark.parametrize("bad", [[], ()])
def test_empty_parameter_sequence_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError):
        pika.BlockingConnection(bad)


def test_context_manager_closes_and_does_not_swallow(broker: Broker) -> None:
    with pytest.raises(KeyError), pika.BlockingConnection(broker.params()) as connection:
        assert connection.is_open
        raise KeyError("boom")
    assert connection.is_closed


def test_context_manager_tolerates_a_connection_closed_inside(broker: Broker) -> None:
    with pika.BlockingConnection(broker.params()) as connection:
        connection.close()
    assert connection.is_closed


def test_calls_on_a_closed_connection_raise_wrong_state(broker: Broker) -> None:
    connection = pika.BlockingConnection(broker.params())
    channel = connection.channel()
    connection.close()
    with pytest.raises(exceptions.ConnectionWrongStateError) as info:
        connection.close()
    assert info.value.args == (
        "BlockingConnection.close(200, 'Normal shutdown') called on closed connection.",
    )
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.channel()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.process_data_events(time_limit=None)
    with pytest.raises(ValueError, match="Timeout closed before call"):
        connection.process_data_events(time_limit=0)
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.add_callback_threadsafe(lambda: None)
    with pytest.raises(exceptions.ChannelWrongStateError, match="Channel is closed"):
        channel.basic_publish("", "q", b"body")
    assert channel.is_closed


def test_close_closes_every_channel_first(broker: Broker) -> None:
    connection = pika.BlockingConnection(broker.params())
    first, second = connection.channel(), connection.channel()
    queue = first.queue_declare("", exclusive=True).method.queue
    first.basic_consume(queue, lambda *args: None)
    connection.close()
    assert first.is_closed and second.is_closed
    assert first.consumer_tags == []


def test_channel_numbers_start_at_one_and_are_reused(broker: Broker) -> None:
    with pika.BlockingConnection(broker.params()) as connection:
        first, second = connection.channel(), connection.channel()
        assert (first.channel_number, second.channel_number, int(second)) == (1, 2, 2)
        first.close()
        assert connection.channel().channel_number == 1
        assert connection.channel(7).channel_number == 7


def test_update_secret_waits_for_the_answer(broker: Broker) -> None:
    with pika.BlockingConnection(broker.params()) as connection:
        connection.update_secret("guest", "rotation")
        assert connection.channel().is_open


def test_legacy_close_and_open_callbacks(broker: Broker) -> None:
    calls: list[Any] = []
    connection = pika.BlockingConnection(broker.params())
    connection.add_on_open_callback(lambda conn: calls.append(("open", conn)))
    connection.add_on_close_callback(lambda conn, exc: calls.append(("close", type(exc))))
    assert calls == []  # runs only when events are dispatched
    connection.process_data_events()
    assert calls == [("open", connection)]
    connection.close()
    assert calls[1] == ("close", exceptions.ConnectionClosedByClient)


def test_tls_connection_round_trip(tls_broker: TlsBroker) -> None:
    with pika.BlockingConnection(tls_broker.params()) as connection:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.confirm_delivery()
        channel.basic_publish("", queue, b"over tls" * 50_000)
        assert channel.basic_get(queue, auto_ack=True)[2] == b"over tls" * 50_000


def test_large_message_round_trip(broker: Broker) -> None:
    body = bytes(range(256)) * 12_000  # about 3 MB: many frames each way
    with pika.BlockingConnection(broker.params()) as connection:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.basic_publish("", queue, body)
        [(method, _props, received)] = list(_take(channel.consume(queue, auto_ack=True), 1))
        assert received == body and method.routing_key == queue


def _take(iterator: Any, count: int) -> Any:
    for _ in range(count):
        yield next(iterator)
