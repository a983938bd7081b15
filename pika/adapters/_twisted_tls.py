"""TLS for self-connecting Twisted connections, using the stdlib ``ssl.SSLContext``.

pika's ``SSLOptions`` carry a stdlib context, which Twisted's own TLS (built on
pyOpenSSL) cannot use.  So when a ``TwistedProtocolConnection`` connects by
itself with ``ssl_options``, the TCP connection is given ``_TLSProtocol``: it
runs the handshake and record layer through ``ssl.SSLObject`` over memory BIOs
and presents the AMQP protocol with a transport carrying plaintext.

Only I/O lives here; failures end the TCP connection and reach the AMQP
protocol's ``connectionLost`` with the ``ssl`` error as the reason.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from twisted.internet import protocol
from twisted.python.failure import Failure

LOGGER = logging.getLogger("pika.adapters.twisted_connection")

_READ_SIZE = 65536


class TLSClientFactory(protocol.ClientFactory):
    """Wraps a client factory so its protocol talks TLS (stdlib ``ssl``)."""

    def __init__(
        self, wrapped: protocol.ClientFactory, context: ssl.SSLContext, server_hostname: str | None
    ) -> None:
        self._wrapped = wrapped
        self._context = context
        self._server_hostname = server_hostname

    def buildProtocol(self, addr: Any) -> _TLSProtocol | None:
        inner = self._wrapped.buildProtocol(addr)
        if inner is None:
            return None
        return _TLSProtocol(inner, self._context, self._server_hostname)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self._wrapped.clientConnectionFailed(connector, reason)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        self._wrapped.clientConnectionLost(connector, reason)


class _TLSProtocol(protocol.Protocol):
    """TLS over the TCP transport; ``inner`` sees a plaintext transport (``self``)."""

    def __init__(self, inner: Any, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self._inner = inner
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
        )
        self._handshaken = False
        self._error: BaseException | None = None

    # -- the TCP side ----------------------------------------------------------

    def connectionMade(self) -> None:
        self._advance_handshake()

    def dataReceived(self, data: bytes) -> None:
        self._incoming.write(data)
        if not self._handshaken:
            self._advance_handshake()
        if self._handshaken:
            self._read_records()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if self._error is not None:
            reason = Failure(self._error)  # type: ignore[no-untyped-call]
        self._inner.connectionLost(reason)

    # -- the plaintext transport the inner protocol writes to ------------------

    def write(self, data: bytes) -> None:
        if self._error is not None or self._tcp is None:
            return
        try:
            self._tls.write(data)
        except ssl.SSLError as exc:
            self._fail(exc)
            return
        self._flush()

    def writeSequence(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        tcp = self._tcp
        if tcp is None:
            return
        try:
            self._tls.unwrap()  # queue close_notify; the peer's may never come
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        self._flush()
        tcp.loseConnection()

    def abortConnection(self) -> None:
        if self._tcp is not None:
            self._tcp.abortConnection()

    def getPeer(self) -> Any:
        return self._tcp.getPeer() if self._tcp is not None else None

    def getHost(self) -> Any:
        return self._tcp.getHost() if self._tcp is not None else None

    @property
    def _tcp(self) -> Any:
        """The TCP transport (typed loosely: Twisted's interfaces do not type-check)."""
        return self.transport

    # -- internals ----------------------------------------------------------------

    def _advance_handshake(self) -> None:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, ssl.CertificateError) as exc:
            self._fail(exc)
            return
        self._flush()
        self._handshaken = True
        LOGGER.debug("TLS handshake done: %s", self._tls.version())
        self._inner.makeConnection(self)

    def _read_records(self) -> None:
        while self._error is None and self._tcp is not None:
            try:
                chunk = self._tls.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self._tcp.loseConnection()  # close_notify: a clean end
                break
            except ssl.SSLError as exc:
                self._fail(exc)
                break
            if not chunk:
                break
            self._inner.dataReceived(chunk)
        self._flush()

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and self._tcp is not None:
            self._tcp.write(data)

    def _fail(self, exc: BaseException) -> None:
        LOGGER.error("TLS failure: %r", exc)
        if self._error is None:
            self._error = exc
            self._flush()
            if self._tcp is not None:
                self._tcp.abortConnection()
