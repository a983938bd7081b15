"""The callback-style connection core shared by the asynchronous adapters.

``Connection`` is pika's abstract face over the sans-I/O engine: adapters
supply the six ``_adapter_*`` hooks (timers, thread-safe callbacks, stream
connect/disconnect, writes) and feed the stream back through
``_on_stream_connected``, ``_on_data_available`` and ``_on_stream_terminated``.
Everything protocol-related happens in ``pika._engine``; this module only
turns engine events into the callbacks of pika's public API.
"""

from __future__ import annotations

import abc
import copy
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pika
from pika import callback as callback_mod
from pika import channel as channel_mod
from pika import exceptions, frame, spec
from pika._callback_list import CallbackList
from pika._connection_recovery import ConnectionRecovery
from pika._engine import events as ev
from pika._engine.connection import ConnectionEngine
from pika._engine.handshake import PRODUCT, HandshakeConfig, client_properties
from pika._params import ConnectionParameters, Parameters, SSLOptions, URLParameters

__all__ = [
    "PRODUCT",
    "Connection",
    "ConnectionParameters",
    "Parameters",
    "SSLOptions",
    "URLParameters",
]

LOGGER = logging.getLogger(__name__)

Callback = Callable[..., Any]


class Connection(abc.ABC):
    """Abstract AMQP connection; adapters subclass it (see API.md §3.12)."""

    CONNECTION_CLOSED = 0
    CONNECTION_INIT = 1
    CONNECTION_PROTOCOL = 2
    CONNECTION_START = 3
    CONNECTION_TUNE = 4
    CONNECTION_OPEN = 5
    CONNECTION_CLOSING = 6

    _STATE_NAMES = {
        CONNECTION_CLOSED: "CLOSED",
        CONNECTION_INIT: "INIT",
        CONNECTION_PROTOCOL: "PROTOCOL",
        CONNECTION_START: "START",
        CONNECTION_TUNE: "TUNE",
        CONNECTION_OPEN: "OPEN",
        CONNECTION_CLOSING: "CLOSING",
    }

    ON_CONNECTION_CLOSED = "_on_connection_closed"
    ON_CONNECTION_ERROR = "_on_connection_error"
    ON_CONNECTION_OPEN_OK = "_on_connection_open_ok"

    def __init__(
        self,
        parameters: Parameters | None = None,
        on_open_callback: Callback | None = None,
        on_open_error_callback: Callback | None = None,
        on_close_callback: Callback | None = None,
        internal_connection_workflow: bool = True,
    ) -> None:
        self.params = _private_copy(parameters)
        self.callbacks = callback_mod.CallbackManager()
        self._on_open = CallbackList("on_open")
        self._on_open_error = CallbackList("on_open_error")
        self._on_close = CallbackList("on_close")
        self._on_blocked = CallbackList("on_connection_blocked")
        self._on_unblocked = CallbackList("on_connection_unblocked")
        self._backpressure = CallbackList("backpressure")
        self._backpressure_multiplier = 10
        self._raise_open_error = True  # pika's default: re-raise unless removed
        # Adapter plumbing (the connection workflow) hears how each attempt ends.
        self._attempt_open: list[Callback] = []
        self._attempt_open_error: list[Callback] = []
        if on_open_callback is not None:
            self.add_on_open_callback(on_open_callback)
        if on_open_error_callback is not None:
            self.add_on_open_error_callback(on_open_error_callback)
        if on_close_callback is not None:
            self.add_on_close_callback(on_close_callback)
        self._channels: dict[int, channel_mod.Channel] = {}
        self._dispatch_depth = 0
        # A face may hold writes back while it runs a batch of user callbacks.
        self._holding_writes = False
        self._tick_handle: object | None = None
        self._tick_deadline: float | None = None
        self._opened = False
        self._recovery: ConnectionRecovery | None = None
        if self.params.recovery is not None:
            self._recovery = ConnectionRecovery(self, self.params.recovery)
        self._engine = self._new_engine()
        self._handlers = self._event_handlers()
        if internal_connection_workflow:
            self._adapter_call_later(0, self._adapter_connect_stream)

    # -- adapter extension API (abstract) -------------------------------

    @abc.abstractmethod
    def _adapter_call_later(self, delay: float, callback: Callable[[], Any]) -> object:
        """Schedule ``callback()`` after ``delay`` seconds; return a handle."""

    @abc.abstractmethod
    def _adapter_remove_timeout(self, timeout_id: object) -> None:
        """Cancel a handle from ``_adapter_call_later``."""

    @abc.abstractmethod
    def _adapter_add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the connection's loop; callable from any thread."""

    @abc.abstractmethod
    def _adapter_connect_stream(self) -> None:
        """Connect the stream; then call ``_on_stream_connected`` (or terminated)."""

    @abc.abstractmethod
    def _adapter_disconnect_stream(self) -> None:
        """Tear the stream down; ``_on_stream_terminated`` must follow."""

    @abc.abstractmethod
    def _adapter_emit_data(self, data: bytes) -> None:
        """Write ``data`` to the stream."""

    def _adapter_now(self) -> float:
        """The loop's monotonic clock in seconds (adapters with their own clock override)."""
        return time.monotonic()

    def _get_write_buffer_size(self) -> int:
        """Bytes written but not yet sent by the transport (adapters override)."""
        return 0

    # -- stream events from the adapter ---------------------------------

    def _on_stream_connected(self) -> None:
        """The stream is up: start the AMQP handshake."""
        self._engine.connection_made()
        self._flush()

    def _on_data_available(self, data: bytes) -> None:
        """Bytes arrived from the broker."""
        events = self._engine.receive_data(data)
        if events:
            self._dispatch(events)
        else:
            self._flush()

    def _on_stream_terminated(self, error: Exception | None = None) -> None:
        """The stream is gone (``error`` None for a requested close)."""
        self._cancel_tick()
        recovery = self._recovery
        if recovery is None:
            self._dispatch(self._engine.connection_lost(error))
            return
        before = recovery.snapshot()
        events = self._engine.connection_lost(error)
        if not recovery.takes_over(events):
            self._dispatch(events)
            return
        self._dispatch_depth += 1
        try:
            recovery.on_lost(events, before)
        finally:
            self._dispatch_depth -= 1
        self._flush()

    # -- public properties ----------------------------------------------

    @property
    def connection_state(self) -> int:
        """pika's numeric connection state (CONNECTION_* constants)."""
        return int(self._engine.state)

    @property
    def is_open(self) -> bool:
        """True when the connection is open and usable."""
        return self._engine.state == self.CONNECTION_OPEN

    @property
    def is_closing(self) -> bool:
        """True while a client-initiated close is in progress."""
        return self._engine.state == self.CONNECTION_CLOSING

    @property
    def is_closed(self) -> bool:
        """True once the connection is fully closed."""
        return self._engine.state == self.CONNECTION_CLOSED

    @property
    def is_recovering(self) -> bool:
        """True while automatic recovery is re-establishing a lost connection."""
        return self._recovery is not None and self._recovery.active

    @property
    def server_properties(self) -> dict[str, Any] | None:
        """The broker's Connection.Start properties (None before Start)."""
        return self._engine.server_properties

    @property
    def server_capabilities(self) -> dict[str, Any]:
        """The broker's advertised capabilities."""
        props = self._engine.server_properties or {}
        capabilities: dict[str, Any] = props.get("capabilities") or {}
        return capabilities

    @property
    def known_hosts(self) -> str:
        """known_hosts from Connection.OpenOk."""
        return self._engine.known_hosts

    @property
    def bytes_sent(self) -> int:
        """Bytes queued for the broker on this connection."""
        return self._engine.outbox.bytes_sent

    @property
    def bytes_received(self) -> int:
        """Bytes received from the broker on this connection."""
        return self._engine.bytes_received

    @property
    def frames_sent(self) -> int:
        """Frames queued for the broker on this connection."""
        return self._engine.outbox.frames_sent

    @property
    def frames_received(self) -> int:
        """Frames (or fused messages) received from the broker."""
        return self._engine.frames_received

    @property
    def basic_nack(self) -> bool:
        """True if the broker supports basic.nack."""
        return bool(self.server_capabilities.get("basic.nack", False))

    @property
    def consumer_cancel_notify(self) -> bool:
        """True if the broker sends consumer cancel notifications."""
        return bool(self.server_capabilities.get("consumer_cancel_notify", False))

    @property
    def exchange_exchange_bindings(self) -> bool:
        """True if the broker supports exchange-to-exchange bindings."""
        return bool(self.server_capabilities.get("exchange_exchange_bindings", False))

    @property
    def publisher_confirms(self) -> bool:
        """True if the broker supports publisher confirms."""
        return bool(self.server_capabilities.get("publisher_confirms", False))

    # -- callback registration ------------------------------------------

    def add_on_open_callback(self, callback: Callback) -> None:
        """``callback(connection)`` once the connection is open."""
        self._on_open.add(_checked(callback))

    def add_on_open_error_callback(self, callback: Callback, remove_default: bool = True) -> None:
        """``callback(connection, exc)`` if the connection fails before it opens."""
        _checked(callback)
        if remove_default:
            self._raise_open_error = False
        self._on_open_error.add(callback)

    def add_on_close_callback(self, callback: Callback) -> None:
        """``callback(connection, exc)`` when an opened connection closes."""
        self._on_close.add(_checked(callback))

    def add_on_connection_blocked_callback(self, callback: Callback) -> None:
        """``callback(connection, frame)`` on Connection.Blocked."""
        self._on_blocked.add(_checked(callback))

    def add_on_connection_unblocked_callback(self, callback: Callback) -> None:
        """``callback(connection, frame)`` on Connection.Unblocked."""
        self._on_unblocked.add(_checked(callback))

    def remove_on_open_callback(self, callback: Callback) -> bool:
        """Forget an open callback; True if it was registered."""
        return self._on_open.remove(callback)

    def remove_on_open_error_callback(self, callback: Callback) -> bool:
        """Forget an open-error callback; True if it was registered."""
        return self._on_open_error.remove(callback)

    def remove_on_close_callback(self, callback: Callback) -> bool:
        """Forget a close callback; True if it was registered."""
        return self._on_close.remove(callback)

    def remove_on_connection_blocked_callback(self, callback: Callback) -> bool:
        """Forget a blocked callback; True if it was registered."""
        return self._on_blocked.remove(callback)

    def remove_on_connection_unblocked_callback(self, callback: Callback) -> bool:
        """Forget an unblocked callback; True if it was registered."""
        return self._on_unblocked.remove(callback)

    def add_on_recovery_callback(self, callback: Callback) -> None:
        """``callback(connection, event)`` for each ``pika.recovery`` event.

        Events: RecoveryStarted (the connection was lost), RecoveryAttemptScheduled,
        RecoveryAttemptFailed, Recovered and RecoveryGaveUp.  Needs recovery enabled.
        """
        if self._recovery is None:
            raise exceptions.ConnectionWrongStateError(
                "add_on_recovery_callback needs recovery enabled in the connection parameters"
            )
        self._recovery.listeners.add(_checked(callback))

    def remove_on_recovery_callback(self, callback: Callback) -> bool:
        """Forget a recovery callback; True if it was registered."""
        return self._recovery is not None and self._recovery.listeners.remove(callback)

    def add_backpressure_callback(self, callback: Callback) -> None:
        """Legacy (pika 0.x): ``callback(connection)`` when the write buffer backs up."""
        self._backpressure.add(_checked(callback))

    def set_backpressure_multiplier(self, value: int = 10) -> None:
        """Legacy (pika 0.x): buffer threshold as a multiple of the average frame size."""
        self._backpressure_multiplier = value

    # -- commands ---------------------------------------------------------

    def channel(
        self,
        channel_number: int | Callback | None = None,
        on_open_callback: Callback | None = None,
    ) -> channel_mod.Channel:
        """Open a channel; it is returned at once and ``on_open_callback(channel)`` runs later.

        The pika 0.x order ``channel(on_open_callback, channel_number)`` also works.
        """
        if callable(channel_number):
            channel_number, on_open_callback = on_open_callback, channel_number
        if on_open_callback is not None and not callable(on_open_callback):
            raise TypeError(f"on_open_callback must be callable, got {on_open_callback!r}")
        if not self.is_open:
            raise exceptions.ConnectionWrongStateError(
                f"Channel allocation requires an open connection: {self!r}"
            )
        if channel_number is not None and not isinstance(channel_number, int):
            raise exceptions.InvalidChannelNumber(channel_number)
        number = channel_number or self._engine.allocate_channel_number()
        chan = channel_mod.Channel(self, number, on_open_callback)
        chan.open()
        return chan

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close every channel, then the connection (see API.md §3.9)."""
        if self.is_closing or self.is_closed:
            raise exceptions.ConnectionWrongStateError(
                f"Illegal close({reply_code}, {reply_text!r}) request on {self!r} because it "
                f"was called while connection state={self._STATE_NAMES[self.connection_state]}."
            )
        if self._recovery is not None:
            if self._recovery.active:
                self._recovery.stop_for_close(reply_code, reply_text)
            self._recovery.app_closed = True
        events = self._engine.close(reply_code, reply_text)
        self._dispatch(events)

    def update_secret(self, new_secret: str, reason: str, callback: Callback | None = None) -> None:
        """RabbitMQ extension: replace the connection's secret (e.g. an OAuth token)."""
        if not self.is_open:
            raise exceptions.ConnectionWrongStateError(
                f"update_secret requires an open connection: {self!r}"
            )
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._engine.update_secret(new_secret, reason, callback)
        self._flush()

    def add_timeout(self, deadline: float, callback: Callable[[], Any]) -> object:
        """Legacy (pika 0.x): run ``callback()`` in ``deadline`` seconds; returns a handle."""
        return self._adapter_call_later(deadline, callback)

    def remove_timeout(self, timeout_id: object) -> None:
        """Legacy (pika 0.x): cancel a handle from ``add_timeout``."""
        self._adapter_remove_timeout(timeout_id)

    def connect(self) -> None:
        """Legacy (pika 0.x): reconnect a CLOSED connection with the same parameters."""
        if not self.is_closed:
            raise exceptions.ConnectionWrongStateError(
                f"connect() requires a closed connection: {self!r}"
            )
        if self._recovery is not None:
            self._recovery = ConnectionRecovery(self, self._recovery.policy)
        self._engine = self._new_engine()
        self._opened = False
        self._adapter_call_later(0, self._adapter_connect_stream)

    def __repr__(self) -> str:
        state = self._STATE_NAMES.get(self.connection_state, "?")
        return f"<{self.__class__.__name__} {state} params={self.params!r}>"

    # -- internals shared with Channel ------------------------------------

    def _add_attempt_callbacks(
        self, on_open: Callback, on_open_error: Callback, keep_default_error: bool
    ) -> None:
        """Plumbing: ``on_open(conn)`` or ``on_open_error(conn, exc)`` when this attempt ends.

        Unlike the public callbacks these also run for recovery's reconnects, and
        once only.  Without ``keep_default_error`` an open failure is not re-raised.
        """
        self._attempt_open.append(on_open)
        self._attempt_open_error.append(on_open_error)
        if not keep_default_error:
            self._raise_open_error = False

    def _end_attempt(self, error: BaseException | None) -> None:
        """Tell the plumbing how the current connection attempt ended."""
        opened, failed = self._attempt_open, self._attempt_open_error
        self._attempt_open, self._attempt_open_error = [], []
        if error is None:
            for callback in opened:
                callback(self)
        else:
            for callback in failed:
                callback(self, error)

    def _use_recovery_hosts(self, hosts: Sequence[Parameters]) -> None:
        """Recovery tries these endpoints in turn (``create_connection``'s configs)."""
        if self._recovery is not None:
            self._recovery.set_hosts(hosts)

    def _abort(self, error: Exception, recover: bool = True) -> None:
        """Drop the stream now and report ``error`` as the close reason (no AMQP close).

        A hook for wrapper faces (the thread-safe Connection's WorkQueueFullError);
        ``recover=False`` makes it final even with automatic recovery enabled.
        """
        if not recover and self._recovery is not None:
            self._recovery.app_closed = True
        self._dispatch(self._engine.abort(error))

    def _flush(self) -> None:
        """Hand queued bytes to the adapter (deferred while dispatching events)."""
        if self._dispatch_depth or self._holding_writes or not self._engine.outbox.chunks:
            return
        data = self._engine.data_to_send()
        if data:
            self._adapter_emit_data(data)
            if self._backpressure:
                self._check_backpressure()

    def _dispatch(self, events: list[ev.Event]) -> None:
        """Turn engine events into callbacks, then write what they queued."""
        handlers = self._handlers
        self._dispatch_depth += 1
        try:
            for event in events:
                handlers[type(event)](event)
        finally:
            self._dispatch_depth -= 1
        self._flush()

    # -- event handlers ---------------------------------------------------

    def _event_handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            ev.ConnectionTuned: self._on_tuned,
            ev.ConnectionOpened: self._on_opened,
            ev.ConnectionBlocked: self._on_blocked_event,
            ev.ConnectionUnblocked: self._on_unblocked_event,
            ev.TransportCloseRequested: self._on_close_requested,
            ev.ConnectionTerminated: self._on_terminated,
            ev.ChannelOpened: self._channel_event,
            ev.ChannelClosed: self._channel_event,
            ev.RpcReplied: self._on_rpc_replied,
            ev.MessageGot: self._channel_event,
            ev.DeliveryReceived: self._on_delivery,
            ev.MessageReturned: self._channel_event,
            ev.PublishConfirmed: self._channel_event,
            ev.ConsumerCancelled: self._channel_event,
            ev.FlowChanged: self._channel_event,
            ev.PublishOutcomeUnknown: self._channel_event,
        }

    def _on_delivery(self, event: ev.DeliveryReceived) -> None:
        method = event.method
        if method.consumer_tag not in event.active and event.machine.give_back(method):
            return  # cancelled by a callback earlier in this batch
        event.token(self._channels[event.channel_number], method, event.properties, event.body)  # type: ignore[operator]

    def _channel_event(self, event: Any) -> None:
        chan = self._channels.get(event.channel_number)
        if chan is not None:
            chan._on_event(event)

    def _on_rpc_replied(self, event: ev.RpcReplied) -> None:
        if event.channel_number == 0:
            if event.token is not None:
                event.token(event.frame)  # type: ignore[operator]
            return
        self._channel_event(event)

    def _on_tuned(self, event: ev.ConnectionTuned) -> None:
        params = self.params
        params.channel_max = event.channel_max
        # A broker may tune frame_max below the 8192 the setter accepts from users.
        params._frame_max = event.frame_max
        params.heartbeat = event.heartbeat
        self._schedule_tick()

    def _on_opened(self, event: ev.ConnectionOpened) -> None:
        self._opened = True
        if self._recovery is not None and self._recovery.active:
            self._recovery.on_opened()
        else:
            self._on_open.run(self)
        self._end_attempt(None)

    def _on_blocked_event(self, event: ev.ConnectionBlocked) -> None:
        self._schedule_tick()
        self._on_blocked.run(self, event.frame)

    def _on_unblocked_event(self, event: ev.ConnectionUnblocked) -> None:
        self._on_unblocked.run(self, event.frame)

    def _on_close_requested(self, event: ev.TransportCloseRequested) -> None:
        self._cancel_tick()
        data = self._engine.data_to_send()  # e.g. CloseOk: write it before disconnecting
        if data:
            self._adapter_emit_data(data)
        self._adapter_disconnect_stream()

    def _on_terminated(self, event: ev.ConnectionTerminated) -> None:
        self._cancel_tick()
        recovery = self._recovery
        if recovery is not None and recovery.closing is not None:
            # The application closed during recovery: a normal close, whatever the stream did.
            recovery.after_close()
            event = ev.ConnectionTerminated(recovery.closing, True)
        self._channels.clear()
        if event.was_open:
            LOGGER.info("Connection closed: %r", event.error)
            self._on_close.run(self, event.error)
        else:
            LOGGER.error("Connection could not be opened: %r", event.error)
            self._on_open_error.run(self, event.error)
            self._end_attempt(event.error)
            if self._raise_open_error:
                raise event.error

    # -- heartbeat / blocked timer ---------------------------------------

    def _schedule_tick(self) -> None:
        deadline = self._engine.next_deadline()
        if deadline is None:
            self._cancel_tick()
            return
        if self._tick_deadline is not None and self._tick_deadline <= deadline:
            return
        self._cancel_tick()
        delay = max(0.0, deadline - self._adapter_now())
        self._tick_deadline = deadline
        self._tick_handle = self._adapter_call_later(delay, self._on_tick)

    def _cancel_tick(self) -> None:
        if self._tick_handle is not None:
            self._adapter_remove_timeout(self._tick_handle)
        self._tick_handle = None
        self._tick_deadline = None

    def _on_tick(self) -> None:
        self._tick_handle = None
        self._tick_deadline = None
        self._dispatch(self._engine.tick(self._adapter_now()))
        if not self.is_closed:
            self._schedule_tick()

    # -- helpers ----------------------------------------------------------

    def _check_backpressure(self) -> None:
        frames = self._engine.outbox.frames_sent or 1
        average = self._engine.outbox.bytes_sent / frames
        buffered = self._get_write_buffer_size()
        threshold = average * self._backpressure_multiplier
        if buffered > threshold:
            LOGGER.warning(
                "Pika: Write buffer exceeded warning threshold at %i bytes and an estimated "
                "%i frames behind",
                buffered,
                int(buffered / max(average, 1)),
            )
            self._backpressure.run(self)

    def _new_engine(self) -> ConnectionEngine:
        params = self.params
        heartbeat = params.heartbeat
        choice: Any = heartbeat
        if callable(heartbeat):
            choice = functools.partial(_call_heartbeat, heartbeat, self)
        config = HandshakeConfig(
            credentials=params.credentials,
            virtual_host=params.virtual_host,
            locale=params.locale,
            channel_max=params.channel_max,
            frame_max=params.frame_max,
            heartbeat=choice,
            client_properties=client_properties(pika.__version__, params.client_properties),
            blocked_connection_timeout=params.blocked_connection_timeout,
            host=params.host,
            port=params.port,
        )
        engine = ConnectionEngine(config)
        if self._recovery is not None:
            engine.ledger = self._recovery.ledger
        return engine


def _call_heartbeat(user_callable: Callback, connection: Connection, server_value: int) -> int:
    """Run the user's heartbeat callable and validate what it returns."""
    value = user_callable(connection, server_value)
    if value is None or callable(value):
        raise TypeError(f"heartbeat callable must return an int, got {value!r}")
    checker = Parameters()
    checker.heartbeat = value  # the setter's type and range checks
    validated: int = checker.heartbeat  # type: ignore[assignment]
    return validated


def _checked(callback: Callback) -> Callback:
    if not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    return callback


def _private_copy(parameters: Parameters | None) -> Parameters:
    """Deep-copy the user's parameters (SSLContext cannot be deep-copied)."""
    if parameters is None:
        return Parameters()
    if not isinstance(parameters, Parameters):
        raise ValueError(f"Expected instance of Parameters, not {type(parameters).__name__}")
    ssl_options = parameters.ssl_options
    parameters.ssl_options = None
    try:
        params = copy.deepcopy(parameters)
    finally:
        parameters.ssl_options = ssl_options
    params.ssl_options = ssl_options
    return params


# Keep frame/spec importable from here for users who reach for them through pika.connection.
_ = (frame, spec)
