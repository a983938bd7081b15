"""Establishing a full-stack connection: TCP, optional TLS, then the AMQP handshake.

``AMQPConnector`` makes one attempt against one resolved address;
``AMQPConnectionWorkflow`` resolves every configured host and drives connectors
over all addresses, for ``connection_attempts`` cycles separated by
``retry_delay``. Neither reports from inside the call that started or aborted it:
results always arrive through a later loop callback.
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

from pika import exceptions
from pika._params import Parameters
from pika.adapters.utils._amqp_connector import AMQPConnector, ConnectionFactory
from pika.adapters.utils._workflow_errors import (
    AMQPConnectionWorkflowAborted,
    AMQPConnectionWorkflowDNSFailed,
    AMQPConnectionWorkflowFailed,
    AMQPConnectionWorkflowWrongState,
    AMQPConnectorAborted,
    AMQPConnectorAMQPHandshakeError,
    AMQPConnectorException,
    AMQPConnectorPhaseErrorBase,
    AMQPConnectorSocketConnectError,
    AMQPConnectorStackTimeout,
    AMQPConnectorTransportSetupError,
    AMQPConnectorWrongState,
)
from pika.adapters.utils.nbio_interface import (
    AbstractIOReference,
    AbstractIOServices,
    AbstractTimerReference,
    AddrInfo,
    GetAddrInfoResult,
)

__all__ = [
    "AMQPConnectionWorkflow",
    "AMQPConnectionWorkflowAborted",
    "AMQPConnectionWorkflowDNSFailed",
    "AMQPConnectionWorkflowFailed",
    "AMQPConnectionWorkflowWrongState",
    "AMQPConnector",
    "AMQPConnectorAMQPHandshakeError",
    "AMQPConnectorAborted",
    "AMQPConnectorException",
    "AMQPConnectorPhaseErrorBase",
    "AMQPConnectorSocketConnectError",
    "AMQPConnectorStackTimeout",
    "AMQPConnectorTransportSetupError",
    "AMQPConnectorWrongState",
    "AbstractAMQPConnectionWorkflow",
    "ConnectionFactory",
]

LOGGER = logging.getLogger(__name__)

# Classes defined in the private modules present themselves under this public path.
for _cls in (
    AMQPConnectionWorkflowAborted,
    AMQPConnectionWorkflowDNSFailed,
    AMQPConnectionWorkflowFailed,
    AMQPConnectionWorkflowWrongState,
    AMQPConnector,
    AMQPConnectorAMQPHandshakeError,
    AMQPConnectorAborted,
    AMQPConnectorException,
    AMQPConnectorPhaseErrorBase,
    AMQPConnectorSocketConnectError,
    AMQPConnectorStackTimeout,
    AMQPConnectorTransportSetupError,
    AMQPConnectorWrongState,
):
    _cls.__module__ = __name__


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
