"""``AMQPConnector``: one full-stack connection attempt (re-exported by
``connection_workflow``).

Phases: TCP connect (guarded by ``socket_timeout``), transport setup (TLS handshake
and stream linkup), then the AMQP handshake run by the connection object; the whole
sequence is guarded by ``stack_timeout``. The connector talks to the connection only
through ``_add_attempt_callbacks`` (which also report the attempts of automatic
recovery), ``close`` (``_abort`` for a recovery attempt) and the stream-protocol
methods the transport calls.
"""

from __future__ import annotations

import enum
import functools
import logging
import socket
from collections.abc import Callable
from typing import Any

from pika import exceptions, tcp_socket_opts
from pika._params import Parameters
from pika.adapters.utils._workflow_errors import (
    AMQPConnectorAborted,
    AMQPConnectorAMQPHandshakeError,
    AMQPConnectorSocketConnectError,
    AMQPConnectorStackTimeout,
    AMQPConnectorTransportSetupError,
    AMQPConnectorWrongState,
)
from pika.adapters.utils.nbio_interface import (
    AbstractIOReference,
    AbstractIOServices,
    AbstractStreamProtocol,
    AbstractTimerReference,
    AddrInfo,
    StreamingResult,
)

# Log under the public module that re-exports the connector.
LOGGER = logging.getLogger("pika.adapters.utils.connection_workflow")

#: reply_code of the Connection.Close sent when the AMQP phase must be cut short.
_ABORT_REPLY_CODE = 320


ConnectionFactory = Callable[[Parameters], Any]


class _Phase(enum.Enum):
    INIT = "INIT"
    TCP = "TCP"
    TRANSPORT = "TRANSPORT"
    AMQP = "AMQP"
    DONE = "DONE"


def _server_hostname(params: Parameters) -> str | None:
    ssl_options = params.ssl_options
    if ssl_options is None:
        return None
    return ssl_options.server_hostname or params.host


class AMQPConnector:
    """One full-stack connection attempt against one resolved address."""

    def __init__(self, conn_factory: ConnectionFactory, nbio: AbstractIOServices) -> None:
        self._conn_factory = conn_factory
        self._nbio = nbio
        self._phase = _Phase.INIT
        # The adapter's own connect path keeps the connection's default open-error
        # handler so that an unhandled handshake failure still raises.
        self._keep_default_error_callback = False
        self._params: Parameters | None = None
        self._addr: AddrInfo | None = None
        self._on_done: Callable[[Any], Any] | None = None
        self._sock: socket.socket | None = None
        self._conn: Any = None
        self._io_ref: AbstractIOReference | None = None
        self._socket_timer: AbstractTimerReference | None = None
        self._stack_timer: AbstractTimerReference | None = None
        self._report_timer: AbstractTimerReference | None = None
        self._timed_out = False
        self._aborting = False

    def __repr__(self) -> str:
        target = "" if self._addr is None else f" addr={self._addr[4]!r}"
        return f"<{self.__class__.__name__} {self._phase.value}{target}>"

    def start(
        self, addr_record: AddrInfo, conn_params: Parameters, on_done: Callable[[Any], Any]
    ) -> None:
        """Connect to ``addr_record`` (a ``getaddrinfo`` entry); ``on_done`` gets the result."""
        if self._phase is not _Phase.INIT:
            raise AMQPConnectorWrongState(f"start() called twice on {self!r}")
        if not callable(on_done):
            raise TypeError(f"on_done must be callable, but got {on_done!r}")
        self._addr, self._params, self._on_done = addr_record, conn_params, on_done
        self._phase = _Phase.TCP
        if conn_params.stack_timeout:
            self._stack_timer = self._nbio.call_later(
                conn_params.stack_timeout, self._on_stack_timeout
            )
        self._start_tcp(conn_params)

    def abort(self) -> None:
        """Abandon the attempt; ``on_done(AMQPConnectorAborted())`` follows later."""
        if self._phase in (_Phase.INIT, _Phase.DONE):
            raise AMQPConnectorWrongState(f"abort() not allowed on {self!r}")
        if self._aborting:
            return
        self._aborting = True
        LOGGER.debug("%r: aborting", self)
        if self._phase is _Phase.AMQP:
            self._close_amqp("Client aborted the connection attempt")
        else:
            self._report_later(AMQPConnectorAborted())

    # -- phases -------------------------------------------------------------------

    def _where(self) -> dict[str, Any]:
        params = self._params
        return {} if params is None else {"host": params.host, "port": params.port}

    def _start_tcp(self, params: Parameters) -> None:
        family, socktype, proto, _, sockaddr = self._addr or (0, 0, 0, "", ())
        try:
            sock = self._sock = socket.socket(family, socktype or socket.SOCK_STREAM, proto)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tcp_socket_opts.set_sock_opts(params.tcp_options, sock)
            sock.setblocking(False)
            self._io_ref = self._nbio.connect_socket(sock, sockaddr, self._on_tcp_done)
        except Exception as exc:
            LOGGER.error("%r: could not start the TCP connection: %r", self, exc)
            self._report_later(AMQPConnectorSocketConnectError(exc, **self._where()))
            return
        if params.socket_timeout:
            self._socket_timer = self._nbio.call_later(
                params.socket_timeout, self._on_socket_timeout
            )

    def _on_socket_timeout(self) -> None:
        self._socket_timer = None
        timeout = self._params.socket_timeout if self._params is not None else None
        error = TimeoutError(f"TCP connection attempt timed out after socket_timeout={timeout}s")
        LOGGER.error("%r: %s", self, error)
        self._report(AMQPConnectorSocketConnectError(error, **self._where()))

    def _on_tcp_done(self, error: BaseException | None) -> None:
        self._io_ref = None
        self._cancel_socket_timer()
        if error is not None:
            LOGGER.error("%r: TCP connection failed: %r", self, error)
            self._report(AMQPConnectorSocketConnectError(error, **self._where()))
            return
        LOGGER.debug("%r: TCP connected", self)
        self._phase = _Phase.TRANSPORT
        self._start_transport()

    def _start_transport(self) -> None:
        params, sock = self._params, self._sock
        if params is None or sock is None:
            return
        try:
            self._conn = self._conn_factory(params)
            ssl_options = params.ssl_options
            self._sock = None  # create_streaming_connection owns it from here
            self._io_ref = self._nbio.create_streaming_connection(
                self._protocol_factory,
                sock,
                self._on_transport_done,
                ssl_context=None if ssl_options is None else ssl_options.context,
                server_hostname=_server_hostname(params),
            )
        except Exception as exc:
            LOGGER.exception("%r: could not set up the transport", self)
            self._report_later(AMQPConnectorTransportSetupError(exc, **self._where()))

    def _protocol_factory(self) -> AbstractStreamProtocol:
        conn: AbstractStreamProtocol = self._conn
        return conn

    def _on_transport_done(self, result: StreamingResult) -> None:
        self._io_ref = None
        if isinstance(result, BaseException):
            LOGGER.error("%r: transport setup failed: %r", self, result)
            self._report(AMQPConnectorTransportSetupError(result, **self._where()))
            return
        LOGGER.debug("%r: transport up (%r); starting the AMQP handshake", self, result[0])
        self._phase = _Phase.AMQP
        conn = self._conn
        conn._add_attempt_callbacks(
            self._on_amqp_open, self._on_amqp_open_error, self._keep_default_error_callback
        )

    def _on_amqp_open(self, conn: Any) -> None:
        if self._phase is _Phase.AMQP:
            LOGGER.info("%r: AMQP connection established", self)
            self._report(conn)

    def _on_amqp_open_error(self, conn: Any, error: BaseException) -> None:
        if self._phase is not _Phase.AMQP:
            return
        result: BaseException
        if self._aborting:
            result = AMQPConnectorAborted()
        elif self._timed_out:
            result = AMQPConnectorAMQPHandshakeError(self._stack_timeout_error(), **self._where())
        else:
            result = AMQPConnectorAMQPHandshakeError(error, **self._where())
        self._report(result)

    # -- timeouts and completion ----------------------------------------------------

    def _stack_timeout_error(self) -> AMQPConnectorStackTimeout:
        timeout = self._params.stack_timeout if self._params is not None else None
        return AMQPConnectorStackTimeout(
            f"Timeout during AMQP setup ({self._phase.value} phase) after stack_timeout={timeout}s"
        )

    def _on_stack_timeout(self) -> None:
        self._stack_timer = None
        LOGGER.error("%r: stack_timeout expired", self)
        if self._phase is _Phase.AMQP:
            self._timed_out = True
            self._close_amqp(f"Timeout while setting up AMQP to {self._addr and self._addr[4]!r}")
            return
        error_class = (
            AMQPConnectorSocketConnectError
            if self._phase is _Phase.TCP
            else AMQPConnectorTransportSetupError
        )
        self._report(error_class(self._stack_timeout_error(), **self._where()))

    def _close_amqp(self, reply_text: str) -> None:
        """Cut the AMQP phase short; the open-error callback then reports the outcome."""
        conn = self._conn
        if conn.is_closed:
            # Terminated without our open-error callback running (an earlier callback
            # raised): report from here so the attempt does not hang.
            self._report_later(
                AMQPConnectorAborted()
                if self._aborting
                else AMQPConnectorAMQPHandshakeError(self._stack_timeout_error(), **self._where())
            )
            return
        if conn.is_closing:
            return  # already on its way down: the open-error callback will report
        if conn.is_recovering and not self._aborting:
            # A recovery attempt timed out: fail the attempt, not the whole connection.
            conn._abort(self._stack_timeout_error())
            return
        try:
            conn.close(_ABORT_REPLY_CODE, reply_text)
        except exceptions.ConnectionWrongStateError as exc:
            LOGGER.debug("%r: close during handshake refused: %r", self, exc)

    def _cancel_socket_timer(self) -> None:
        if self._socket_timer is not None:
            self._socket_timer.cancel()
            self._socket_timer = None

    def _cleanup(self) -> None:
        """Release everything this attempt holds (the connection is not touched)."""
        self._phase = _Phase.DONE
        self._cancel_socket_timer()
        for timer in (self._stack_timer, self._report_timer):
            if timer is not None:
                timer.cancel()
        self._stack_timer = self._report_timer = None
        if self._io_ref is not None:
            self._io_ref.cancel()
            self._io_ref = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _report(self, result: Any) -> None:
        if self._phase is _Phase.DONE:
            return
        self._cleanup()
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(result)

    def _report_later(self, result: Any) -> None:
        self._cleanup()
        self._report_timer = self._nbio.call_later(0, functools.partial(self._deliver, result))

    def _deliver(self, result: Any) -> None:
        self._report_timer = None
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(result)
