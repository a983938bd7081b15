"""Establishing a full-stack connection: TCP, optional TLS, then the AMQP handshake.

``AMQPConnector`` makes one attempt against one resolved address;
``AMQPConnectionWorkflow`` resolves every configured host and drives connectors
over all addresses, for ``connection_attempts`` cycles separated by
``retry_delay``. Neither reports from inside the call that started or aborted it:
results always arrive through a later loop callback.

The connector talks to the connection object only through its public callback
registration (``add_on_open_callback``/``add_on_open_error_callback``), ``close``
and the stream-protocol methods the transport calls.
"""

from __future__ import annotations

import abc
import collections
import enum
import functools
import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pika import exceptions, tcp_socket_opts
from pika._params import Parameters
from pika.adapters.utils.nbio_interface import (
    AbstractIOReference,
    AbstractIOServices,
    AbstractStreamProtocol,
    AbstractTimerReference,
    AddrInfo,
    GetAddrInfoResult,
    StreamingResult,
)

LOGGER = logging.getLogger(__name__)

#: reply_code of the Connection.Close sent when the AMQP phase must be cut short.
_ABORT_REPLY_CODE = 320


# -- exceptions -------------------------------------------------------------------


class AMQPConnectorException(Exception):
    """Base of the connector and workflow errors (not an ``AMQPError``)."""


class AMQPConnectorStackTimeout(AMQPConnectorException):
    """``stack_timeout`` expired before the connection was fully set up."""


class AMQPConnectorAborted(AMQPConnectorException):
    """``AMQPConnector.abort()`` completed."""


class AMQPConnectorWrongState(AMQPConnectorException):
    """An operation was requested in a state that does not allow it."""


class AMQPConnectorPhaseErrorBase(AMQPConnectorException):
    """A connection phase failed; ``exception`` is the underlying error."""

    def __init__(
        self,
        exception: BaseException,
        *args: Any,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(*args)
        self.exception = exception
        self.host = host
        self.port = port

    def __repr__(self) -> str:
        where = "" if self.host is None else f" (host={self.host!r}, port={self.port!r})"
        return f"{self.__class__.__name__}: {self.exception!r}; {self.args}{where}"


class AMQPConnectorSocketConnectError(AMQPConnectorPhaseErrorBase):
    """TCP connect failed, or ``socket_timeout`` expired."""


class AMQPConnectorTransportSetupError(AMQPConnectorPhaseErrorBase):
    """The transport (TLS handshake, stream linkup) could not be set up."""


class AMQPConnectorAMQPHandshakeError(AMQPConnectorPhaseErrorBase):
    """The AMQP handshake failed."""


class AMQPConnectionWorkflowAborted(AMQPConnectorException):
    """``AMQPConnectionWorkflow.abort()`` completed."""


class AMQPConnectionWorkflowWrongState(AMQPConnectorException):
    """Defined for compatibility; the workflow raises ``AMQPConnectorWrongState``."""


class AMQPConnectionWorkflowFailed(AMQPConnectorException):
    """Every attempt failed; ``exceptions`` holds one error per attempt, in order."""

    def __init__(self, exceptions: Sequence[BaseException], *args: Any) -> None:
        super().__init__(*args)
        self.exceptions = tuple(exceptions)

    def __repr__(self) -> str:
        if not self.exceptions:
            return f"{self.__class__.__name__}: no attempts were made"
        return (
            f"{self.__class__.__name__}: {len(self.exceptions)} exceptions in all; "
            f"last exception - {self.exceptions[-1]!r}; "
            f"first exception - {self.exceptions[0]!r}"
        )


class AMQPConnectionWorkflowDNSFailed(AMQPConnectionWorkflowFailed, exceptions.AMQPConnectionError):
    """The workflow failed because a host name could not be resolved.

    Also an ``AMQPConnectionError``, so both pika's historical ``except
    AMQPConnectionWorkflowFailed`` and the natural ``except AMQPConnectionError`` work.
    """

    def __init__(
        self,
        exceptions: Sequence[BaseException],
        *args: Any,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        AMQPConnectionWorkflowFailed.__init__(self, exceptions, *args)
        self.host = host
        self.port = port

    __repr__ = AMQPConnectionWorkflowFailed.__repr__


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
        conn.add_on_open_callback(self._on_amqp_open)
        conn.add_on_open_error_callback(
            self._on_amqp_open_error, remove_default=not self._keep_default_error_callback
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


# -- the multi-host workflow ----------------------------------------------------------


class AbstractAMQPConnectionWorkflow(abc.ABC):
    """Interface of a strategy that produces an open connection from configs."""

    @abc.abstractmethod
    def start(
        self,
        connection_configs: Sequence[Parameters],
        connector_factory: Callable[[], AMQPConnector],
        native_loop: Any,
        on_done: Callable[[Any], Any],
    ) -> None:
        """Begin; ``on_done`` gets the connection, ``AMQPConnectionWorkflowFailed``
        or ``AMQPConnectionWorkflowAborted``."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Abandon the workflow; ``on_done(AMQPConnectionWorkflowAborted())`` follows."""


class _WorkflowState(enum.Enum):
    INIT = "INIT"
    ACTIVE = "ACTIVE"
    DONE = "DONE"


class AMQPConnectionWorkflow(AbstractAMQPConnectionWorkflow):
    """Try every resolved address of every config, for ``connection_attempts`` cycles.

    ``connection_attempts`` and ``retry_delay`` come from the last config. A DNS
    failure ends the current cycle. With ``_until_first_amqp_attempt`` the first
    AMQP-phase failure ends the workflow (used by the adapters' own connect path,
    so bad credentials are not retried).
    """

    def __init__(self, _until_first_amqp_attempt: bool = False) -> None:
        self._until_first_amqp_attempt = _until_first_amqp_attempt
        self._nbio: AbstractIOServices | None = None
        self._state = _WorkflowState.INIT
        self._configs: list[Parameters] = []
        self._connector_factory: Callable[[], AMQPConnector] | None = None
        self._on_done: Callable[[Any], Any] | None = None
        self._attempts_left = 0
        self._retry_delay = 0.0
        self._errors: list[BaseException] = []
        self._dns_failed_config: Parameters | None = None
        self._config_index = 0
        self._addrs: collections.deque[AddrInfo] = collections.deque()
        self._timer: AbstractTimerReference | None = None
        self._dns_ref: AbstractIOReference | None = None
        self._connector: AMQPConnector | None = None
        self._aborting = False

    def set_io_services(self, nbio: AbstractIOServices) -> None:
        """Give the workflow the adapter's I/O services (called by the adapter)."""
        self._nbio = nbio

    def start(
        self,
        connection_configs: Iterable[Parameters],
        connector_factory: Callable[[], AMQPConnector],
        native_loop: Any,
        on_done: Callable[[Any], Any],
    ) -> None:
        if self._state is not _WorkflowState.INIT:
            raise AMQPConnectorWrongState(f"{self.__class__.__name__} already started")
        configs = _config_list(connection_configs)
        if not callable(on_done):
            raise TypeError(f"on_done must be callable, but got {on_done!r}")
        if self._nbio is None:
            raise AMQPConnectorWrongState("set_io_services() must be called before start()")
        self._configs, self._connector_factory, self._on_done = configs, connector_factory, on_done
        self._attempts_left = configs[-1].connection_attempts
        self._retry_delay = configs[-1].retry_delay
        self._state = _WorkflowState.ACTIVE
        self._timer = self._nbio.call_later(0, self._start_cycle)

    def abort(self) -> None:
        if self._state is not _WorkflowState.ACTIVE:
            raise AMQPConnectorWrongState(f"abort() not allowed in state {self._state.value}")
        if self._aborting:
            return
        self._aborting = True
        LOGGER.debug("Connection workflow: aborting")
        if self._connector is not None:
            self._connector.abort()  # its AMQPConnectorAborted completes the abort
            return
        self._cancel_pending()
        self._timer = self._io().call_later(
            0, functools.partial(self._report, AMQPConnectionWorkflowAborted())
        )

    # -- cycle ---------------------------------------------------------------------

    def _io(self) -> AbstractIOServices:
        if self._nbio is None:
            raise AMQPConnectorWrongState("set_io_services() was not called")
        return self._nbio

    def _start_cycle(self) -> None:
        self._timer = None
        self._attempts_left -= 1
        self._config_index = -1
        LOGGER.debug("Connection workflow: cycle starts; %d more after it", self._attempts_left)
        self._next_config()

    def _next_config(self) -> None:
        self._config_index += 1
        if self._config_index >= len(self._configs):
            self._cycle_failed()
            return
        params = self._configs[self._config_index]
        self._dns_ref = self._io().getaddrinfo(
            params.host,
            params.port,
            self._on_resolved,
            socktype=socket.SOCK_STREAM,
            proto=socket.IPPROTO_TCP,
        )

    def _on_resolved(self, result: GetAddrInfoResult) -> None:
        self._dns_ref = None
        params = self._configs[self._config_index]
        if isinstance(result, BaseException):
            LOGGER.error("Could not resolve %r:%s: %r", params.host, params.port, result)
            self._errors.append(result)
            self._dns_failed_config = params
            self._cycle_failed()
            return
        self._dns_failed_config = None
        self._addrs = collections.deque(result)
        LOGGER.debug("Resolved %r to %d address(es)", params.host, len(self._addrs))
        self._try_next_address()

    def _try_next_address(self) -> None:
        if not self._addrs:
            self._next_config()
            return
        addr = self._addrs.popleft()
        factory = self._connector_factory
        if factory is None:
            return
        self._connector = factory()
        self._connector.start(addr, self._configs[self._config_index], self._on_connector_done)

    def _on_connector_done(self, result: Any) -> None:
        self._connector = None
        if self._aborting:
            if not isinstance(result, BaseException):
                # Lost the race: an open connection arrived; hand it over anyway.
                self._report(result)
            else:
                self._report(AMQPConnectionWorkflowAborted())
            return
        if not isinstance(result, BaseException):
            self._report(result)
            return
        self._errors.append(result)
        self._dns_failed_config = None
        if self._until_first_amqp_attempt and isinstance(result, AMQPConnectorAMQPHandshakeError):
            if isinstance(result.exception, exceptions.ConnectionOpenAborted):
                self._report(AMQPConnectionWorkflowAborted())
            else:
                self._report(self._failure())
            return
        self._try_next_address()

    def _cycle_failed(self) -> None:
        if self._attempts_left > 0:
            LOGGER.info("Connection workflow: retrying in %ss", self._retry_delay)
            self._timer = self._io().call_later(self._retry_delay, self._start_cycle)
        else:
            self._report(self._failure())

    def _failure(self) -> AMQPConnectionWorkflowFailed:
        params = self._dns_failed_config
        if params is not None:
            return AMQPConnectionWorkflowDNSFailed(self._errors, host=params.host, port=params.port)
        return AMQPConnectionWorkflowFailed(self._errors)

    def _cancel_pending(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._dns_ref is not None:
            self._dns_ref.cancel()
            self._dns_ref = None

    def _report(self, result: Any) -> None:
        self._cancel_pending()
        self._state = _WorkflowState.DONE
        if isinstance(result, BaseException):
            LOGGER.error("Connection workflow failed: %r", result)
        else:
            LOGGER.debug("Connection workflow succeeded: %r", result)
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(result)


def _config_list(connection_configs: Iterable[Parameters]) -> list[Parameters]:
    try:
        configs = list(connection_configs)
    except TypeError as exc:
        raise TypeError(
            f"connection_configs must be an iterable of Parameters, got {connection_configs!r}"
        ) from exc
    if not configs:
        raise ValueError("connection_configs must not be empty")
    for params in configs:
        if not isinstance(params, Parameters):
            raise TypeError(f"connection_configs must contain Parameters, got {params!r}")
    return configs
