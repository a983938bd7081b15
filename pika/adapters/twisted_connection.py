"""Using pika with a Twisted reactor: a Protocol whose channels return Deferreds.

``TwistedProtocolConnection`` is a ``twisted.internet.protocol.Protocol``:
connect it with Twisted (``ClientCreator(reactor, TwistedProtocolConnection,
params).connectTCP(host, port)``, a Factory or an endpoint); the host, port
and TLS settings of the parameters are then ignored (unless automatic
recovery is enabled: see below).  ``ready`` fires with the protocol once the
AMQP handshake is done, ``closed`` with the close reason, and ``channel()``
with a ``TwistedChannel`` whose methods return Deferreds (API.md §19).

Reasons: ``ready`` errbacks with pika's error for the failed handshake (e.g.
ProbableAuthenticationError, an AMQPConnectionError).  ``closed`` callbacks
(never errbacks) with Twisted's ConnectionDone after a clean client close,
ConnectionClosedByBroker after a broker close and StreamLostError when the
stream is lost or a callback raised while input was processed (the
connection is then aborted).  Like ``ready``, it is reset to None once fired.

Callback style (pika 0.x documents): ``TwistedProtocolConnection(params,
on_open_callback=..., on_open_error_callback=..., on_close_callback=...)``
connects by itself to ``params.host:params.port`` (TLS through the stdlib
``ssl_options`` context when set; ``connection_attempts``, ``retry_delay`` and
``socket_timeout`` apply) unless Twisted connected it by the time the reactor
next runs.  The callbacks get ``(connection)``, ``(connection, exc)`` and
``(connection, reason)``; ``channel(on_open_callback=cb)`` calls
``cb(twisted_channel)``, and every TwistedChannel method taking a ``callback=``
calls it with what its Deferred fires with.  ``TwistedConnection`` is the same
class under the name those documents use.

Automatic recovery (``ConnectionParameters(recovery=...)``): after a
recoverable loss the protocol connects itself again to ``params.host`` and
``params.port`` (TLS when ``ssl_options`` is set), even when Twisted made the
first connection, so with recovery enabled the parameters must name the
broker.  The same protocol and TwistedChannel objects carry on: ``ready``
and ``closed`` do not fire for the loss; ``closed`` fires when recovery gives
up (with the last error) or the application closes (a close during recovery
reports ConnectionClosedByClient).  A
suspended channel errbacks its pending Deferreds with
ConnectionRecoveringError, and refuses new calls the same way until it is
restored; publishes awaiting a confirm at the drop errback with
PublishOutcomeUnknownError.  Consumer queues from ``basic_consume`` keep
receiving after recovery.  ``add_on_recovery_callback(cb)`` calls
``cb(protocol, event)`` for each ``pika.recovery`` event.

Theory of operation: the protocol owns an ``_TwistedConnectionAdapter``, pika's
callback ``Connection`` with Twisted supplying timers (``callLater``),
thread hand-off (``callFromThread``) and the transport; every protocol
decision is the engine's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

try:
    from twisted.internet import defer, error, protocol
    from twisted.python.failure import Failure
except ImportError as _missing:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "pika.adapters.twisted_connection requires Twisted; install it with "
        "pip install 'pika[twisted]'"
    ) from _missing

from pika import connection, exceptions
from pika.adapters._twisted_channel import TwistedChannel
from pika.adapters._twisted_consume import ClosableDeferredQueue, ReceivedMessage
from pika.adapters._twisted_tls import TLSClientFactory

__all__ = [
    "ClosableDeferredQueue",
    "ReceivedMessage",
    "TwistedChannel",
    "TwistedConnection",
    "TwistedProtocolConnection",
]

LOGGER = logging.getLogger(__name__)

Callback = Callable[..., Any]

# How long a clean close may wait for the transport to flush before it is aborted.
_CLOSE_GRACE_SECONDS = 10.0
_DEFAULT_CONNECT_TIMEOUT = 30.0


class _TwistedConnectionAdapter(connection.Connection):
    """pika's Connection core, with Twisted's reactor and the protocol's transport."""

    def __init__(
        self,
        parameters: connection.Parameters | None,
        on_open_callback: Callback,
        on_open_error_callback: Callback,
        on_close_callback: Callback,
        custom_reactor: Any,
        on_disconnect_unconnected: Callable[[], None],
        on_connect_stream: Callable[[], None],
    ) -> None:
        self._reactor = custom_reactor
        self._transport: Any = None
        self._close_timer: Any = None
        self._on_disconnect_unconnected = on_disconnect_unconnected
        self._on_connect_stream = on_connect_stream
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            internal_connection_workflow=False,
        )

    # -- the core's adapter hooks -------------------------------------------

    def _adapter_call_later(self, delay: float, callback: Callable[[], Any]) -> object:
        return self._reactor.callLater(delay, callback)

    def _adapter_remove_timeout(self, timeout_id: object) -> None:
        active = getattr(timeout_id, "active", None)
        if active is None:
            raise TypeError(f"Expected a handle returned by call_later, got {timeout_id!r}")
        if active():
            timeout_id.cancel()  # type: ignore[attr-defined]

    def _adapter_add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        if not callable(callback):
            raise TypeError(f"callback must be callable, but got {callback!r}")
        self._reactor.callFromThread(callback)

    def _adapter_connect_stream(self) -> None:
        # Automatic recovery (and the legacy connect()): the protocol dials params.host:port.
        self._on_connect_stream()

    def _adapter_disconnect_stream(self) -> None:
        transport = self._transport
        if transport is None:
            self._on_disconnect_unconnected()
            return
        transport.loseConnection()  # flushes what is queued (e.g. CloseOk) first
        if self._close_timer is None:
            self._close_timer = self._reactor.callLater(
                _CLOSE_GRACE_SECONDS, _abort_transport, transport
            )

    def _adapter_emit_data(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            LOGGER.debug("%r: dropping %d bytes written without a stream", self, len(data))
            return
        transport.write(data)

    # -- called by the protocol ---------------------------------------------

    def _stream_attached(self, transport: Any) -> None:
        """The protocol is connected: name the real peer, then start the handshake."""
        self._transport = transport
        peer = transport.getPeer()
        host, port = getattr(peer, "host", None), getattr(peer, "port", None)
        if (
            host is not None
            and port is not None
            and self.connection_state == self.CONNECTION_INIT
            and self.params.recovery is None  # recovery reconnects to the params: keep them
        ):
            # Errors should name where we really are, not the ignored params.host/port.
            self.params.host = host
            self.params.port = port
            self._engine = self._new_engine()
        self._on_stream_connected()

    def _stream_detached(self, error: Exception | None) -> None:
        self._transport = None
        timer, self._close_timer = self._close_timer, None
        if timer is not None and timer.active():
            timer.cancel()
        self._on_stream_terminated(error)


def _abort_transport(transport: Any) -> None:
    LOGGER.warning("Stream did not close within %ss; aborting it", _CLOSE_GRACE_SECONDS)
    abort = getattr(transport, "abortConnection", None)
    if abort is not None:
        abort()


class TwistedProtocolConnection(protocol.Protocol):
    """An AMQP connection as a Twisted Protocol (see the module docstring)."""

    def __init__(
        self,
        parameters: connection.Parameters | None = None,
        custom_reactor: Any = None,
        *,
        on_open_callback: Callback | None = None,
        on_open_error_callback: Callback | None = None,
        on_close_callback: Callback | None = None,
    ) -> None:
        if custom_reactor is None:
            from twisted.internet import reactor as custom_reactor
        for name, value in (
            ("on_open_callback", on_open_callback),
            ("on_open_error_callback", on_open_error_callback),
            ("on_close_callback", on_close_callback),
        ):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable, got {value!r}")
        self.ready: defer.Deferred[Any] | None = defer.Deferred()
        self.ready.addCallback(lambda _: self.connectionReady())
        self.closed: defer.Deferred[Any] | None = None
        self._reactor = custom_reactor
        self._user_on_open = on_open_callback
        self._user_on_open_error = on_open_error_callback
        self._user_on_close = on_close_callback
        self._failed_by: BaseException | None = None
        self._lost_reason: BaseException | None = None
        self._connector: Any = None
        self._retry_timer: Any = None
        self._closed_while_recovering = False
        self._recovery_relays: dict[Callback, Callback] = {}
        self._impl = _TwistedConnectionAdapter(
            parameters,
            self._on_connection_ready,
            self._on_connection_failed,
            self._on_connection_closed,
            custom_reactor,
            self._disconnect_unconnected,
            self._reconnect,
        )
        self._attempts_left = max(1, self._impl.params.connection_attempts)
        if on_open_callback or on_open_error_callback or on_close_callback:
            self._reactor.callLater(0, self._connect_self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} impl={self._impl!r}>"

    # -- public API -----------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True once the connection is open and until it starts closing."""
        return self._impl.is_open

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed."""
        return self._impl.is_closed

    @property
    def is_recovering(self) -> bool:
        """True from a recoverable loss until recovered, given up or closed."""
        return self._impl.is_recovering

    def add_on_recovery_callback(self, callback: Callback) -> None:
        """``callback(protocol, event)`` for each ``pika.recovery`` event.

        Raises ConnectionWrongStateError when recovery is not enabled in the parameters.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")

        def relay(_impl: Any, event: Any) -> None:
            callback(self, event)

        self._impl.add_on_recovery_callback(relay)
        self._recovery_relays[callback] = relay

    def remove_on_recovery_callback(self, callback: Callback) -> bool:
        """Forget a recovery callback; True if it was registered."""
        relay = self._recovery_relays.pop(callback, None)
        return relay is not None and self._impl.remove_on_recovery_callback(relay)

    def channel(
        self,
        channel_number: int | Callback | None = None,
        on_open_callback: Callback | None = None,
    ) -> defer.Deferred[Any]:
        """Open a channel; the Deferred fires with a TwistedChannel.

        ``on_open_callback(twisted_channel)`` (pika's callback style, also in the
        0.x order ``channel(on_open_callback)``) runs before the Deferred fires.
        """
        if callable(channel_number):
            channel_number, on_open_callback = on_open_callback, channel_number
        if self._impl.is_recovering:
            return defer.fail(
                exceptions.ConnectionRecoveringError(
                    "channel() refused: the connection is recovering"
                )
            )
        opened: defer.Deferred[Any] = defer.Deferred()
        holder: list[TwistedChannel] = []

        def on_open(_channel: Any) -> None:
            holder[0]._on_resumed = None
            if on_open_callback is not None:
                on_open_callback(holder[0])
            opened.callback(holder[0])

        def on_close(_channel: Any, reason: BaseException) -> None:
            if not opened.called:
                opened.errback(reason)
                if on_open_callback is not None:
                    opened.addErrback(_reported_elsewhere, "channel open")

        try:
            if on_open_callback is not None and not callable(on_open_callback):
                raise TypeError(f"on_open_callback must be callable, got {on_open_callback!r}")
            chan = self._impl.channel(channel_number, on_open_callback=on_open)
        except Exception:
            return defer.fail()
        chan.add_on_close_callback(on_close)
        holder.append(TwistedChannel(chan))
        # Lost before OpenOk: recovery re-opens the channel, so `opened` fires then.
        holder[0]._on_resumed = lambda: on_open(chan)
        return opened

    def close(
        self, reply_code: int = 200, reply_text: str = "Normal shutdown"
    ) -> defer.Deferred[Any] | None:
        """Close the connection; returns ``closed`` (a no-op once closing or closed).

        During recovery this stops it; ``closed`` then fires with ConnectionClosedByClient.
        """
        if not (self._impl.is_closed or self._impl.is_closing):
            self._closed_while_recovering = self._impl.is_recovering
            self._impl.close(reply_code, reply_text)
        return self.closed

    def connectionReady(self) -> TwistedProtocolConnection:
        """What ``ready`` fires with: the protocol itself (override to change it)."""
        return self

    # -- twisted.internet.protocol.Protocol ------------------------------------

    def connectionMade(self) -> None:
        """The transport is up: start the AMQP handshake."""
        if self._impl.connection_state != self._impl.CONNECTION_INIT:
            LOGGER.warning("%r: connected after it was closed; dropping the stream", self)
            transport: Any = self.transport
            transport.loseConnection()
            return
        self._connector = None
        self._failed_by = None  # a recovered connection starts afresh
        self._lost_reason = None
        self._impl._stream_attached(self.transport)

    def dataReceived(self, data: bytes) -> None:
        """Feed the broker's bytes to the engine (any chunking works)."""
        if self._failed_by is not None:
            return  # aborting: ignore what is still in flight
        try:
            self._impl._on_data_available(data)
        except Exception as exc:
            # A callback raised: tear the connection down like the other adapters do.
            LOGGER.exception("%r: unhandled exception while processing input; aborting", self)
            self._failed_by = exc
            transport: Any = self.transport
            abort = getattr(transport, "abortConnection", None)
            if abort is not None:
                abort()
            elif transport is not None:
                transport.loseConnection()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """The stream is gone: report it to the engine (channels, then the connection)."""
        value = reason.value if isinstance(reason, Failure) else reason
        self._lost_reason = value
        self._connector = None
        # Forget the dead transport: recovery connects this same protocol again.
        self.transport = None
        self.connected = 0
        try:
            self._impl._stream_detached(self._stream_error(value))
        except Exception:
            LOGGER.exception("%r: a close callback raised", self)

    # -- internals ------------------------------------------------------------

    def _stream_error(self, value: Any) -> Exception | None:
        """pika's error for a lost stream; None for a clean EOF (the engine decides)."""
        cause = self._failed_by if self._failed_by is not None else value
        if cause is None or (self._failed_by is None and isinstance(value, error.ConnectionDone)):
            return None
        lost = exceptions.StreamLostError(f"Stream connection lost: {cause!r}")
        lost.__cause__ = cause
        return lost

    def _on_connection_ready(self, _connection: Any) -> None:
        ready, self.ready = self.ready, None
        if self.closed is None:  # the first open (or a legacy connect() after a close)
            self.closed = defer.Deferred()
        if ready is not None:
            ready.callback(None)
        if self._user_on_open is not None:
            self._user_on_open(self)

    def _on_connection_failed(self, _connection: Any, exc: BaseException) -> None:
        ready, self.ready = self.ready, None
        if ready is not None:
            ready.errback(exc)
            if self._user_on_open_error is not None:
                ready.addErrback(_reported_elsewhere, "connection open")
        if self._user_on_open_error is not None:
            self._user_on_open_error(self, exc)

    def _on_connection_closed(self, _connection: Any, exc: BaseException) -> None:
        reason: BaseException = exc
        if (
            isinstance(exc, exceptions.ConnectionClosedByClient)
            and isinstance(self._lost_reason, error.ConnectionDone)
            and not self._closed_while_recovering
        ):
            reason = self._lost_reason  # pika 1.x reports a clean client close this way
        closed, self.closed = self.closed, None
        if closed is not None:
            closed.callback(reason)
        if self._user_on_close is not None:
            self._user_on_close(self, reason)

    # -- connecting by itself (callback style) ---------------------------------

    def _connect_self(self) -> None:
        self._retry_timer = None
        if self.transport is not None or self._impl.connection_state != self._impl.CONNECTION_INIT:
            return  # Twisted connected us after all, or close() came first
        self._attempts_left -= 1
        self._dial()

    def _reconnect(self) -> None:
        """The core's ``_adapter_connect_stream``: a recovery attempt or a legacy connect()."""
        if self._impl.is_recovering:
            self._dial()  # one try: recovery's own backoff schedules the next
            return
        self._attempts_left = max(1, self._impl.params.connection_attempts)
        self._connect_self()

    def _dial(self) -> None:
        """Connect this protocol to params.host:params.port (TLS with ``ssl_options``)."""
        params = self._impl.params
        factory: protocol.ClientFactory = _SelfConnectFactory(self)
        ssl_options = params.ssl_options
        if ssl_options is not None:
            hostname = ssl_options.server_hostname or params.host
            factory = TLSClientFactory(factory, ssl_options.context, hostname)
        LOGGER.info("Connecting to %s:%s", params.host, params.port)
        timeout = params.socket_timeout or _DEFAULT_CONNECT_TIMEOUT
        self._connector = self._reactor.connectTCP(params.host, params.port, factory, timeout)

    def _connect_failed(self, reason: Failure) -> None:
        self._connector = None
        if self._impl.connection_state != self._impl.CONNECTION_INIT:
            self._impl._stream_detached(None)  # close() aborted the attempt
            return
        params = self._impl.params
        if self._attempts_left > 0 and not self._impl.is_recovering:
            LOGGER.warning(
                "Connecting to %s:%s failed: %s; retrying", params.host, params.port, reason.value
            )
            self._retry_timer = self._reactor.callLater(params.retry_delay, self._connect_self)
            return
        failure = exceptions.AMQPConnectionError(
            f"Could not connect to {params.host}:{params.port}: {reason.value}",
            host=params.host,
            port=params.port,
        )
        failure.__cause__ = reason.value
        self._impl._stream_detached(failure)

    def _disconnect_unconnected(self) -> None:
        """close() before the stream is up: stop connecting, then report the end."""
        connector, self._connector = self._connector, None
        if connector is not None:
            connector.disconnect()  # stops connecting (or drops a TLS handshake in progress)
            return
        timer, self._retry_timer = self._retry_timer, None
        if timer is not None and timer.active():
            timer.cancel()
        self._reactor.callLater(0, self._impl._stream_detached, None)


class _SelfConnectFactory(protocol.ClientFactory):
    """Hands the already built protocol to the connection Twisted makes for it."""

    def __init__(self, owner: TwistedProtocolConnection) -> None:
        self._owner = owner

    def buildProtocol(self, addr: Any) -> TwistedProtocolConnection:
        return self._owner

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self._owner._connect_failed(reason)


def _reported_elsewhere(failure: Failure, what: str) -> None:
    """Consume a failure that a user callback has already been told about."""
    LOGGER.debug("%s failed (reported to the callback): %s", what, failure.value)


class TwistedConnection(TwistedProtocolConnection):
    """The name pika 0.x documents use for TwistedProtocolConnection."""
