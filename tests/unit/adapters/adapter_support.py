"""Helpers for the adapter I/O tests: local socket servers, bounded loop runs, and
a recording stream protocol.

Servers run in threads with blocking sockets and timeouts, so a broken test fails
instead of hanging; loops run under a watchdog timer.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pika.adapters.utils.nbio_interface import AbstractStreamProtocol, AbstractStreamTransport

#: Upper bound for any single wait in these tests (seconds).
WAIT = 10.0


class LocalServer:
    """A TCP (optionally TLS) server on 127.0.0.1 running ``handler(sock)`` per connection."""

    def __init__(
        self,
        handler: Callable[[socket.socket], None],
        ssl_context: ssl.SSLContext | None = None,
        connections: int = 1,
    ) -> None:
        self._handler = handler
        self._ssl_context = ssl_context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(WAIT)
        self.port: int = self._listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self.server_names: list[str | None] = []
        if ssl_context is not None:
            ssl_context.sni_callback = self._record_sni
        self._thread = threading.Thread(target=self._run, args=(connections,), daemon=True)
        self._thread.start()

    def _record_sni(self, _sock: Any, name: str | None, _ctx: Any) -> None:
        self.server_names.append(name)

    def _run(self, connections: int) -> None:
        for _ in range(connections):
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # listener closed or nobody came
            sock.settimeout(WAIT)
            try:
                if self._ssl_context is not None:
                    sock = self._ssl_context.wrap_socket(sock, server_side=True)
                self._handler(sock)
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(exc)
            finally:
                sock.close()

    def close(self) -> None:
        # shutdown() wakes a thread blocked in accept(); close() alone does not on Linux.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(WAIT)


@contextlib.contextmanager
def local_server(
    handler: Callable[[socket.socket], None],
    ssl_context: ssl.SSLContext | None = None,
    connections: int = 1,
) -> Iterator[LocalServer]:
    server = LocalServer(handler, ssl_context, connections)
    try:
        yield server
    finally:
        server.close()


def echo(sock: socket.socket) -> None:
    """Echo everything until the peer closes."""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


def refused_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


def run_until(start: Callable[[], None], stop: Callable[[], None], call_later: Any) -> None:
    """Run a loop via ``start()`` with a watchdog that stops it and fails the test."""
    expired: list[bool] = []

    def watchdog() -> None:
        expired.append(True)
        stop()

    handle = call_later(WAIT, watchdog)
    try:
        start()
    finally:
        cancel = getattr(handle, "cancel", None)
        if cancel is not None:
            cancel()
    if expired:
        raise AssertionError(f"loop did not finish within {WAIT}s")


class RecordingProtocol(AbstractStreamProtocol):
    """Stream protocol that records every event and can stop a loop on conditions."""

    def __init__(self, on_event: Callable[[RecordingProtocol, str], None] | None = None) -> None:
        self.transport: AbstractStreamTransport | None = None
        self.events: list[str] = []
        self.data = bytearray()
        self.chunks = 0
        self.lost: list[BaseException | None] = []
        self.keep_open_on_eof = False
        self.fail_on_data: BaseException | None = None
        self._on_event = on_event

    def _emit(self, name: str) -> None:
        self.events.append(name)
        if self._on_event is not None:
            self._on_event(self, name)

    def connection_made(self, transport: AbstractStreamTransport) -> None:
        self.transport = transport
        self._emit("made")

    def data_received(self, data: bytes) -> None:
        assert isinstance(data, bytes)
        self.data += data
        self.chunks += 1
        if self.fail_on_data is not None:
            raise self.fail_on_data
        self._emit("data")

    def eof_received(self) -> bool | None:
        self._emit("eof")
        return self.keep_open_on_eof

    def connection_lost(self, error: BaseException | None) -> None:
        self.lost.append(error)
        self._emit("lost")


# -- a scripted AMQP peer (pamqp codec), to drive the real connection core ---------------


def amqp_broker(scenario: str = "open") -> Callable[[socket.socket], None]:
    """A server handler playing the broker side of the AMQP handshake.

    Scenarios: ``open`` (handshake, then answer Connection.Close with CloseOk),
    ``drop`` (handshake, then close the socket), ``deny`` (Connection.Close 403 in
    the START phase), ``silent`` (read the protocol header and never answer).
    """

    def handler(sock: socket.socket) -> None:
        from pamqp import commands

        from tests.support.raw_amqp import PROTOCOL_HEADER, RawConnection

        peer = RawConnection(sock)
        if peer._read(len(PROTOCOL_HEADER)) != PROTOCOL_HEADER:
            return
        if scenario == "silent":
            while sock.recv(4096):
                pass
            return
        peer.send(commands.Connection.Start(server_properties={"product": "fake"}))
        peer.expect(commands.Connection.StartOk)
        if scenario == "deny":
            peer.send(commands.Connection.Close(403, "ACCESS_REFUSED - Login was refused", 0, 0))
            while sock.recv(4096):
                pass
            return
        peer.send(commands.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=0))
        peer.expect(commands.Connection.TuneOk)
        peer.expect(commands.Connection.Open)
        peer.send(commands.Connection.OpenOk())
        if scenario == "drop":
            return
        _serve_until_close(peer)

    return handler


def _serve_until_close(peer: Any) -> None:
    from pamqp import commands

    while True:
        got = peer.read_frame()
        if got is None:
            return
        if isinstance(got[1], commands.Connection.Close):
            peer.send(commands.Connection.CloseOk())
            return
