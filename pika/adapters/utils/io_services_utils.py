"""Building blocks for I/O-services implementations: argument checks, socket
connection, and stream (plaintext or TLS) linkup on top of fd readiness services.

``SocketConnectionMixin`` and ``StreamingConnectionMixin`` implement
``connect_socket`` and ``create_streaming_connection`` of ``AbstractIOServices`` for
any class that also provides ``AbstractFileDescriptorServices`` and ``call_later``.
Completion callbacks are never invoked from inside the call that started the
operation: results are always delivered from a later loop callback.
"""

from __future__ import annotations

import functools
import logging
import numbers
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any, cast

from pika.adapters.utils._stream_transports import (
    RxEndOfFile,
    _AsyncPlaintextTransport,
    _AsyncSSLTransport,
    _AsyncTransportBase,
)
from pika.adapters.utils.nbio_interface import (
    AbstractFileDescriptorIOServices,
    AbstractIOReference,
    AbstractStreamProtocol,
    AbstractTimerReference,
    StreamingResult,
)

__all__ = [
    "RxEndOfFile",
    "SocketConnectionMixin",
    "StreamingConnectionMixin",
    "check_callback_arg",
    "check_fd_arg",
]

LOGGER = logging.getLogger(__name__)

for _cls in (RxEndOfFile, _AsyncPlaintextTransport, _AsyncSSLTransport):
    _cls.__module__ = __name__


def check_callback_arg(callback: object, name: str) -> None:
    """Raise TypeError unless ``callback`` is callable."""
    if not callable(callback):
        raise TypeError(f"{name} must be callable, but got {callback!r}")


def check_fd_arg(fd: object) -> None:
    """Raise TypeError unless ``fd`` is an integral file descriptor."""
    if not isinstance(fd, numbers.Integral):
        raise TypeError(f"fd must be an integral file descriptor, but got {fd!r}")


def _check_ip_literal(sock: socket.socket, resolved_addr: Any) -> None:
    """Raise ValueError unless ``resolved_addr`` starts with an IP literal of ``sock``'s family."""
    host = resolved_addr[0] if isinstance(resolved_addr, tuple) and resolved_addr else None
    if isinstance(host, str):
        try:
            # A scope suffix ("fe80::1%eth0") is valid for connect() but not for inet_pton.
            socket.inet_pton(sock.family, host.partition("%")[0])
            return
        except (OSError, ValueError):
            pass
    raise ValueError(
        f"resolved_addr must start with an IP address literal of {sock.family!r}, "
        f"but got {resolved_addr!r}"
    )


class _DeferredReport:
    """Holds at most one pending ``call_later(0)`` used to report a result later."""

    def __init__(self, nbio: AbstractFileDescriptorIOServices) -> None:
        self._nbio = nbio
        self._timer: AbstractTimerReference | None = None

    def schedule(self, callback: Callable[[], None]) -> None:
        self._timer = self._nbio.call_later(0, callback)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _AsyncSocketConnector(AbstractIOReference):
    """Connects a non-blocking socket and reports ``None`` or the error."""

    def __init__(
        self,
        nbio: AbstractFileDescriptorIOServices,
        sock: socket.socket,
        resolved_addr: Any,
        on_done: Callable[[BaseException | None], Any],
    ) -> None:
        check_callback_arg(on_done, "on_done")
        _check_ip_literal(sock, resolved_addr)
        self._nbio = nbio
        self._sock = sock
        self._addr = resolved_addr
        self._on_done = on_done
        self._pending = True
        self._watching = False
        self._deferred = _DeferredReport(nbio)

    def start(self) -> AbstractIOReference:
        try:
            self._sock.connect(self._addr)
        except (BlockingIOError, InterruptedError):
            self._nbio.set_writer(self._sock.fileno(), self._on_writable)
            self._watching = True
            return self
        except OSError as exc:
            LOGGER.debug("connect(%r) failed at once: %r", self._addr, exc)
            self._deferred.schedule(functools.partial(self._report, exc))
            return self
        self._deferred.schedule(functools.partial(self._report, None))
        return self

    def cancel(self) -> bool:
        if not self._pending:
            return False
        self._cleanup()
        return True

    def _on_writable(self) -> None:
        code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        # OSError(errno, text) picks the matching subclass, e.g. ConnectionRefusedError.
        self._report(OSError(code, os.strerror(code)) if code else None)

    def _report(self, result: BaseException | None) -> None:
        if not self._pending:
            return
        self._cleanup()
        LOGGER.debug("connect(%r) finished: %r", self._addr, result)
        self._on_done(result)

    def _cleanup(self) -> None:
        self._pending = False
        self._deferred.cancel()
        if self._watching:
            self._nbio.remove_writer(self._sock.fileno())
            self._watching = False


class _AsyncStreamConnector(AbstractIOReference):
    """Runs the optional TLS handshake, then links a new protocol to a transport."""

    def __init__(
        self,
        nbio: AbstractFileDescriptorIOServices,
        protocol_factory: Callable[[], AbstractStreamProtocol],
        sock: socket.socket,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None,
        on_done: Callable[[StreamingResult], Any],
    ) -> None:
        check_callback_arg(protocol_factory, "protocol_factory")
        check_callback_arg(on_done, "on_done")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError(f"ssl_context must be an ssl.SSLContext, but got {ssl_context!r}")
        if server_hostname is not None and ssl_context is None:
            raise ValueError("server_hostname requires ssl_context")
        self._nbio = nbio
        self._factory = protocol_factory
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname
        self._on_done = on_done
        self._pending = True
        self._deferred = _DeferredReport(nbio)

    def start(self) -> AbstractIOReference:
        sock = self._sock
        if sock is None:
            raise RuntimeError("stream connector already finished")
        sock.setblocking(False)
        if self._ssl_context is not None:
            try:
                self._sock = self._ssl_context.wrap_socket(
                    sock,
                    server_side=False,
                    do_handshake_on_connect=False,
                    suppress_ragged_eofs=False,
                    server_hostname=self._server_hostname,
                )
            except Exception as exc:
                LOGGER.error("TLS wrap_socket() failed: %r", exc)
                self._deferred.schedule(functools.partial(self._report, exc))
                return self
        self._deferred.schedule(self._begin)
        return self

    def cancel(self) -> bool:
        if not self._pending:
            return False
        self._finish()
        return True

    def _begin(self) -> None:
        if self._ssl_context is not None:
            self._handshake_step()
        else:
            self._linkup()

    def _handshake_step(self) -> None:
        self._unwatch()
        sock = cast(ssl.SSLSocket, self._sock)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._nbio.set_reader(self._fd, self._handshake_step)
        except ssl.SSLWantWriteError:
            self._nbio.set_writer(self._fd, self._handshake_step)
        except Exception as exc:
            LOGGER.error("TLS handshake failed: %r", exc)
            self._report(exc)
        else:
            LOGGER.debug("TLS handshake done: %s", sock.version())
            self._linkup()

    def _linkup(self) -> None:
        sock = self._sock
        if sock is None:
            return
        transport: _AsyncTransportBase | None = None
        try:
            protocol = self._factory()
            if isinstance(sock, ssl.SSLSocket):
                transport = _AsyncSSLTransport(sock, protocol, self._nbio)
            else:
                transport = _AsyncPlaintextTransport(sock, protocol, self._nbio)
            protocol.connection_made(transport)
        except Exception as exc:
            LOGGER.exception("Stream linkup failed")
            if transport is not None:
                transport._discard()
            self._report(exc)
            return
        self._sock = None  # owned by the transport from now on
        transport.start_reading()
        self._report((transport, protocol))

    def _report(self, result: StreamingResult) -> None:
        if not self._pending:
            return
        self._finish()
        self._on_done(result)

    def _unwatch(self) -> None:
        self._nbio.remove_reader(self._fd)
        self._nbio.remove_writer(self._fd)

    def _finish(self) -> None:
        """Leave the pending state, closing the socket unless a transport owns it."""
        self._pending = False
        self._deferred.cancel()
        if self._sock is not None:
            self._unwatch()
            self._sock.close()
            self._sock = None


class SocketConnectionMixin:
    """``connect_socket`` for classes that also implement the fd services."""

    def connect_socket(
        self,
        sock: socket.socket,
        resolved_addr: Any,
        on_done: Callable[[BaseException | None], Any],
    ) -> AbstractIOReference:
        """Connect ``sock`` to ``resolved_addr``; see ``AbstractIOServices.connect_socket``."""
        nbio = cast(AbstractFileDescriptorIOServices, self)
        return _AsyncSocketConnector(nbio, sock, resolved_addr, on_done).start()


class StreamingConnectionMixin:
    """``create_streaming_connection`` for classes that also implement the fd services."""

    def create_streaming_connection(
        self,
        protocol_factory: Callable[[], AbstractStreamProtocol],
        sock: socket.socket,
        on_done: Callable[[StreamingResult], Any],
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> AbstractIOReference:
        """Link ``sock`` to a new protocol; see ``AbstractIOServices``."""
        nbio = cast(AbstractFileDescriptorIOServices, self)
        try:
            connector = _AsyncStreamConnector(
                nbio, protocol_factory, sock, ssl_context, server_hostname, on_done
            )
            return connector.start()
        except Exception:
            # The socket was handed over to us: do not leak it on bad arguments.
            sock.close()
            raise
