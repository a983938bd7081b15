"""Errors of the connection workflow (re-exported by ``connection_workflow``).

They are not ``AMQPError`` subclasses, as in pika, except the DNS-failure variant
of ``AMQPConnectionWorkflowFailed``, which is also an ``AMQPConnectionError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pika import exceptions


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
