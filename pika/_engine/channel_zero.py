"""Channel 0: the connection's own state machine (handshake, close, blocked).

Theory of operation: every method the broker sends on channel 0 is looked up
in ``_CONNECTION_TABLE`` by (connection state, method class).  A reply to our
own channel-0 RPC (Connection.UpdateSecret) is matched first; a method with
no table entry for the current state is a protocol error (503).  The opening
handshake walks PROTOCOL -> START -> TUNE -> OPEN, each state named after the
last method received, as pika's ``connection_state`` values are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pika import amqp_object, exceptions, frame, spec

from . import events as ev
from .close_reasons import CloseReasons
from .errors import ProtocolViolation
from .handshake import HandshakeConfig, negotiate_heartbeat, negotiate_limit, start_ok
from .heartbeat import HeartbeatClock
from .outbox import Outbox
from .rpc import RpcQueue
from .states import ConnectionState

Events = list[ev.Event]

LOGGER = logging.getLogger("pika.connection")


class ChannelZero:
    """Channel-0 handlers; mixed into ConnectionEngine, which owns the state."""

    config: HandshakeConfig
    state: ConnectionState
    outbox: Outbox
    reasons: CloseReasons
    server_properties: dict[str, Any] | None
    channel_max: int
    frame_max: int
    heartbeat: int
    known_hosts: str
    was_open: bool
    blocked: bool
    _rpc0: RpcQueue
    _clock: HeartbeatClock | None
    _blocked_since: float | None
    _blocked_tick_needed: bool
    _close_reason: Exception | None

    def _request_stream_close(self, error: Exception, events: Events) -> None:
        raise NotImplementedError  # provided by ConnectionEngine

    def _set_frame_max(self, frame_max: int) -> None:
        raise NotImplementedError  # provided by ConnectionEngine

    def _on_connection_method(self, method_frame: frame.Method[Any], events: Events) -> None:
        method = method_frame.method
        call = self._rpc0.match(method)
        if call is not None:
            events.append(ev.RpcReplied(0, call.token, method_frame))
            for ready in self._rpc0.complete():
                self.outbox.method(0, ready.method)
            return
        handler = _CONNECTION_TABLE.get((self.state, type(method)))
        if handler is None:
            raise ProtocolViolation(
                spec.COMMAND_INVALID,
                f"COMMAND_INVALID - {method.NAME} is not valid in connection state {self.state.name}",
            )
        handler(self, method_frame, events)

    # -- connection-level handlers (the transition table) ---------------

    def _on_start(self, method_frame: frame.Method[Any], events: Events) -> None:
        start: spec.Connection.Start = method_frame.method
        self.state = ConnectionState.START
        self.server_properties = dict(start.server_properties or {})
        if (start.version_major, start.version_minor) != (0, 9):
            mismatch = exceptions.ProtocolVersionMismatch(
                frame.ProtocolHeader(0, 9, 1), (start.version_major, start.version_minor)
            )
            self._request_stream_close(mismatch, events)
            return
        reply = start_ok(self.config, start)
        if reply is None:
            error = exceptions.AuthenticationError(self.config.credentials.TYPE)
            self._request_stream_close(self.reasons.locate(error), events)
            return
        self.outbox.method(0, reply)

    def _on_secure(self, method_frame: frame.Method[Any], events: Events) -> None:
        # PLAIN and EXTERNAL never need a challenge round; answer with an empty response.
        self.outbox.method(0, spec.Connection.SecureOk(response=b""))

    def _on_tune(self, method_frame: frame.Method[Any], events: Events) -> None:
        tune: spec.Connection.Tune = method_frame.method
        self.state = ConnectionState.TUNE
        self.channel_max = negotiate_limit(self.config.channel_max, tune.channel_max)
        self.frame_max = negotiate_limit(self.config.frame_max, tune.frame_max)
        self.heartbeat = negotiate_heartbeat(self.config.heartbeat, tune.heartbeat)
        self._set_frame_max(self.frame_max)
        self.outbox.method(
            0,
            spec.Connection.TuneOk(
                channel_max=self.channel_max, frame_max=self.frame_max, heartbeat=self.heartbeat
            ),
        )
        self.outbox.method(
            0, spec.Connection.Open(virtual_host=self.config.virtual_host, insist=True)
        )
        if self.heartbeat > 0:
            self._clock = HeartbeatClock(self.heartbeat)
        events.append(ev.ConnectionTuned(self.channel_max, self.frame_max, self.heartbeat))

    def _on_open_ok(self, method_frame: frame.Method[Any], events: Events) -> None:
        self.state = ConnectionState.OPEN
        self.was_open = True
        self.known_hosts = method_frame.method.known_hosts
        events.append(ev.ConnectionOpened(self.known_hosts))

    def _on_close(self, method_frame: frame.Method[Any], events: Events) -> None:
        method = method_frame.method
        self.outbox.method(0, spec.Connection.CloseOk())
        error = exceptions.ConnectionClosedByBroker(method.reply_code, method.reply_text)
        self._request_stream_close(self.reasons.locate(error), events)

    def _on_close_ok(self, method_frame: frame.Method[Any], events: Events) -> None:
        reason = self._close_reason or exceptions.ConnectionClosedByClient(200, "Normal shutdown")
        self._request_stream_close(reason, events)

    def _on_blocked(self, method_frame: frame.Method[Any], events: Events) -> None:
        if self.blocked:
            LOGGER.warning("Connection.Blocked received while already blocked; ignoring")
        else:
            self.blocked = True
            self._blocked_tick_needed = self.config.blocked_connection_timeout is not None
        events.append(ev.ConnectionBlocked(method_frame))

    def _on_unblocked(self, method_frame: frame.Method[Any], events: Events) -> None:
        self.blocked = False
        self._blocked_since = None
        self._blocked_tick_needed = False
        events.append(ev.ConnectionUnblocked(method_frame))

    def _on_protocol_header(self, header: frame.ProtocolHeader, events: Events) -> None:
        error = exceptions.IncompatibleProtocolError(
            f"The broker answered with protocol header AMQP "
            f"{header.major}.{header.minor}.{header.revision}"
        )
        self._request_stream_close(self.reasons.locate(error), events)

    # -- helpers ----------------------------------------------------------

    def _tick_blocked(self, now: float, events: Events) -> None:
        timeout = self.config.blocked_connection_timeout
        if not self.blocked or timeout is None:
            return
        if self._blocked_tick_needed:
            self._blocked_tick_needed = False
            self._blocked_since = now
        elif self._blocked_since is not None and now - self._blocked_since >= timeout:
            error = exceptions.ConnectionBlockedTimeout("Blocked connection timeout expired.")
            self._request_stream_close(self.reasons.locate(error), events)


ConnHandler = Callable[[ChannelZero, "frame.Method[Any]", Events], None]

_CS = ConnectionState
_C = spec.Connection
_CONNECTION_TABLE: dict[tuple[ConnectionState, type[amqp_object.Method]], ConnHandler] = {
    (_CS.PROTOCOL, _C.Start): ChannelZero._on_start,
    (_CS.START, _C.Secure): ChannelZero._on_secure,
    (_CS.START, _C.Tune): ChannelZero._on_tune,
    (_CS.START, _C.Close): ChannelZero._on_close,
    (_CS.TUNE, _C.OpenOk): ChannelZero._on_open_ok,
    (_CS.TUNE, _C.Close): ChannelZero._on_close,
    (_CS.OPEN, _C.Close): ChannelZero._on_close,
    (_CS.OPEN, _C.Blocked): ChannelZero._on_blocked,
    (_CS.OPEN, _C.Unblocked): ChannelZero._on_unblocked,
    (_CS.CLOSING, _C.Close): ChannelZero._on_close,
    (_CS.CLOSING, _C.CloseOk): ChannelZero._on_close_ok,
    (_CS.CLOSING, _C.Blocked): ChannelZero._on_blocked,
    (_CS.CLOSING, _C.Unblocked): ChannelZero._on_unblocked,
}
