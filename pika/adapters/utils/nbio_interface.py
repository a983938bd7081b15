"""Abstract non-blocking I/O services that every callback-style adapter implements.

The interface is modelled on asyncio: a loop offers timers, thread-safe callbacks,
name resolution, socket connection and stream transports; a stream protocol receives
``connection_made``/``data_received``/``eof_received``/``connection_lost``.
Nothing here is meant for application code.
"""

from __future__ import annotations

import abc
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

#: What ``getaddrinfo`` reports: the result list, or the exception that stopped it.
AddrInfo: TypeAlias = tuple[Any, ...]
GetAddrInfoResult: TypeAlias = "Sequence[AddrInfo] | BaseException"
#: What ``create_streaming_connection`` reports: ``(transport, protocol)`` or an exception.
StreamingResult: TypeAlias = (
    "tuple[AbstractStreamTransport, AbstractStreamProtocol] | BaseException"
)


class AbstractIOReference(abc.ABC):
    """Handle of an asynchronous operation that can be cancelled."""

    @abc.abstractmethod
    def cancel(self) -> bool:
        """Cancel the operation; False if it already completed or was cancelled."""


class AbstractTimerReference(abc.ABC):
    """Handle of a timer created by ``AbstractIOServices.call_later``."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Cancel the timer; idempotent."""


class AbstractIOServices(abc.ABC):
    """The loop services a connection adapter needs."""

    @abc.abstractmethod
    def get_native_ioloop(self) -> Any:
        """Return the loop object this instance wraps."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the loop's resources; call only when it is not running."""

    @abc.abstractmethod
    def run(self) -> None:
        """Run the loop until ``stop()`` takes effect."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Ask the running loop to return from ``run()``."""

    @abc.abstractmethod
    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the loop thread soon; the only thread-safe method."""

    @abc.abstractmethod
    def call_later(self, delay: float, callback: Callable[[], Any]) -> AbstractTimerReference:
        """Run ``callback()`` once after ``delay`` seconds."""

    @abc.abstractmethod
    def getaddrinfo(
        self,
        host: str | bytes | None,
        port: str | int | None,
        on_done: Callable[[GetAddrInfoResult], Any],
        family: int = 0,
        socktype: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> AbstractIOReference:
        """Resolve asynchronously; ``on_done`` gets the list or the exception.

        ``on_done`` is not called once the returned reference has been cancelled.
        """

    @abc.abstractmethod
    def connect_socket(
        self,
        sock: socket.socket,
        resolved_addr: Any,
        on_done: Callable[[BaseException | None], Any],
    ) -> AbstractIOReference:
        """Connect a non-blocking socket; ``on_done(None)`` on success or ``on_done(exc)``.

        Raises ValueError if ``resolved_addr`` is not an IP literal of the socket's family.
        """

    @abc.abstractmethod
    def create_streaming_connection(
        self,
        protocol_factory: Callable[[], AbstractStreamProtocol],
        sock: socket.socket,
        on_done: Callable[[StreamingResult], Any],
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> AbstractIOReference:
        """Link a connected socket (optionally through TLS) to a new protocol.

        Takes ownership of ``sock``; ``on_done`` gets ``(transport, protocol)`` or an exception.
        """


class AbstractFileDescriptorServices(abc.ABC):
    """Readiness callbacks for file descriptors."""

    @abc.abstractmethod
    def set_reader(self, fd: int, on_readable: Callable[[], Any]) -> None:
        """Call ``on_readable()`` whenever ``fd`` is readable (replaces any earlier reader)."""

    @abc.abstractmethod
    def remove_reader(self, fd: int) -> bool:
        """Stop watching ``fd`` for readability; False if it was not watched."""

    @abc.abstractmethod
    def set_writer(self, fd: int, on_writable: Callable[[], Any]) -> None:
        """Call ``on_writable()`` when ``fd`` is writable or in an error condition."""

    @abc.abstractmethod
    def remove_writer(self, fd: int) -> bool:
        """Stop watching ``fd`` for writability; False if it was not watched."""


class AbstractFileDescriptorIOServices(AbstractIOServices, AbstractFileDescriptorServices):
    """I/O services together with file-descriptor readiness services."""


class AbstractStreamProtocol(abc.ABC):
    """Receiver of a stream transport's events (asyncio-style)."""

    @abc.abstractmethod
    def connection_made(self, transport: AbstractStreamTransport) -> None:
        """The stream is up; called exactly once, before anything else."""

    @abc.abstractmethod
    def connection_lost(self, error: BaseException | None) -> None:
        """The stream is gone (None after a local abort); called exactly once, last."""

    @abc.abstractmethod
    def eof_received(self) -> bool | None:
        """The peer closed its side; a falsy return makes the transport close itself."""

    @abc.abstractmethod
    def data_received(self, data: bytes) -> None:
        """Bytes arrived from the peer."""


class AbstractStreamTransport(abc.ABC):
    """A bidirectional byte stream over a connected socket."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Close at once, dropping unsent data; ``connection_lost(None)`` follows later."""

    @abc.abstractmethod
    def get_protocol(self) -> AbstractStreamProtocol:
        """Return the protocol this transport drives."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending; ValueError if it is empty."""

    @abc.abstractmethod
    def get_write_buffer_size(self) -> int:
        """Number of bytes queued but not yet handed to the kernel."""
