"""TwistedProtocolConnection over an in-memory transport and a scripted broker."""

from __future__ import annotations

import gc
import ssl
from typing import Any

import pytest
from pamqp import commands as pc
from twisted.internet import defer, error
from twisted.python.failure import Failure

import pika
from pika import exceptions
from pika.adapters import twisted_connection
from pika.adapters._twisted_tls import TLSClientFactory
from pika.adapters.twisted_connection import (
    TwistedChannel,
    TwistedConnection,
    TwistedProtocolConnection,
)
from tests.support.scripted_broker import SERVER_PROPERTIES
from tests.unit.twisted.twisted_support import (
    PEER,
    FakeBroker,
    Outcome,
    failure_of,
    new_protocol,
    opened,
)


def test_ready_fires_with_the_protocol_once_the_handshake_is_done() -> None:
    protocol, _reactor = new_protocol()
    ready = Outcome(protocol.ready)  # type: ignore[arg-type]
    broker = FakeBroker(protocol)
    assert protocol.closed is None
    broker.handshake()
    assert ready.value is protocol
    assert protocol.ready is None
    assert isinstance(protocol.closed, defer.Deferred)
    assert protocol.is_open and not protocol.is_closed


def test_connection_ready_can_be_overridden() -> None:
    class Custom(TwistedProtocolConnection):
        def connectionReady(self) -> Any:
            return "custom"

    protocol = Custom(pika.ConnectionParameters(), custom_reactor=new_protocol()[1])
    ready = Outcome(protocol.ready)  # type: ignore[arg-type]
    FakeBroker(protocol).handshake()
    assert ready.value == "custom"


def test_errors_name_the_peer_twisted_connected_to() -> None:
    protocol, broker = opened()
    closed = Outcome(protocol.closed)  # type: ignore[arg-type]
    broker.lose(error.ConnectionLost("reset"))
    assert isinstance(closed.value, exceptions.StreamLostError)
    assert (closed.value.host, closed.value.port) == (PEER.host, PEER.port)


def test_clean_client_close_reports_twisted_connection_done() -> None:
    protocol, broker = opened()
    channel = broker.open_channel()
    on_closed = Outcome(channel.on_closed)
    result = protocol.close()
    assert result is protocol.closed
    closed = Outcome(result)  # type: ignore[arg-type]
    broker.close_client()
    assert isinstance(on_closed.value, exceptions.ChannelClosedByClient)
    assert on_closed.value.args == (200, "Normal shutdown")
    assert isinstance(closed.value, error.ConnectionDone)
    assert closed.failure is None
    assert protocol.is_closed and protocol.closed is None


def test_close_is_a_no_op_once_closing_or_closed() -> None:
    protocol, broker = opened()
    first = protocol.close()
    assert protocol.close() is first
    broker.close_client()
    assert protocol.close() is None


def test_broker_close_reports_connection_closed_by_broker() -> None:
    protocol, broker = opened()
    closed = Outcome(protocol.closed)  # type: ignore[arg-type]
    broker.send(0, pc.Connection.Close(320, "CONNECTION_FORCED - bye", 0, 0))
    assert broker.names() == ["Connection.CloseOk"]
    assert broker.transport.disconnecting
    broker.lose(error.ConnectionDone())
    assert isinstance(closed.value, exceptions.ConnectionClosedByBroker)
    assert closed.value.args == (320, "CONNECTION_FORCED - bye")


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (error.ConnectionDone(), "Transport indicated EOF"),
        (error.ConnectionLost("reset by peer"), "Stream connection lost: ConnectionLost"),
    ],
)
def test_a_lost_stream_reports_stream_lost_error(reason: BaseException, text: str) -> None:
    protocol, broker = opened()
    channel = broker.open_channel()
    pending = Outcome(channel.queue_declare("q"))
    closed = Outcome(protocol.closed)  # type: ignore[arg-type]
    broker.lose(reason)
    assert isinstance(pending.error, exceptions.StreamLostError)
    assert isinstance(closed.value, exceptions.StreamLostError)
    assert text in str(closed.value)


def test_close_waits_for_the_transport_then_aborts_it() -> None:
    protocol, reactor = new_protocol()
    broker = FakeBroker(protocol)
    broker.handshake()
    protocol.close()
    broker.send(0, pc.Connection.CloseOk())
    assert broker.transport.disconnecting and not broker.transport.disconnected
    reactor.advance(60)
    assert broker.transport.disconnected  # StringTransport records abortConnection this way


def test_handshake_failure_errbacks_ready_with_the_specific_error() -> None:
    protocol, _reactor = new_protocol()
    ready = Outcome(protocol.ready)  # type: ignore[arg-type]
    broker = FakeBroker(protocol)
    broker.connect()
    broker.send(0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN"))
    broker.send(0, pc.Connection.Close(403, "ACCESS_REFUSED - Login", 0, 0))
    broker.lose(error.ConnectionDone())
    assert isinstance(ready.error, exceptions.ProbableAuthenticationError)
    assert isinstance(ready.error, exceptions.AMQPConnectionError)
    assert "ACCESS_REFUSED" in str(ready.error)
    assert protocol.ready is None and protocol.closed is None


def test_stream_lost_before_ready_errbacks_ready() -> None:
    protocol, _reactor = new_protocol()
    ready = Outcome(protocol.ready)  # type: ignore[arg-type]
    broker = FakeBroker(protocol)
    broker.connect()
    broker.lose(error.ConnectionLost())
    assert isinstance(ready.error, exceptions.IncompatibleProtocolError)


def test_close_before_the_stream_exists_aborts_opening() -> None:
    protocol, reactor = new_protocol()
    ready = Outcome(protocol.ready)  # type: ignore[arg-type]
    assert protocol.close() is None
    reactor.advance(0)
    assert isinstance(ready.error, exceptions.ConnectionOpenAborted)
    broker = FakeBroker(protocol)
    broker.connect()  # Twisted connects it later anyway: dropped
    assert broker.transport.disconnecting


def test_an_exception_in_a_callback_aborts_the_connection_with_stream_lost_error() -> None:
    protocol, broker = opened()
    channel = broker.open_channel()

    def explode(_message: Any) -> None:
        raise RuntimeError("user bug")

    channel.add_on_return_callback(explode)
    pending = Outcome(channel.queue_declare("q"))
    closed = Outcome(protocol.closed)  # type: ignore[arg-type]
    returned = pc.Basic.Return(reply_code=312, reply_text="NO_ROUTE", exchange="", routing_key="q")
    broker.send_content(channel.channel_number, returned, b"x")  # must not raise
    assert broker.transport.disconnected  # aborted
    broker.send(channel.channel_number, pc.Queue.DeclareOk("q", 0, 0))  # ignored from now on
    assert not pending.fired
    broker.lose(error.ConnectionAborted())
    assert isinstance(pending.error, exceptions.StreamLostError)
    assert isinstance(closed.value, exceptions.StreamLostError)
    assert "user bug" in str(closed.value)
    assert isinstance(closed.value.__cause__, RuntimeError)


def test_channel_fires_with_a_twisted_channel() -> None:
    protocol, broker = opened()
    channel = broker.open_channel()
    assert isinstance(channel, TwistedChannel)
    assert channel.channel_number == 1
    assert channel.is_open
    assert channel.connection is protocol._impl


def test_channel_accepts_a_number_and_an_open_callback() -> None:
    protocol, broker = opened()
    seen: list[TwistedChannel] = []
    opening = Outcome(protocol.channel(7, on_open_callback=seen.append))
    assert broker.received_methods()[0][0] == 7
    broker.send(7, pc.Channel.OpenOk())
    assert seen == [opening.value]
    assert opening.value.channel_number == 7


def test_channel_accepts_the_0x_callback_first_order() -> None:
    protocol, broker = opened()
    seen: list[TwistedChannel] = []
    protocol.channel(seen.append)
    broker.send(1, pc.Channel.OpenOk())
    assert len(seen) == 1 and seen[0].channel_number == 1


def test_channel_before_open_fails_the_deferred() -> None:
    protocol, _reactor = new_protocol()
    assert isinstance(failure_of(protocol.channel()), exceptions.ConnectionWrongStateError)
    protocol.close()


def test_pending_channel_deferreds_errback_when_the_connection_is_lost() -> None:
    protocol, broker = opened()
    opening = Outcome(protocol.channel())
    broker.lose(error.ConnectionLost())
    assert isinstance(opening.error, exceptions.StreamLostError)


def test_add_callback_threadsafe_goes_through_call_from_thread() -> None:
    calls: list[Any] = []

    class Reactor:
        def callFromThread(self, fn: Any, *args: Any) -> None:
            calls.append(fn)

    protocol = TwistedProtocolConnection(custom_reactor=Reactor())
    protocol._impl._adapter_add_callback_threadsafe(print)
    assert calls == [print]
    with pytest.raises(TypeError):
        protocol._impl._adapter_add_callback_threadsafe(None)  # type: ignore[arg-type]


def test_heartbeats_use_reactor_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    protocol, reactor = new_protocol()
    # The Connection core reads time.monotonic(); make it the fake reactor's clock.
    monkeypatch.setattr(pika.connection.time, "monotonic", reactor.seconds)
    broker = FakeBroker(protocol)
    broker.handshake(heartbeat=10)
    closed = Outcome(protocol.closed)  # type: ignore[arg-type]
    for _ in range(6):
        reactor.advance(1)
    assert [type(v).__name__ for _, v in broker.received()] == ["Heartbeat"]
    for _ in range(30):
        reactor.advance(1)
    assert broker.transport.disconnecting
    broker.lose(error.ConnectionDone())
    assert isinstance(closed.value, exceptions.AMQPHeartbeatTimeout)


# -- the seed's callback style ------------------------------------------------------


def test_seed_style_connects_by_itself_and_wires_the_callbacks() -> None:
    events: list[tuple[str, Any]] = []
    params = pika.ConnectionParameters("broker.example", 5673)
    protocol, reactor = new_protocol(
        parameters=params,
        on_open_callback=lambda conn: events.append(("open", conn)),
        on_open_error_callback=lambda conn, exc: events.append(("error", exc)),
        on_close_callback=lambda conn, exc: events.append(("close", exc)),
    )
    assert reactor.tcpClients == []  # nothing happens inside the constructor
    reactor.advance(0)
    [(host, port, factory, timeout, _bind)] = reactor.tcpClients
    assert (host, port, timeout) == ("broker.example", 5673, params.socket_timeout)
    assert factory.buildProtocol(None) is protocol
    broker = FakeBroker(protocol)
    broker.handshake()
    assert events == [("open", protocol)]
    protocol.close()
    broker.close_client()
    assert events[1][0] == "close" and isinstance(events[1][1], error.ConnectionDone)


def test_seed_style_retries_then_reports_the_connect_failure() -> None:
    errors: list[BaseException] = []
    params = pika.ConnectionParameters("nowhere", 5672, connection_attempts=2, retry_delay=3)
    protocol, reactor = new_protocol(
        parameters=params, on_open_error_callback=lambda conn, exc: errors.append(exc)
    )
    reactor.advance(0)
    reactor.tcpClients[0][2].clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))
    assert errors == [] and len(reactor.tcpClients) == 1
    reactor.advance(3)
    assert len(reactor.tcpClients) == 2
    reactor.tcpClients[1][2].clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))
    [exc] = errors
    assert type(exc) is exceptions.AMQPConnectionError
    assert (exc.host, exc.port) == ("nowhere", 5672)
    assert isinstance(exc.__cause__, error.ConnectionRefusedError)
    assert protocol.ready is None
    del protocol
    gc.collect()  # the ready failure was consumed: no "Unhandled error in Deferred"


def test_seed_style_does_not_connect_twice_when_twisted_connected_it() -> None:
    protocol, reactor = new_protocol(on_close_callback=lambda conn, exc: None)
    FakeBroker(protocol).connect()
    reactor.advance(0)
    assert reactor.tcpClients == []
    protocol.close()


def test_seed_style_close_while_connecting_reports_open_aborted() -> None:
    errors: list[BaseException] = []
    protocol, reactor = new_protocol(on_open_error_callback=lambda conn, exc: errors.append(exc))
    reactor.advance(0)
    connector = reactor.connectors[0]
    protocol.close()
    assert connector._disconnected  # MemoryReactor's connector records disconnect()
    reactor.tcpClients[0][2].clientConnectionFailed(connector, Failure(error.UserError()))
    assert [type(e) for e in errors] == [exceptions.ConnectionOpenAborted]


def test_seed_style_uses_stdlib_tls_when_ssl_options_are_set() -> None:
    context = ssl.create_default_context()
    params = pika.ConnectionParameters(
        "broker.example", ssl_options=pika.SSLOptions(context, "name.example")
    )
    _protocol, reactor = new_protocol(parameters=params, on_open_callback=lambda conn: None)
    reactor.advance(0)
    [(host, port, factory, _timeout, _bind)] = reactor.tcpClients
    assert (host, port) == ("broker.example", 5671)
    assert isinstance(factory, TLSClientFactory)
    assert factory._server_hostname == "name.example"


def test_seed_callbacks_must_be_callable() -> None:
    with pytest.raises(TypeError):
        new_protocol(on_open_callback="nope")


def test_twisted_connection_is_the_seed_alias() -> None:
    assert issubclass(TwistedConnection, TwistedProtocolConnection)
    assert twisted_connection.__all__ == [
        "ClosableDeferredQueue",
        "ReceivedMessage",
        "TwistedChannel",
        "TwistedConnection",
        "TwistedProtocolConnection",
    ]


def test_a_raising_legacy_callback_aborts_and_its_deferred_errbacks() -> None:
    _protocol, broker = opened()
    channel = broker.open_channel()

    def explode(_frame: Any) -> None:
        raise KeyError("in callback")

    declared = Outcome(channel.queue_declare("q", callback=explode))
    broker.received()
    broker.send(1, pc.Queue.DeclareOk("q", 0, 0))
    assert broker.transport.disconnected and not declared.fired
    broker.lose(error.ConnectionAborted())
    assert isinstance(declared.error, exceptions.StreamLostError)
    assert isinstance(declared.error.__cause__, KeyError)
