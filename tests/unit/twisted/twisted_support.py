"""A scripted broker for TwistedProtocolConnection over Twisted's in-memory transport.

Broker frames are encoded, and client frames decoded, with ``pamqp`` (a codec
nobody here wrote).  The reactor is ``MemoryReactorClock``: time only moves
when a test says so, and ``connectTCP`` calls are recorded, never made.
Deferreds fire synchronously inside ``dataReceived``, so no reactor runs.
"""

from __future__ import annotations

from typing import Any

from pamqp import body as pbody
from pamqp import commands as pc
from pamqp import frame as pframe
from pamqp import header as pheader
from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

import pika
from pika.adapters.twisted_connection import TwistedChannel, TwistedProtocolConnection
from tests.support.scripted_broker import SERVER_PROPERTIES

PEER = IPv4Address("TCP", "10.1.2.3", 5999)


class FakeBroker:
    """Plays the broker's side of one TwistedProtocolConnection."""

    def __init__(self, protocol: TwistedProtocolConnection, chunk: int | None = None) -> None:
        self.protocol = protocol
        self.chunk = chunk
        self.transport = StringTransport(peerAddress=PEER)

    # -- stream -------------------------------------------------------------

    def connect(self) -> None:
        self.protocol.makeConnection(self.transport)

    def lose(self, reason: BaseException) -> None:
        """The stream ends with ``reason`` (a twisted.internet.error instance)."""
        self.protocol.connectionLost(Failure(reason))

    # -- client -> broker ---------------------------------------------------------

    def received(self) -> list[tuple[int, Any]]:
        """Decode everything the client wrote since the last call: (channel, pamqp object)."""
        data = self.transport.value()
        self.transport.clear()
        if data.startswith(b"AMQP"):
            data = data[8:]
        frames: list[tuple[int, Any]] = []
        while data:
            consumed, channel, value = pframe.unmarshal(data)
            frames.append((channel, value))
            data = data[consumed:]
        return frames

    def received_methods(self) -> list[tuple[int, Any]]:
        """Like ``received`` but only method frames."""
        return [(ch, v) for ch, v in self.received() if hasattr(v, "name") and "." in v.name]

    def names(self) -> list[str]:
        """Names of the methods the client sent since the last call."""
        return [value.name for _, value in self.received_methods()]

    # -- broker -> client ---------------------------------------------------------

    @staticmethod
    def encode(channel: int, *values: Any) -> bytes:
        return b"".join(pframe.marshal(value, channel) for value in values)

    @staticmethod
    def encode_content(
        channel: int, method: Any, body: bytes, properties: Any = None, frame_max: int = 131072
    ) -> bytes:
        props = properties or pc.Basic.Properties()
        frames: list[Any] = [method, pheader.ContentHeader(0, len(body), props)]
        step = frame_max - 8
        frames.extend(pbody.ContentBody(body[i : i + step]) for i in range(0, len(body), step))
        return FakeBroker.encode(channel, *frames)

    def feed(self, data: bytes) -> None:
        """Deliver bytes, whole or in ``chunk``-sized pieces."""
        step = self.chunk or len(data) or 1
        for start in range(0, len(data), step):
            self.protocol.dataReceived(data[start : start + step])

    def send(self, channel: int, *values: Any) -> None:
        self.feed(self.encode(channel, *values))

    def send_content(self, channel: int, method: Any, body: bytes, properties: Any = None) -> None:
        self.feed(self.encode_content(channel, method, body, properties))

    # -- conversations ------------------------------------------------------------

    def handshake(self, heartbeat: int = 0) -> None:
        """Connect and run the AMQP handshake to OPEN."""
        self.connect()
        assert self.transport.value() == b"AMQP\x00\x00\x09\x01"
        self.transport.clear()
        self.send(0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN"))
        assert self.names() == ["Connection.StartOk"]
        self.send(0, pc.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=heartbeat))
        assert self.names() == ["Connection.TuneOk", "Connection.Open"]
        self.send(0, pc.Connection.OpenOk())

    def open_channel(self) -> TwistedChannel:
        """Ask the client for a channel and answer Channel.Open; returns the channel."""
        opened = self.protocol.channel()
        [(number, method)] = self.received_methods()
        assert method.name == "Channel.Open"
        self.send(number, pc.Channel.OpenOk())
        channel: TwistedChannel = result_of(opened)
        return channel

    def close_client(self) -> None:
        """Answer the client's Channel.Close/Connection.Close, then end the stream cleanly."""
        for _round in range(2):  # channels first; Connection.Close follows their CloseOk
            for number, method in self.received_methods():
                if method.name == "Channel.Close":
                    self.send(number, pc.Channel.CloseOk())
                elif method.name == "Connection.Close":
                    self.send(0, pc.Connection.CloseOk())
        assert self.transport.disconnecting
        self.lose(_connection_done())


def _connection_done() -> BaseException:
    from twisted.internet import error

    return error.ConnectionDone()


def new_protocol(**kwargs: Any) -> tuple[TwistedProtocolConnection, MemoryReactorClock]:
    """A protocol on a fresh MemoryReactorClock."""
    reactor = MemoryReactorClock()
    params = kwargs.pop("parameters", pika.ConnectionParameters())
    return TwistedProtocolConnection(params, custom_reactor=reactor, **kwargs), reactor


def opened(**kwargs: Any) -> tuple[TwistedProtocolConnection, FakeBroker]:
    """A protocol that finished the handshake, and its broker."""
    chunk = kwargs.pop("chunk", None)
    protocol, _reactor = new_protocol(**kwargs)
    broker = FakeBroker(protocol, chunk)
    broker.handshake()
    return protocol, broker


class Outcome:
    """Records how a Deferred ended, consuming its result (no unhandled failures)."""

    def __init__(self, deferred: defer.Deferred[Any]) -> None:
        self.fired = False
        self.value: Any = None
        self.failure: Failure | None = None
        deferred.addCallbacks(self._ok, self._failed)

    def _ok(self, value: Any) -> None:
        self.fired = True
        self.value = value

    def _failed(self, failure: Failure) -> None:
        self.fired = True
        self.failure = failure

    @property
    def error(self) -> BaseException | None:
        return None if self.failure is None else self.failure.value


def result_of(deferred: defer.Deferred[Any]) -> Any:
    """The value a Deferred has already fired with (fails the test otherwise)."""
    outcome = Outcome(deferred)
    assert outcome.fired, "the Deferred has not fired"
    if outcome.failure is not None:
        outcome.failure.raiseException()
    return outcome.value


def failure_of(deferred: defer.Deferred[Any]) -> BaseException:
    """The exception a Deferred has already failed with (fails the test otherwise)."""
    outcome = Outcome(deferred)
    assert outcome.fired, "the Deferred has not fired"
    assert outcome.failure is not None, f"the Deferred succeeded with {outcome.value!r}"
    return outcome.failure.value
