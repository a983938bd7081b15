"""The connection engine: bytes and a clock in, events and bytes out.

Theory of operation.  An adapter (or a test) drives one ``ConnectionEngine``:

* ``connection_made()`` when the stream is up: the protocol header is queued;
* ``receive_data(data)`` with every chunk read (``b""`` means EOF is handled
  by the adapter through ``connection_lost``): returns events in wire order;
* ``tick(now)`` when ``next_deadline()`` has passed: heartbeats and the
  blocked-connection timeout;
* commands (``open_channel``, ``call``, ``publish``, ``close`` ...) raise
  pika's exceptions on misuse before any byte is produced;
* ``data_to_send()`` after any of the above, to collect the bytes to write;
* ``connection_lost(error)`` once the stream is gone: every channel is
  reported closed, then ``ConnectionTerminated``.

Channel 0 is a small state machine whose transitions are the ``_CONNECTION_TABLE``
below: a method that has no entry for the current state is a protocol error.
Every fault caused by the peer ends the same way: Connection.Close with the
right reply code is queued, ``TransportCloseRequested`` is emitted and all
further input is ignored.  Nothing the peer sends makes ``receive_data`` raise.
"""

from __future__ import annotations

import logging
from typing import Any

from pika import exceptions, frame, spec
from pika._wire import writer
from pika._wire.errors import MalformedFrameError
from pika._wire.reader import ContentFrame, FrameReader

from . import events as ev
from .channel import ChannelMachine
from .channel_zero import ChannelZero
from .close_reasons import CloseReasons
from .errors import ProtocolViolation, unexpected
from .handshake import HandshakeConfig
from .heartbeat import HeartbeatClock
from .ledger import TopologyLedger
from .outbox import Outbox
from .rpc import Call, RpcQueue
from .states import OPENING_STATES, ChannelState, ConnectionState

LOGGER = logging.getLogger("pika.connection")

Events = list[ev.Event]


class ConnectionEngine(ChannelZero):
    """Sans-I/O AMQP 0-9-1 client connection."""

    def __init__(self, config: HandshakeConfig) -> None:
        self.config = config
        self.state = ConnectionState.INIT
        self.outbox = Outbox(config.frame_max)
        self.reader = FrameReader(spec.FRAME_MAX_SIZE)
        self.channels: dict[int, ChannelMachine] = {}
        # Set (and carried to the next engine) only when recovery is enabled.
        self.ledger: TopologyLedger | None = None
        self.channel_max = config.channel_max
        self.frame_max = config.frame_max
        self.heartbeat = 0
        self.server_properties: dict[str, Any] | None = None
        self.known_hosts = ""
        self.was_open = False
        self.blocked = False
        self.bytes_received = 0
        self.frames_received = 0
        self._rpc0 = RpcQueue()
        self._clock: HeartbeatClock | None = None
        self._blocked_since: float | None = None
        self._blocked_tick_needed = False
        self._close_reason: Exception | None = None
        self._stream_closing = False
        self._close_pending: tuple[int, str] | None = None
        # Kept for error messages: credentials may erase themselves once sent.
        self.reasons = CloseReasons(config)

    # -- the boundary ---------------------------------------------------

    def connection_made(self) -> None:
        """The stream is up: send the protocol header."""
        if self.state is not ConnectionState.INIT:
            raise exceptions.ConnectionWrongStateError(
                f"connection_made() in state {self.state.name}"
            )
        self.state = ConnectionState.PROTOCOL
        self.outbox.raw(writer.PROTOCOL_HEADER)

    def data_to_send(self) -> bytes:
        """Drain the bytes queued for the peer."""
        data = self.outbox.drain()
        if data and self._clock is not None:
            self._clock.tx_seen = True
        return data

    def receive_data(self, data: bytes) -> Events:
        """Feed bytes from the peer; return what happened, in wire order."""
        events: Events = []
        if self._stream_closing or self.state is ConnectionState.CLOSED or not data:
            return events
        self.bytes_received += len(data)
        if self._clock is not None:
            self._clock.rx_seen = True
        reader = self.reader
        reader.feed(data)
        try:
            items = reader.read()
            self.frames_received += len(items)
            for item in items:
                self._route(item, events)
                if self._stream_closing:
                    break
            if self._close_pending is not None:
                self._maybe_send_close()
        except MalformedFrameError as error:
            self._protocol_failure(error.reply_code, error.text, error, events)
        except ProtocolViolation as error:
            self._protocol_failure(error.reply_code, error.text, error, events)
        except exceptions.ProtocolSyntaxError as error:
            self._protocol_failure(spec.UNEXPECTED_FRAME, repr(error), error, events)
        return events

    def tick(self, now: float) -> Events:
        """Advance timers to ``now`` (seconds on any monotonic clock)."""
        events: Events = []
        if self._stream_closing or self.state is ConnectionState.CLOSED:
            return events
        clock = self._clock
        if clock is not None:
            clock.observe(now)
            if clock.peer_dead(now):
                self._request_stream_close(self.reasons.heartbeat_timeout(clock.interval), events)
                return events
            if clock.send_due(now):
                self.outbox.raw(writer.HEARTBEAT_FRAME)
                clock.last_tx = now
        self._tick_blocked(now, events)
        return events

    def next_deadline(self) -> float | None:
        """When ``tick`` should next run; a value <= now means as soon as possible."""
        if self._stream_closing or self.state is ConnectionState.CLOSED:
            return None
        deadlines: list[float] = []
        if self._clock is not None:
            deadline = self._clock.deadline()
            deadlines.append(float("-inf") if deadline is None else deadline)
        if self._blocked_tick_needed:
            deadlines.append(float("-inf"))
        elif self._blocked_since is not None and self.config.blocked_connection_timeout is not None:
            deadlines.append(self._blocked_since + self.config.blocked_connection_timeout)
        return min(deadlines) if deadlines else None

    def connection_lost(self, error: Exception | None) -> Events:
        """The stream is gone; report every channel closed, then the connection."""
        events: Events = []
        if self.state is ConnectionState.CLOSED:
            return events
        final = self.reasons.final(
            self._close_reason if self._stream_closing else None, error, self.state, self.was_open
        )
        for number in sorted(self.channels):
            self.channels[number].terminate(final, events)
        self.state = ConnectionState.CLOSED
        self._clock = None
        events.append(ev.ConnectionTerminated(final, self.was_open))
        return events

    # -- connection commands -------------------------------------------

    @property
    def is_open(self) -> bool:
        """True between OpenOk and the start of closing."""
        return self.state is ConnectionState.OPEN and not self._stream_closing

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> Events:
        """Start a client-initiated close (channels first, then Connection.Close)."""
        if self.state in (ConnectionState.CLOSING, ConnectionState.CLOSED):
            raise exceptions.ConnectionWrongStateError(
                f"Illegal close({reply_code}, {reply_text!r}) request on {self._describe()} "
                f"because it was called while connection state={self.state.name}."
            )
        events: Events = []
        previous = self.state
        self.state = ConnectionState.CLOSING
        if self._stream_closing:
            return events  # already going down (e.g. the broker closed first)
        if previous in OPENING_STATES:
            error = exceptions.ConnectionOpenAborted(
                f"Connection.close() called before connection finished opening: "
                f"prev_state={previous.name} ({reply_code}): {reply_text}"
            )
            self._request_stream_close(self.reasons.locate(error), events)
            return events
        self._close_reason = self.reasons.locate(
            exceptions.ConnectionClosedByClient(reply_code, reply_text)
        )
        for channel in list(self.channels.values()):
            if channel.state in (ChannelState.OPEN, ChannelState.OPENING):
                channel.close(reply_code, reply_text)
        self._close_pending = (reply_code, reply_text)
        self._maybe_send_close()
        return events

    def abort(self, error: Exception) -> Events:
        """Give up on the stream at once, reporting ``error`` (no AMQP close)."""
        events: Events = []
        if self.state is not ConnectionState.CLOSED and not self._stream_closing:
            self._request_stream_close(error, events)
        return events

    def update_secret(self, new_secret: str, reason: str, token: object) -> None:
        """Send Connection.UpdateSecret (RabbitMQ extension)."""
        self._require_open()
        method = spec.Connection.UpdateSecret(new_secret=new_secret, reason=reason)
        for call in self._rpc0.submit(Call(method, token, (spec.Connection.UpdateSecretOk,))):
            self.outbox.method(0, call.method)

    # -- channel commands -----------------------------------------------

    def allocate_channel_number(self) -> int:
        """The lowest free channel number >= 1; NoFreeChannels when all are taken."""
        self._require_open()
        limit = self.channel_max or 65535
        if len(self.channels) >= limit:
            raise exceptions.NoFreeChannels()
        return self._lowest_free_number(limit)

    def open_channel(self, channel_number: int) -> ChannelMachine:
        """Create the machine for ``channel_number`` and send Channel.Open."""
        self._require_open()
        limit = self.channel_max or 65535
        if channel_number in self.channels:
            raise exceptions.ChannelWrongStateError(
                f"Channel number {channel_number} is already in use on {self._describe()}"
            )
        if not 1 <= channel_number <= limit:
            raise ValueError(f"channel_number must be in 1..{limit}, got {channel_number}")
        channel = ChannelMachine(channel_number, self.outbox)
        if self.ledger is not None:
            channel.enable_recovery(self.ledger)
        self.channels[channel_number] = channel
        channel.open()
        return channel

    def reopen_channel(self, previous: ChannelMachine) -> ChannelMachine:
        """Recovery: open ``previous``'s number again, continuing its ledger and tags."""
        channel = self.open_channel(previous.number)
        channel.resume_from(previous)
        return channel

    def channel(self, channel_number: int) -> ChannelMachine:
        """The machine for an allocated channel number."""
        return self.channels[channel_number]

    def release_channel(self, channel_number: int) -> None:
        """Forget a CLOSED channel once the face has run its close callbacks."""
        channel = self.channels.get(channel_number)
        if channel is not None and channel.state is ChannelState.CLOSED:
            del self.channels[channel_number]

    # -- routing ----------------------------------------------------------

    def _route(self, item: object, events: Events) -> None:
        item_type = type(item)
        if item_type is ContentFrame:
            content: ContentFrame = item  # type: ignore[assignment]
            self._channel_for(content.channel_number).on_content(
                content.method, content.properties, content.body, events
            )
        elif item_type is frame.Method:
            method_frame: frame.Method[Any] = item  # type: ignore[assignment]
            if method_frame.channel_number == 0:
                self._on_connection_method(method_frame, events)
            else:
                channel = self._channel_for(method_frame.channel_number)
                channel.on_method(method_frame, events)
                if type(method_frame.method) is spec.Channel.Close:
                    self.reasons.locate_channel_close(channel)
        elif item_type is frame.Header:
            header: frame.Header = item  # type: ignore[assignment]
            self._channel_for(header.channel_number).on_header(header, events)
        elif item_type is frame.Body:
            body: frame.Body = item  # type: ignore[assignment]
            self._channel_for(body.channel_number).on_body(body, events)
        elif item_type is frame.Heartbeat:
            if getattr(item, "channel_number", 0) != 0:
                raise ProtocolViolation(spec.FRAME_ERROR, "FRAME_ERROR - heartbeat on a channel")
        elif item_type is frame.ProtocolHeader:
            self._on_protocol_header(item, events)  # type: ignore[arg-type]
        else:  # pragma: no cover - the reader only yields the types above
            raise unexpected(f"unknown inbound item {item!r}")

    def _channel_for(self, number: int) -> ChannelMachine:
        channel = self.channels.get(number)
        if channel is None:
            raise ProtocolViolation(spec.CHANNEL_ERROR, f"CHANNEL_ERROR - unknown channel {number}")
        return channel

    def _maybe_send_close(self) -> None:
        if self._close_pending is None:
            return
        if any(ch.state is not ChannelState.CLOSED for ch in self.channels.values()):
            return
        reply_code, reply_text = self._close_pending
        self._close_pending = None
        self.outbox.method(
            0,
            spec.Connection.Close(
                reply_code=reply_code, reply_text=reply_text, class_id=0, method_id=0
            ),
        )

    def _protocol_failure(
        self, reply_code: int, text: str, cause: Exception, events: Events
    ) -> None:
        LOGGER.error("Protocol error from %s: %s", self._describe(), text)
        close = spec.Connection.Close(
            reply_code=reply_code, reply_text=text[:255], class_id=0, method_id=0
        )
        self.outbox.method(0, close)
        error = exceptions.StreamLostError(f"Stream connection lost: {cause!r}")
        error.__cause__ = cause
        self._request_stream_close(self.reasons.locate(error), events)

    def _set_frame_max(self, frame_max: int) -> None:
        self.outbox.frame_max = frame_max
        self.reader.max_frame_size = frame_max

    def _request_stream_close(self, error: Exception, events: Events) -> None:
        self._stream_closing = True
        self._close_reason = error
        events.append(ev.TransportCloseRequested(error))

    def _require_open(self) -> None:
        if not self.is_open:
            raise exceptions.ConnectionWrongStateError(
                f"Channel allocation requires an open connection: {self._describe()}"
            )

    def _lowest_free_number(self, limit: int) -> int:
        for number in range(1, limit + 1):
            if number not in self.channels:
                return number
        raise exceptions.NoFreeChannels()

    def _describe(self) -> str:
        return f"<connection to {self.config.host}:{self.config.port} state={self.state.name}>"
