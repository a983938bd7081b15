"""A scripted broker for byte-level conversations with the sans-I/O engine.

Broker frames are encoded, and client frames decoded, with ``pamqp`` — a
codec nobody here wrote — so engine tests do not trust our own codec twice.
No sockets, threads or clocks: the test owns time and bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pamqp import body as pbody
from pamqp import commands as pc
from pamqp import frame as pframe
from pamqp import header as pheader
from pamqp import heartbeat as pheartbeat

from pika._engine import events as ev
from pika._engine.connection import ConnectionEngine
from pika._engine.handshake import HandshakeConfig
from pika.credentials import PlainCredentials

SERVER_PROPERTIES = {
    "product": "RabbitMQ",
    "version": "3.10.8",
    "capabilities": {
        "publisher_confirms": True,
        "basic.nack": True,
        "consumer_cancel_notify": True,
        "exchange_exchange_bindings": True,
        "connection.blocked": True,
        "authentication_failure_close": True,
    },
}


def make_engine(**overrides: Any) -> ConnectionEngine:
    """An engine with test defaults (guest/guest, localhost:5672)."""
    config = HandshakeConfig(
        credentials=overrides.pop("credentials", PlainCredentials("guest", "guest")),
        host="localhost",
        port=5672,
        **overrides,
    )
    return ConnectionEngine(config)


class ScriptedBroker:
    """Plays the broker's side against one engine."""

    def __init__(self, engine: ConnectionEngine, chunk: int | None = None) -> None:
        self.engine = engine
        self.chunk = chunk
        self._pending = b""

    # -- client -> broker ---------------------------------------------------

    def received(self) -> list[tuple[int, Any]]:
        """Decode everything the client has queued: (channel, pamqp object)."""
        data = self._pending + self.engine.data_to_send()
        frames: list[tuple[int, Any]] = []
        while data:
            consumed, channel, value = pframe.unmarshal(data)
            frames.append((channel, value))
            data = data[consumed:]
        self._pending = b""
        return frames

    def received_methods(self) -> list[tuple[int, Any]]:
        """Like ``received`` but only method frames."""
        return [(ch, v) for ch, v in self.received() if hasattr(v, "name") and "." in v.name]

    # -- broker -> client ---------------------------------------------------

    def encode(self, channel: int, value: Any) -> bytes:
        return pframe.marshal(value, channel)

    def feed(self, data: bytes) -> list[ev.Event]:
        """Deliver bytes to the engine, whole or in ``chunk``-sized pieces."""
        if not self.chunk:
            return self.engine.receive_data(data)
        events: list[ev.Event] = []
        for start in range(0, len(data), self.chunk):
            events.extend(self.engine.receive_data(data[start : start + self.chunk]))
        return events

    def send(self, channel: int, *values: Any) -> list[ev.Event]:
        """Encode and feed frames from the broker."""
        return self.feed(b"".join(self.encode(channel, v) for v in values))

    def send_content(
        self,
        channel: int,
        method: Any,
        body: bytes,
        properties: Any = None,
        frame_max: int = 131072,
    ) -> list[ev.Event]:
        """A content-bearing method with its header and body frames."""
        props = properties or pc.Basic.Properties()
        frames: list[Any] = [method, pheader.ContentHeader(0, len(body), props)]
        step = frame_max - 8
        frames.extend(pbody.ContentBody(body[i : i + step]) for i in range(0, len(body), step))
        return self.send(channel, *frames)

    def heartbeat(self) -> list[ev.Event]:
        return self.feed(pframe.marshal(pheartbeat.Heartbeat(), 0))

    # -- whole conversations ------------------------------------------------

    def open_connection(self, heartbeat: int = 0, frame_max: int = 131072) -> list[ev.Event]:
        """Run the handshake to OPEN; returns the events of the last step."""
        self.engine.connection_made()
        header = self.engine.data_to_send()
        assert header == b"AMQP\x00\x00\x09\x01"
        self.send(
            0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN AMQPLAIN")
        )
        self.received()
        self.send(0, pc.Connection.Tune(channel_max=2047, frame_max=frame_max, heartbeat=heartbeat))
        self.received()
        return self.send(0, pc.Connection.OpenOk())

    def open_channel(self, number: int | None = None) -> int:
        """Allocate and open a channel; returns its number."""
        if number is None:
            number = self.engine.allocate_channel_number()
        self.engine.open_channel(number)
        sent = self.received()
        assert [type(v) for _, v in sent] == [pc.Channel.Open]
        events = self.send(number, pc.Channel.OpenOk())
        assert [type(e) for e in events] == [ev.ChannelOpened]
        return number


def types(events: Iterable[object]) -> list[type]:
    """The classes of ``events``, for compact assertions."""
    return [type(e) for e in events]
