"""``BaseConnection``: the callback-style ``Connection`` on top of ``AbstractIOServices``.

This layer holds no protocol logic. It maps the core's ``_adapter_*`` hooks onto the
I/O services, acts as the stream protocol of its transport, and runs the adapter's
own connect path (a one-config ``AMQPConnectionWorkflow``) with the error mapping
users rely on.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Sequence
from typing import Any

from pika import connection, exceptions
from pika.adapters.utils import connection_workflow as cw
from pika.adapters.utils.io_services_utils import RxEndOfFile
from pika.adapters.utils.nbio_interface import (
    AbstractIOServices,
    AbstractStreamProtocol,
    AbstractStreamTransport,
    AbstractTimerReference,
)

__all__ = ["BaseConnection"]

LOGGER = logging.getLogger(__name__)

Callback = Callable[..., Any]
OnDone = Callable[[Any], Any]


def check_parameters(parameters: object) -> None:
    """ValueError unless ``parameters`` is None/falsy or a ``Parameters`` instance."""
    if parameters and not isinstance(parameters, connection.Parameters):
        # Only the type: a mistakenly passed URL string may carry a password.
        raise ValueError(f"Expected instance of Parameters, not {type(parameters).__name__}")


def resolve_loop_alias(custom_ioloop: Any, alias_value: Any, alias_name: str) -> Any:
    """Merge ``custom_ioloop`` with a keyword alias (``ioloop=``, ``loop=``)."""
    if alias_value is None:
        return custom_ioloop
    if custom_ioloop is not None:
        raise TypeError(f"Pass either custom_ioloop or {alias_name}, not both")
    return alias_value


class BaseConnection(connection.Connection, AbstractStreamProtocol):
    """Base of the asynchronous adapters; concrete classes supply the ``nbio`` services."""

    def __init__(
        self,
        parameters: connection.Parameters | None,
        on_open_callback: Callback | None,
        on_open_error_callback: Callback | None,
        on_close_callback: Callback | None,
        nbio: AbstractIOServices,
        internal_connection_workflow: bool = True,
        *,
        stop_ioloop_on_close: bool = False,
    ) -> None:
        if parameters and not isinstance(parameters, connection.Parameters):
            # Only the type: a mistakenly passed URL string may carry a password.
            raise ValueError(f"Expected instance of Parameters, not {type(parameters).__name__}")
        # The I/O services must exist before the core schedules the connect step.
        self._nbio = nbio
        self._transport: AbstractStreamTransport | None = None
        self._connection_workflow: cw.AMQPConnectionWorkflow | None = None
        self._workflow_abort_requested = False
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            internal_connection_workflow,
        )
        if stop_ioloop_on_close:
            self.add_on_close_callback(self._stop_ioloop)
            self.add_on_open_error_callback(self._stop_ioloop, remove_default=False)

    def __repr__(self) -> str:
        state = self._STATE_NAMES.get(self.connection_state, "?")
        return (
            f"<{self.__class__.__name__} {state} transport={self._transport!r} "
            f"params={self.params!r}>"
        )

    @property
    def ioloop(self) -> Any:
        """The native loop this connection runs on."""
        return self._nbio.get_native_ioloop()

    @staticmethod
    @abc.abstractmethod
    def _io_services_for(loop: Any) -> AbstractIOServices:
        """The adapter's I/O services for ``loop`` (its native loop, or None for the default)."""

    @classmethod
    def create_connection(
        cls,
        connection_configs: Sequence[connection.Parameters],
        on_done: OnDone,
        custom_ioloop: Any = None,
        workflow: cw.AbstractAMQPConnectionWorkflow | None = None,
    ) -> cw.AbstractAMQPConnectionWorkflow:
        """Open a connection trying each config in turn; returns the workflow.

        ``on_done`` gets an open connection, ``AMQPConnectionWorkflowFailed`` or
        ``AMQPConnectionWorkflowAborted``. Only ``abort()`` should be called on the
        returned workflow.
        """
        nbio = cls._io_services_for(custom_ioloop)

        def connection_factory(params: connection.Parameters) -> BaseConnection:
            conn = cls(parameters=params, custom_ioloop=nbio, internal_connection_workflow=False)  # type: ignore[call-arg]
            conn._use_recovery_hosts(connection_configs)
            return conn

        return cls._start_connection_workflow(
            connection_configs, connection_factory, nbio, workflow, on_done
        )

    @classmethod
    def _start_connection_workflow(
        cls,
        connection_configs: Sequence[connection.Parameters],
        connection_factory: Callable[[connection.Parameters], BaseConnection],
        nbio: AbstractIOServices,
        workflow: cw.AbstractAMQPConnectionWorkflow | None,
        on_done: OnDone,
    ) -> cw.AbstractAMQPConnectionWorkflow:
        """Shared body of the adapters' ``create_connection``."""
        if workflow is None:
            workflow = cw.AMQPConnectionWorkflow()
        set_io_services = getattr(workflow, "set_io_services", None)
        if set_io_services is not None:
            set_io_services(nbio)

        def create_connector() -> cw.AMQPConnector:
            return cw.AMQPConnector(connection_factory, nbio)

        workflow.start(connection_configs, create_connector, nbio.get_native_ioloop(), on_done)
        return workflow

    def _get_write_buffer_size(self) -> int:
        return 0 if self._transport is None else self._transport.get_write_buffer_size()

    # -- the core's adapter hooks -------------------------------------------------

    def _adapter_call_later(self, delay: float, callback: Callable[[], Any]) -> object:
        return self._nbio.call_later(delay, callback)

    def _adapter_remove_timeout(self, timeout_id: object) -> None:
        if not isinstance(timeout_id, AbstractTimerReference):
            raise TypeError(f"Expected a handle returned by call_later, got {timeout_id!r}")
        timeout_id.cancel()

    def _adapter_add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        if not callable(callback):
            raise TypeError(f"callback must be callable, but got {callback!r}")
        self._nbio.add_callback_threadsafe(callback)

    def _adapter_emit_data(self, data: bytes) -> None:
        if self._transport is None:
            LOGGER.debug("%r: dropping %d bytes written without a stream", self, len(data))
            return
        self._transport.write(data)

    def _adapter_connect_stream(self) -> None:
        if self.is_closing or self.is_closed:
            LOGGER.debug("%r: connect step skipped, the connection was closed", self)
            return
        self._workflow_abort_requested = False
        workflow = cw.AMQPConnectionWorkflow(_until_first_amqp_attempt=True)
        workflow.set_io_services(self._nbio)
        self._connection_workflow = workflow
        workflow.start(
            [self.params],
            self._create_own_connector,
            self._nbio.get_native_ioloop(),
            self._on_connection_workflow_done,
        )

    def _adapter_disconnect_stream(self) -> None:
        if self._transport is not None:
            self._transport.abort()  # connection_lost(None) follows
        elif self._connection_workflow is not None:
            if not self._workflow_abort_requested:
                self._workflow_abort_requested = True
                self._connection_workflow.abort()
        else:
            # Nothing was started yet; the core still expects the termination report.
            self._nbio.call_later(0, self._report_unstarted_termination)

    # -- the adapter's own connect path --------------------------------------------

    def _create_own_connector(self) -> cw.AMQPConnector:
        connector = cw.AMQPConnector(self._reuse_self, self._nbio)
        # Keep the core's default open-error handler: the user hears about AMQP
        # failures from this connection itself (and an unhandled one raises).
        connector._keep_default_error_callback = True
        return connector

    def _reuse_self(self, params: connection.Parameters) -> BaseConnection:
        return self

    def _on_connection_workflow_done(self, result: Any) -> None:
        self._connection_workflow = None
        if isinstance(result, cw.AMQPConnectionWorkflowAborted):
            LOGGER.debug("%r: connection workflow aborted", self)
            if self._workflow_abort_requested:
                self._on_stream_terminated(None)
            return
        if isinstance(result, cw.AMQPConnectionWorkflowFailed):
            last = result.exceptions[-1] if result.exceptions else None
            if isinstance(last, cw.AMQPConnectorAMQPHandshakeError):
                # The AMQP phase ran on this connection, which already reported it.
                LOGGER.debug("%r: AMQP handshake failed: %r", self, last)
                return
            self._on_stream_terminated(self._workflow_error(result, last))
            return
        LOGGER.debug("%r: connection workflow succeeded", self)

    def _workflow_error(
        self, failure: cw.AMQPConnectionWorkflowFailed, last: BaseException | None
    ) -> Exception:
        """The error pika reports for a failure before the AMQP phase (API.md §14)."""
        if isinstance(last, cw.AMQPConnectorSocketConnectError):
            return exceptions.AMQPConnectionError(
                failure, host=self.params.host, port=self.params.port
            )
        # DNS failures arrive as AMQPConnectionWorkflowDNSFailed (also an
        # AMQPConnectionError); TLS failures as the raw workflow failure.
        return failure

    def _report_unstarted_termination(self) -> None:
        if not self.is_closed and self._transport is None and self._connection_workflow is None:
            self._on_stream_terminated(None)

    def _stop_ioloop(self, _connection: Any, _error: Any = None) -> None:
        """Legacy ``stop_ioloop_on_close``: stop the loop once the connection is done."""
        LOGGER.debug("%r: stopping the I/O loop (stop_ioloop_on_close)", self)
        self._nbio.stop()

    # -- stream protocol (called by the transport) ---------------------------------

    def connection_made(self, transport: AbstractStreamTransport) -> None:
        self._proto_connection_made(transport)

    def connection_lost(self, error: BaseException | None) -> None:
        self._proto_connection_lost(error)

    def eof_received(self) -> bool | None:
        return self._proto_eof_received()

    def data_received(self, data: bytes) -> None:
        # Straight to the core: this runs once per inbound batch. An exception raised
        # here (user callbacks included) is caught by the transport, logged, and
        # aborts the stream with that error.
        self._on_data_available(data)

    def _proto_connection_made(self, transport: AbstractStreamTransport) -> None:
        LOGGER.debug("%r: stream connected", self)
        self._transport = transport
        self._on_stream_connected()

    def _proto_data_received(self, data: bytes) -> None:
        self._on_data_available(data)

    def _proto_eof_received(self) -> bool:
        LOGGER.warning("%r: the peer closed the stream (EOF)", self)
        return False  # let the transport close itself

    def _proto_connection_lost(self, error: BaseException | None) -> None:
        self._transport = None
        lost: Exception | None = None
        if isinstance(error, RxEndOfFile):
            lost = exceptions.StreamLostError(
                "Transport indicated EOF", host=self.params.host, port=self.params.port
            )
        elif error is not None:
            lost = exceptions.StreamLostError(
                f"Stream connection lost: {error!r}",
                host=self.params.host,
                port=self.params.port,
            )
            lost.__cause__ = error
        LOGGER.debug("%r: stream terminated: %r", self, lost)
        self._on_stream_terminated(lost)
