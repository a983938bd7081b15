"""Stream transports over non-blocking sockets: plaintext and TLS.

Theory of operation: a transport keeps its socket registered for readability for
its whole life and for writability only while bytes are queued (or while TLS needs
it). Reads go into one reusable buffer; each readiness event reads at most a
bounded amount so one busy socket cannot starve the loop, and each batch is handed
to the protocol as one ``bytes`` object. Writes are queued in a deque and flushed
on writability, small chunks joined so the kernel sees few large sends.

Every failure, including an exception raised by the protocol's ``data_received``,
is logged and turns into an abort with that error; ``connection_lost`` is always
delivered from a later loop callback, never from inside the caller's frame.
"""

from __future__ import annotations

import abc
import collections
import functools
import logging
import socket
import ssl

from pika.adapters.utils.nbio_interface import (
    AbstractFileDescriptorIOServices,
    AbstractStreamProtocol,
    AbstractStreamTransport,
)

# Log under the public module that re-exports these classes.
LOGGER = logging.getLogger("pika.adapters.utils.io_services_utils")

#: Size of the reusable receive buffer (one batch handed to the protocol).
RX_BUFFER_SIZE = 256 * 1024
#: Upper bound on bytes read per readiness event by the plaintext transport.
MAX_RX_PER_EVENT = 4 * RX_BUFFER_SIZE
#: Queued chunks smaller than this are joined into one send of up to this size.
TX_JOIN_LIMIT = 256 * 1024


class RxEndOfFile(OSError):
    """The peer closed its side of the stream."""

    def __init__(self) -> None:
        super().__init__(-1, "End of input stream (EOF)")


_Chunk = bytes | memoryview


class _AsyncTransportBase(AbstractStreamTransport):
    """Shared queueing, abort and completion logic of both transports."""

    def __init__(
        self,
        sock: socket.socket,
        protocol: AbstractStreamProtocol,
        nbio: AbstractFileDescriptorIOServices,
    ) -> None:
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._nbio = nbio
        self._tx: collections.deque[_Chunk] = collections.deque()
        self._tx_size = 0
        self._writer_on = False
        self._closing = False
        self._rx_buf = bytearray(RX_BUFFER_SIZE)
        self._rx_view = memoryview(self._rx_buf)

    def __repr__(self) -> str:
        state = "closing" if self._closing else "open"
        return f"<{self.__class__.__name__} fd={self._fd} {state} tx={self._tx_size}>"

    def start_reading(self) -> None:
        """Begin watching the socket for incoming bytes (called after linkup)."""
        if not self._closing:
            self._nbio.set_reader(self._fd, self._on_readable)

    def get_protocol(self) -> AbstractStreamProtocol:
        return self._protocol

    def get_write_buffer_size(self) -> int:
        return self._tx_size

    def abort(self) -> None:
        if self._closing:
            LOGGER.debug("%r: abort() ignored, already closing", self)
            return
        LOGGER.debug("%r: aborting", self)
        self._shutdown(None)

    def write(self, data: bytes) -> None:
        if not data:
            raise ValueError(f"{self.__class__.__name__}.write() called with empty data")
        if self._closing:
            LOGGER.debug("%r: ignoring write of %d bytes after abort", self, len(data))
            return
        idle = not self._tx
        self._tx.append(data)
        self._tx_size += len(data)
        if idle:
            # Nothing was queued: send now rather than wait a loop pass for writability
            # (blocking publishes and acks then cost one syscall, not a poll + a send).
            try:
                self._send_now()
            except Exception as exc:
                self._fail(exc)
        if not self._closing:
            self._update_writer()

    # -- readiness handlers -------------------------------------------------------

    # Any exception in a readiness step (or in the send from write) aborts the
    # transport with that error; the steps are inlined as they run once per loop pass.
    def _on_readable(self) -> None:
        if self._closing:
            return
        try:
            self._read_ready()
        except Exception as exc:
            self._fail(exc)

    def _on_writable(self) -> None:
        if self._closing:
            return
        try:
            self._write_ready()
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        """Abort the transport with ``exc``, raised by a readiness step."""
        if isinstance(exc, OSError):
            LOGGER.error("%r: stream error: %r", self, exc)
        else:
            LOGGER.exception("%r: error while processing the stream; aborting", self)
        if not self._closing:
            self._shutdown(exc)

    @abc.abstractmethod
    def _read_ready(self) -> None:
        """Read what the socket has and hand it to the protocol."""

    @abc.abstractmethod
    def _write_ready(self) -> None:
        """Send queued bytes until the socket would block."""

    def _send_now(self) -> None:
        """Try to send queued bytes from inside ``write`` (never reads)."""
        self._write_ready()

    def _wants_write(self) -> bool:
        return bool(self._tx)

    def _update_writer(self) -> None:
        want = self._wants_write()
        if want and not self._writer_on:
            self._nbio.set_writer(self._fd, self._on_writable)
            self._writer_on = True
        elif self._writer_on and not want:
            self._nbio.remove_writer(self._fd)
            self._writer_on = False

    # -- shared helpers -----------------------------------------------------------

    def _deliver(self, count: int) -> None:
        """Hand the first ``count`` bytes of the receive buffer to the protocol."""
        if count and not self._closing:
            self._protocol.data_received(self._rx_view[:count].tobytes())

    def _on_eof(self) -> None:
        LOGGER.debug("%r: peer indicated EOF", self)
        self._nbio.remove_reader(self._fd)
        if not self._protocol.eof_received():
            self._shutdown(RxEndOfFile())

    def _next_chunk(self) -> _Chunk:
        """Pop the next thing to send, joining small queued chunks."""
        first = self._tx.popleft()
        if len(first) >= TX_JOIN_LIMIT or not self._tx:
            return first
        parts = [first]
        size = len(first)
        while self._tx and size + len(self._tx[0]) <= TX_JOIN_LIMIT:
            chunk = self._tx.popleft()
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts) if len(parts) > 1 else first

    def _sent(self, chunk: _Chunk, count: int) -> bool:
        """Account for a send of ``count`` bytes; True if all of ``chunk`` went out."""
        self._tx_size -= count
        if count < len(chunk):
            self._tx.appendleft(memoryview(chunk)[count:])
            return False
        return True

    def _discard(self) -> None:
        """Drop everything without reporting; used when linkup itself failed."""
        self._stop_io()

    def _stop_io(self) -> None:
        self._closing = True
        self._nbio.remove_reader(self._fd)
        if self._writer_on:
            self._nbio.remove_writer(self._fd)
            self._writer_on = False
        self._tx.clear()
        self._tx_size = 0
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _shutdown(self, error: BaseException | None) -> None:
        """Stop all I/O now and report ``connection_lost(error)`` from a later callback."""
        self._stop_io()
        self._nbio.call_later(0, functools.partial(self._report_lost, error))

    def _report_lost(self, error: BaseException | None) -> None:
        self._protocol.connection_lost(error)


class _AsyncPlaintextTransport(_AsyncTransportBase):
    """Transport over a plain TCP socket."""

    def write(self, data: bytes) -> None:
        # The common case, nothing queued: one send and no writer bookkeeping (this
        # runs once per publish or ack).  Everything else takes the general path.
        sock = self._sock
        if self._tx or self._closing or sock is None or not data:
            super().write(data)
            return
        try:
            count = sock.send(data)
        except (BlockingIOError, InterruptedError):
            count = 0
        except Exception as exc:
            self._fail(exc)
            return
        if count < len(data):
            self._tx.append(memoryview(data)[count:] if count else data)
            self._tx_size += len(data) - count
            self._update_writer()

    def _read_ready(self) -> None:
        budget = MAX_RX_PER_EVENT
        buffer, view = self._rx_buf, self._rx_view
        while budget > 0 and not self._closing and self._sock is not None:
            try:
                count = self._sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            if count == 0:
                self._on_eof()
                return
            self._protocol.data_received(view[:count].tobytes())
            if count < RX_BUFFER_SIZE:
                return
            budget -= count

    def _write_ready(self) -> None:
        while self._tx and self._sock is not None:
            chunk = self._next_chunk()
            try:
                count = self._sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                self._tx.appendleft(chunk)
                return
            if not self._sent(chunk, count):
                return
        self._update_writer()


class _AsyncSSLTransport(_AsyncTransportBase):
    """Transport over an ``ssl.SSLSocket`` whose handshake has completed.

    TLS can need the opposite readiness of the operation in progress (a read that
    must write, a write that must read); the two flags below track that.
    """

    def __init__(
        self,
        sock: ssl.SSLSocket,
        protocol: AbstractStreamProtocol,
        nbio: AbstractFileDescriptorIOServices,
    ) -> None:
        super().__init__(sock, protocol, nbio)
        self._ssl_sock: ssl.SSLSocket | None = sock
        self._read_wants_write = False
        self._write_wants_read = False
        # OpenSSL wants a retried write to carry the same bytes as the failed one.
        self._retry_chunk: _Chunk | None = None

    def start_reading(self) -> None:
        super().start_reading()
        if self._ssl_sock is not None and self._ssl_sock.pending():
            # Bytes decrypted during the handshake would never make the fd readable.
            self._nbio.call_later(0, self._on_readable)

    def _wants_write(self) -> bool:
        if self._read_wants_write:
            return True
        return (bool(self._tx) or self._retry_chunk is not None) and not self._write_wants_read

    def _stop_io(self) -> None:
        self._retry_chunk = None
        self._ssl_sock = None
        super()._stop_io()

    def _send_now(self) -> None:
        # Only when TLS is not waiting on the opposite readiness; never read here, so
        # the protocol is not re-entered from inside a write.
        if not (self._read_wants_write or self._write_wants_read):
            self._flush()

    def _read_ready(self) -> None:
        if self._write_wants_read:
            self._write_wants_read = False
            self._write_ready()
        self._read_records()

    def _write_ready(self) -> None:
        if self._read_wants_write:
            self._read_wants_write = False
            self._read_records()
        self._flush()
        if not self._closing:
            self._update_writer()

    def _read_records(self) -> None:
        """Decrypt into the receive buffer until the socket runs dry or the buffer is full."""
        filled = 0
        eof = False
        while filled < RX_BUFFER_SIZE and self._ssl_sock is not None:
            try:
                count = self._ssl_sock.recv_into(self._rx_view[filled:])
            except ssl.SSLWantReadError:
                break
            except ssl.SSLWantWriteError:
                self._read_wants_write = True
                self._update_writer()
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                count = 0
            if count == 0:
                eof = True
                break
            filled += count
        self._deliver(filled)
        if self._closing:
            return
        if eof:
            self._on_eof()
        elif filled == RX_BUFFER_SIZE and self._ssl_sock is not None and self._ssl_sock.pending():
            # Decrypted bytes wait inside OpenSSL: the fd will not signal them again.
            self._nbio.call_later(0, self._on_readable)

    def _flush(self) -> None:
        while self._ssl_sock is not None and (self._retry_chunk is not None or self._tx):
            chunk = self._retry_chunk if self._retry_chunk is not None else self._next_chunk()
            self._retry_chunk = None
            try:
                count = self._ssl_sock.send(chunk)
            except ssl.SSLWantWriteError:
                self._retry_chunk = chunk
                return
            except ssl.SSLWantReadError:
                self._retry_chunk = chunk
                self._write_wants_read = True
                return
            except InterruptedError:
                self._retry_chunk = chunk
                continue
            if not self._sent(chunk, count):
                return
