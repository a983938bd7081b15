"""Errors of the connection workflow (re-exported by ``connection_workflow``).

They are not ``AMQPError`` subclasses, as in pika, except the DNS-failure variant
of ``AMQPConnectionWorkflowFailed``, which is also an ``AMQPConnectionError``.
"""

from __future__ import annotations

import ssl
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


def _tls_hint(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            "check that the SSLContext in ssl_options trusts the CA that signed the "
            "broker's certificate (load_verify_locations) and that the host name "
            "(SSLOptions server_hostname, else host) is a name in that certificate"
        )
    return (
        "check that this port is the broker's TLS listener and that client and broker "
        "share a TLS version and cipher (the broker log says more)"
    )


def _hint(phase: str, error: BaseException) -> str:
    """What to check after ``error`` ended the ``phase`` of a connection attempt."""
    if isinstance(error, AMQPConnectorStackTimeout):
        return "check that the broker is reachable and not overloaded, or raise stack_timeout"
    if phase == "TLS handshake":
        return _tls_hint(error)
    if isinstance(error, ConnectionRefusedError):
        return (
            "check that the broker is running and accepting connections on that host "
            "and port, and that the connection parameters name the right ones"
        )
    if isinstance(error, TimeoutError):
        return (
            "check that the host is reachable (firewall, routing) and the port is right, "
            "or raise socket_timeout"
        )
    return "check the host and port, and that the broker is reachable from here"


class AMQPConnectorPhaseErrorBase(AMQPConnectorException):
    """A connection phase failed; ``exception`` is the underlying error.

    Built by pika with no extra ``args``, its ``str`` says which phase failed
    against which ``host:port``, why, and what to check.
    """

    #: The phase, as it reads in messages, and how it names the endpoint.
    _PHASE = "Connection setup"
    _PREPOSITION = "with"

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

    def _phase(self) -> str:
        return self._PHASE

    def __str__(self) -> str:
        if self.args:
            return super().__str__()
        where = ""
        if self.host is not None:
            where = f" {self._PREPOSITION} {exceptions._host_port(self.host, self.port)}"
        cause = exceptions._describe(self.exception)
        return f"{self._phase()}{where} failed: {cause}; {_hint(self._phase(), self.exception)}"

    def __repr__(self) -> str:
        where = "" if self.host is None else f" (host={self.host!r}, port={self.port!r})"
        if not self.args:
            return f"{self.__class__.__name__}: {self}{where}"
        return f"{self.__class__.__name__}: {self.exception!r}; {self.args}{where}"


class AMQPConnectorSocketConnectError(AMQPConnectorPhaseErrorBase):
    """TCP connect failed, or ``socket_timeout`` expired."""

    _PHASE = "TCP connection"
    _PREPOSITION = "to"


class AMQPConnectorTransportSetupError(AMQPConnectorPhaseErrorBase):
    """The transport (TLS handshake, stream linkup) could not be set up."""

    def _phase(self) -> str:
        is_tls = isinstance(self.exception, (ssl.SSLError, ssl.CertificateError))
        return "TLS handshake" if is_tls else "Transport setup"


class AMQPConnectorAMQPHandshakeError(AMQPConnectorPhaseErrorBase):
    """The AMQP handshake failed."""

    _PHASE = "AMQP handshake"

    def __str__(self) -> str:
        # pika's own handshake errors already say where and what to check.
        if not self.args and isinstance(self.exception, exceptions.AMQPConnectionError):
            return exceptions._describe(self.exception)
        return super().__str__()


class AMQPConnectionWorkflowAborted(AMQPConnectorException):
    """``AMQPConnectionWorkflow.abort()`` completed."""


class AMQPConnectionWorkflowWrongState(AMQPConnectorException):
    """Defined for compatibility; the workflow raises ``AMQPConnectorWrongState``."""


class AMQPConnectionWorkflowFailed(AMQPConnectorException):
    """Every attempt failed; ``exceptions`` holds one error per attempt, in order."""

    def __init__(self, exceptions: Sequence[BaseException], *args: Any) -> None:
        super().__init__(*args)
        self.exceptions = tuple(exceptions)

    def __str__(self) -> str:
        if self.args:
            return super().__str__()
        if not self.exceptions:
            return "No connection attempt was made"
        last = self._describe_last()
        if len(self.exceptions) == 1:
            return last
        return f"All {len(self.exceptions)} connection attempts failed; the last: {last}"

    def _describe_last(self) -> str:
        return exceptions._describe(self.exceptions[-1])

    def _attempts(self) -> str:
        if not self.exceptions:
            return "no attempts were made"
        text = f"{len(self.exceptions)} exceptions in all; last exception - {self.exceptions[-1]!r}"
        if len(self.exceptions) > 1:
            text += f"; first exception - {self.exceptions[0]!r}"
        return text

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self._attempts()}"


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

    __str__ = AMQPConnectionWorkflowFailed.__str__

    def _describe_last(self) -> str:
        reason = exceptions._describe(self.exceptions[-1])
        return resolution_failure(reason, self.host, self.port)

    def __repr__(self) -> str:
        # The gaierrors inside say nothing of the host: lead with the full message.
        return f"{self.__class__.__name__}: {self}{self._where()}; {self._attempts()}"


def resolution_failure(reason: str, host: str | None, port: int | None) -> str:
    """The message for a host name that could not be resolved (``reason`` says why)."""
    name = "the host name" if host is None else f"host name {host!r} (port {port})"
    return (
        f"Could not resolve {name}: {reason}; check the host in the "
        f"connection parameters or URL, and that DNS works on this machine"
    )
