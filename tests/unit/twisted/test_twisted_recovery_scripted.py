"""Automatic recovery on TwistedProtocolConnection, against a scripted broker.

The reactor is a MemoryReactorClock and the Connection core's clock is made
the reactor's, so backoff delays pass only when a test advances time.  A
recovery attempt shows up as a ``connectTCP`` recorded by the reactor; the
test then plays a fresh broker on a new in-memory transport for the same
protocol object.
"""

from __future__ import annotations

from typing import Any

import pytest
from pamqp import commands as pc
from twisted.internet import error
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

import pika
from pika import exceptions
from pika.adapters._twisted_tls import TLSClientFactory
from pika.adapters.twisted_connection import TwistedProtocolConnection
from pika.recovery import Recovered, RecoveryAttemptFailed, RecoveryPolicy, RecoveryStarted
from tests.unit.twisted.twisted_support import (
    FakeBroker,
    Outcome,
    failure_of,
    new_protocol,
    result_of,
)

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0)
OTHER_PEER = IPv4Address("TCP", "10.9.9.9", 6000)

_REPLIES: dict[str, Any] = {
    "Channel.Open": lambda m: pc.Channel.OpenOk(),
    "Basic.Consume": lambda m: pc.Basic.ConsumeOk(consumer_tag=m.consumer_tag),
    "Basic.Qos": lambda m: pc.Basic.QosOk(),
    "Confirm.Select": lambda m: pc.Confirm.SelectOk(),
    "Queue.Declare": lambda m: pc.Queue.DeclareOk(m.queue or "amq.gen-renamed", 0, 0),
    "Queue.Bind": lambda m: pc.Queue.BindOk(),
}


class Recovering:
    """A recovery-enabled protocol on a fake reactor, with its brokers and events."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **params: Any) -> None:
        options: dict[str, Any] = {"host": "broker.example", "port": 5679, "recovery": FAST}
        options.update(params)
        self.protocol, self.reactor = new_protocol(parameters=pika.ConnectionParameters(**options))
        monkeypatch.setattr(pika.connection.time, "monotonic", self.reactor.seconds)
        self.broker = FakeBroker(self.protocol)
        self.broker.handshake()
        self.events: list[Any] = []
        self.protocol.add_on_recovery_callback(self._record)

    def _record(self, connection: Any, event: Any) -> None:
        assert connection is self.protocol  # the face, not the core Connection
        self.events.append(event)

    def lose(self) -> None:
        self.broker.lose(error.ConnectionLost("cut"))

    def next_attempt(self) -> tuple[str, int, Any]:
        """Advance time until recovery dials; return (host, port, factory)."""
        dialled = len(self.reactor.tcpClients)
        for _ in range(50):
            if len(self.reactor.tcpClients) > dialled:
                break
            self.reactor.advance(0.05)
        assert len(self.reactor.tcpClients) == dialled + 1, "recovery did not dial"
        host, port, factory, _timeout, _bind = self.reactor.tcpClients[-1]
        return host, port, factory

    def reconnect(self) -> FakeBroker:
        """Let recovery dial, accept the stream and replay what it asks for."""
        _host, _port, factory = self.next_attempt()
        assert factory.buildProtocol(None) is self.protocol
        self.broker = FakeBroker(self.protocol)
        self.broker.handshake()
        answer_replay(self.broker)
        return self.broker


def answer_replay(broker: FakeBroker) -> list[str]:
    """Answer each method the client sends (recovery's replay) until it stops."""
    names: list[str] = []
    while True:
        methods = broker.received_methods()
        if not methods:
            return names
        for number, method in methods:
            names.append(method.name)
            broker.send(number, _REPLIES[method.name](method))


def recovered(run: Recovering) -> bool:
    return any(isinstance(event, Recovered) for event in run.events)


# -- the reconnect ---------------------------------------------------------------------


def test_a_loss_reconnects_the_same_protocol_to_the_params(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Recovering(monkeypatch)
    closed = Outcome(run.protocol.closed)  # type: ignore[arg-type]
    run.lose()
    assert run.protocol.is_recovering and not run.protocol.is_open
    assert run.protocol.transport is None
    assert isinstance(run.events[0], RecoveryStarted)
    host, port, factory = run.next_attempt()
    assert (host, port) == ("broker.example", 5679)  # the params, not the peer (10.1.2.3)
    assert factory.buildProtocol(None) is run.protocol
    run.broker = FakeBroker(run.protocol)
    run.broker.handshake()
    assert recovered(run) and run.protocol.is_open and not run.protocol.is_recovering
    assert not closed.fired and run.protocol.ready is None
    assert run.protocol.transport is run.broker.transport
    ch = run.broker.open_channel()  # the recovered connection is usable
    assert ch.is_open


def test_recovery_ignores_where_twisted_connected_the_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reactor = MemoryReactorClock()
    monkeypatch.setattr(pika.connection.time, "monotonic", reactor.seconds)
    params = pika.ConnectionParameters("broker.example", 5680, recovery=FAST)
    protocol = TwistedProtocolConnection(params, custom_reactor=reactor)
    broker = FakeBroker(protocol)
    broker.transport = StringTransport(peerAddress=OTHER_PEER)
    broker.handshake()
    assert (protocol._impl.params.host, protocol._impl.params.port) == ("broker.example", 5680)
    broker.lose(error.ConnectionLost("cut"))
    reactor.advance(0.05)
    [(host, port, *_rest)] = reactor.tcpClients
    assert (host, port) == ("broker.example", 5680)


def test_tls_params_reconnect_over_tls_naming_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    context = ssl.create_default_context()
    run = Recovering(monkeypatch, ssl_options=pika.SSLOptions(context))
    run.lose()
    _host, _port, factory = run.next_attempt()
    assert isinstance(factory, TLSClientFactory)
    assert factory._server_hostname == "broker.example"


def test_a_failed_attempt_is_retried_by_recovery_not_connection_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Recovering(monkeypatch, connection_attempts=5, retry_delay=30)
    run.lose()
    _host, _port, factory = run.next_attempt()
    factory.clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))
    assert any(isinstance(event, RecoveryAttemptFailed) for event in run.events)
    run.reconnect()  # the next attempt comes from the backoff (< 1s), not retry_delay
    assert recovered(run)


# -- Deferreds across a drop -----------------------------------------------------------


def test_pending_rpcs_errback_with_recovering_and_the_channel_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Recovering(monkeypatch)
    ch = run.broker.open_channel()
    declare = Outcome(ch.queue_declare("never-answered"))
    got = Outcome(ch.basic_get("q"))
    on_closed = Outcome(ch.on_closed)
    run.lose()
    for pending in (declare, got):
        assert isinstance(pending.error, exceptions.ConnectionRecoveringError)
        assert isinstance(pending.error.__cause__, exceptions.StreamLostError)
    assert not ch.is_open and not ch.is_closed
    refused = failure_of(ch.queue_declare("during"))
    assert isinstance(refused, exceptions.ConnectionRecoveringError)
    assert isinstance(
        failure_of(ch.basic_publish("", "q", b"x")), exceptions.ConnectionRecoveringError
    )
    assert isinstance(failure_of(run.protocol.channel()), exceptions.ConnectionRecoveringError)
    assert answer_replay_after(run) == ["Channel.Open"]
    assert ch.is_open and not on_closed.fired
    again = ch.basic_get("q")  # the earlier Basic.Get is forgotten
    assert run.broker.names() == ["Basic.Get"]
    run.broker.send(ch.channel_number, pc.Basic.GetEmpty())
    assert result_of(again) is None


def answer_replay_after(run: Recovering) -> list[str]:
    _host, _port, factory = run.next_attempt()
    factory.buildProtocol(None)
    run.broker = FakeBroker(run.protocol)
    run.broker.handshake()
    return answer_replay(run.broker)


def test_consumer_queue_keeps_receiving_after_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Recovering(monkeypatch)
    ch = run.broker.open_channel()
    consuming = ch.basic_consume("work", consumer_tag="ctag-1")
    [(number, _consume)] = run.broker.received_methods()
    run.broker.send(number, pc.Basic.ConsumeOk(consumer_tag="ctag-1"))
    messages, tag = result_of(consuming)
    waiting = Outcome(messages.get())
    run.lose()
    assert not waiting.fired and messages.closed is None
    assert answer_replay_after(run) == ["Channel.Open", "Basic.Consume"]
    assert ch.consumer_tags == ["ctag-1"] and tag == "ctag-1"
    deliver = pc.Basic.Deliver(consumer_tag="ctag-1", delivery_tag=1, routing_key="work")
    run.broker.send_content(number, deliver, b"after")
    assert waiting.value.body == b"after"


def test_a_consume_unanswered_at_the_drop_fails_and_is_not_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Recovering(monkeypatch)
    ch = run.broker.open_channel()
    consuming = Outcome(ch.basic_consume("work", consumer_tag="ctag-2"))
    run.lose()
    assert isinstance(consuming.error, exceptions.ConnectionRecoveringError)
    assert ch._consumers == {}
    assert answer_replay_after(run) == ["Channel.Open"]


def test_unconfirmed_publishes_errback_outcome_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Recovering(monkeypatch)
    ch = run.broker.open_channel()
    confirming = ch.confirm_delivery()
    [(number, _select)] = run.broker.received_methods()
    run.broker.send(number, pc.Confirm.SelectOk())
    result_of(confirming)
    reported: list[Any] = []
    ch.add_on_publish_outcome_unknown_callback(lambda c, e: reported.append((c, e)))
    first = Outcome(ch.basic_publish("", "q", b"one"))
    run.broker.send(number, pc.Basic.Ack(delivery_tag=1))
    assert first.value is not None
    second = Outcome(ch.basic_publish("", "q", b"two"))
    third = Outcome(ch.basic_publish("", "q", b"three"))
    run.lose()
    for pending in (second, third):
        assert isinstance(pending.error, exceptions.PublishOutcomeUnknownError)
        assert (pending.error.first_tag, pending.error.last_tag) == (2, 3)
    [(channel, error_)] = reported
    assert channel is ch and error_ is second.error
    assert answer_replay_after(run) == ["Channel.Open", "Confirm.Select"]
    fourth = Outcome(ch.basic_publish("", "q", b"four"))
    run.broker.received()
    run.broker.send(number, pc.Basic.Ack(delivery_tag=1))  # the new channel's first
    assert fourth.value.delivery_tag == 4  # the application's tags keep counting


def test_a_channel_opening_at_the_drop_fires_once_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Recovering(monkeypatch)
    opening = Outcome(run.protocol.channel())
    run.broker.received()  # Channel.Open, never answered
    run.lose()
    assert not opening.fired
    assert answer_replay_after(run) == ["Channel.Open"]
    assert opening.value.is_open


# -- the end of recovery ---------------------------------------------------------------


def test_close_during_recovery_fires_closed_with_closed_by_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Recovering(monkeypatch)
    ch = run.broker.open_channel()
    closed = Outcome(run.protocol.closed)  # type: ignore[arg-type]
    on_closed = Outcome(ch.on_closed)
    run.lose()
    assert run.protocol.close() is not None
    run.reactor.advance(0)
    assert isinstance(closed.value, exceptions.ConnectionClosedByClient)
    assert isinstance(on_closed.value, exceptions.ChannelClosedByClient)
    assert run.protocol.is_closed and not run.protocol.is_recovering
    before = len(run.reactor.tcpClients)
    run.reactor.advance(1)
    assert len(run.reactor.tcpClients) == before  # no more attempts


def test_close_during_the_recovery_handshake_is_closed_by_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Recovering(monkeypatch)
    closed = Outcome(run.protocol.closed)  # type: ignore[arg-type]
    run.lose()
    _host, _port, factory = run.next_attempt()
    factory.buildProtocol(None)
    run.broker = FakeBroker(run.protocol)
    run.broker.connect()  # the handshake has started, nothing answered
    run.protocol.close()
    assert run.broker.transport.disconnecting
    run.broker.lose(error.ConnectionDone())
    assert isinstance(closed.value, exceptions.ConnectionClosedByClient)


def test_giving_up_fires_closed_with_the_last_error(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0, max_attempts=1)
    run = Recovering(monkeypatch, recovery=policy)
    closed = Outcome(run.protocol.closed)  # type: ignore[arg-type]
    run.lose()
    _host, _port, factory = run.next_attempt()
    factory.clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))
    assert isinstance(closed.value, exceptions.AMQPConnectionError)
    assert not run.protocol.is_recovering


def test_recovery_callbacks_need_recovery_and_can_be_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, _reactor = new_protocol()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        plain.add_on_recovery_callback(lambda c, e: None)
    with pytest.raises(TypeError):
        plain.add_on_recovery_callback("nope")  # type: ignore[arg-type]
    run = Recovering(monkeypatch)
    assert run.protocol.remove_on_recovery_callback(run._record)
    assert not run.protocol.remove_on_recovery_callback(run._record)
    run.lose()
    assert run.events == []
