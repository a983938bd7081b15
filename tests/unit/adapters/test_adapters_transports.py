"""connect_socket, create_streaming_connection and the plaintext/TLS transports,
against local servers, driven by the select IOLoop through SelectorIOServicesAdapter."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
from typing import Any

import pytest

from pika.adapters.select_connection import IOLoop
from pika.adapters.utils import io_services_utils
from pika.adapters.utils._stream_transports import _AsyncPlaintextTransport
from pika.adapters.utils.io_services_utils import RxEndOfFile
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter
from tests.unit.adapters.adapter_support import (
    WAIT,
    RecordingProtocol,
    echo,
    local_server,
    refused_port,
    run_until,
)


def run(loop: IOLoop) -> None:
    run_until(loop.start, loop.stop, loop.call_later)


def connected_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.setblocking(False)
    return sock


def open_stream(
    loop: IOLoop,
    nbio: SelectorIOServicesAdapter,
    port: int,
    protocol: RecordingProtocol,
    **kwargs: Any,
) -> Any:
    """Link a protocol to a socket connected to ``port``; return what on_done got."""
    results: list[Any] = []

    def on_done(result: Any) -> None:
        results.append(result)
        loop.stop()

    nbio.create_streaming_connection(lambda: protocol, connected_socket(port), on_done, **kwargs)
    assert results == []  # never reported from inside the call
    run(loop)
    return results[0]


# -- argument checks ------------------------------------------------------------------


def test_check_helpers_raise_type_error() -> None:
    with pytest.raises(TypeError, match="cb"):
        io_services_utils.check_callback_arg(1, "cb")
    io_services_utils.check_callback_arg(print, "cb")
    with pytest.raises(TypeError):
        io_services_utils.check_fd_arg(1.5)
    io_services_utils.check_fd_arg(3)


# -- connect_socket --------------------------------------------------------------------


def test_connect_socket_success_and_refusal(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    results: list[BaseException | None] = []

    def on_done(error: BaseException | None) -> None:
        results.append(error)
        if len(results) == 2:
            ioloop.stop()

    with local_server(lambda sock: None) as server:
        good = socket.socket()
        bad = socket.socket()
        try:
            for sock in (good, bad):
                sock.setblocking(False)
            nbio.connect_socket(good, ("127.0.0.1", server.port), on_done)
            nbio.connect_socket(bad, ("127.0.0.1", refused_port()), on_done)
            assert results == []
            run(ioloop)
        finally:
            good.close()
            bad.close()
    assert None in results
    refused = [r for r in results if r is not None]
    assert len(refused) == 1 and isinstance(refused[0], ConnectionRefusedError)


def test_connect_socket_requires_an_ip_literal_of_the_socket_family(
    nbio: SelectorIOServicesAdapter,
) -> None:
    sock = socket.socket()
    try:
        with pytest.raises(ValueError):
            nbio.connect_socket(sock, ("localhost", 5672), lambda e: None)
        with pytest.raises(ValueError):
            nbio.connect_socket(sock, ("::1", 5672), lambda e: None)
    finally:
        sock.close()


def test_cancelled_connect_reports_nothing(ioloop: IOLoop, nbio: SelectorIOServicesAdapter) -> None:
    results: list[Any] = []
    sock = socket.socket()
    sock.setblocking(False)
    try:
        ref = nbio.connect_socket(sock, ("127.0.0.1", refused_port()), results.append)
        assert ref.cancel() is True
        assert ref.cancel() is False
        ioloop.call_later(0.05, ioloop.stop)
        run(ioloop)
    finally:
        sock.close()
    assert results == []


# -- plaintext transport -------------------------------------------------------------


def test_plaintext_roundtrip_of_a_large_payload(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)

    def on_event(proto: RecordingProtocol, name: str) -> None:
        if name == "data" and len(proto.data) >= len(payload) + 1:
            ioloop.stop()

    protocol = RecordingProtocol(on_event)
    with local_server(echo) as server:
        transport, proto = open_stream(ioloop, nbio, server.port, protocol)
        assert proto is protocol and transport.get_protocol() is protocol
        assert protocol.events == ["made"]
        transport.write(b"x")
        # An idle transport sends at once: nothing waits for a loop pass.
        assert transport.get_write_buffer_size() == 0
        for start in range(0, len(payload), 100_000):
            transport.write(payload[start : start + 100_000])
        # The kernel takes what it can right away; any rest waits for writability.
        run(ioloop)
        assert bytes(protocol.data) == b"x" + payload
        assert transport.get_write_buffer_size() == 0
        # Reads are batched: far fewer deliveries than 4 KiB reads would need.
        assert protocol.chunks < len(payload) // 4096
        transport.abort()
        ioloop.call_later(0, ioloop.stop)
        run(ioloop)
    assert protocol.lost == [None]


def test_write_rejects_empty_data_and_is_ignored_after_abort(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    protocol = RecordingProtocol(lambda p, name: ioloop.stop() if name == "lost" else None)
    with local_server(echo) as server:
        transport, _ = open_stream(ioloop, nbio, server.port, protocol)
        with pytest.raises(ValueError):
            transport.write(b"")
        transport.abort()
        assert protocol.lost == []  # delivered later, never inside abort()
        transport.write(b"ignored")
        transport.abort()  # second abort is a no-op
        assert transport.get_write_buffer_size() == 0
        run(ioloop)
    assert protocol.lost == [None]
    assert protocol.events == ["made", "lost"]


def test_peer_eof_calls_eof_received_then_loses_the_connection(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    def greet_and_close(sock: socket.socket) -> None:
        sock.sendall(b"bye")

    protocol = RecordingProtocol(lambda p, name: ioloop.stop() if name == "lost" else None)
    with local_server(greet_and_close) as server:
        open_stream(ioloop, nbio, server.port, protocol)
        run(ioloop)
    assert protocol.events[-2:] == ["eof", "lost"]
    assert bytes(protocol.data) == b"bye"
    assert isinstance(protocol.lost[0], RxEndOfFile)


def test_exception_in_data_received_aborts_with_that_error(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    protocol = RecordingProtocol(lambda p, name: ioloop.stop() if name == "lost" else None)
    protocol.fail_on_data = ZeroDivisionError("division by zero")
    with local_server(echo) as server:
        transport, _ = open_stream(ioloop, nbio, server.port, protocol)
        transport.write(b"ping")
        with caplog.at_level(logging.ERROR, logger="pika.adapters.utils.io_services_utils"):
            run(ioloop)
    assert protocol.lost == [protocol.fail_on_data]
    assert any("aborting" in record.getMessage() for record in caplog.records)


def test_connection_reset_is_reported_as_the_socket_error(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    def reset(sock: socket.socket) -> None:
        sock.recv(10)
        # SO_LINGER 0 makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    protocol = RecordingProtocol(lambda p, name: ioloop.stop() if name == "lost" else None)
    with local_server(reset) as server:
        transport, _ = open_stream(ioloop, nbio, server.port, protocol)
        transport.write(b"x")
        run(ioloop)
    assert isinstance(protocol.lost[0], ConnectionResetError)


def test_protocol_factory_failure_is_reported_and_socket_closed(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    results: list[Any] = []

    def factory() -> RecordingProtocol:
        raise RuntimeError("no protocol today")

    with local_server(echo) as server:
        sock = connected_socket(server.port)
        nbio.create_streaming_connection(
            factory, sock, lambda r: (results.append(r), ioloop.stop())
        )
        run(ioloop)
    assert isinstance(results[0], RuntimeError)
    assert sock.fileno() == -1


def test_cancelled_stream_linkup_closes_the_socket(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    results: list[Any] = []
    with local_server(echo) as server:
        sock = connected_socket(server.port)
        ref = nbio.create_streaming_connection(RecordingProtocol, sock, results.append)
        assert ref.cancel() is True
        ioloop.call_later(0.02, ioloop.stop)
        run(ioloop)
    assert results == []
    assert sock.fileno() == -1


def test_bad_arguments_close_the_socket(nbio: SelectorIOServicesAdapter) -> None:
    sock = socket.socket()
    with pytest.raises(ValueError):
        nbio.create_streaming_connection(RecordingProtocol, sock, print, server_hostname="h")
    assert sock.fileno() == -1


# -- TLS transport --------------------------------------------------------------------


def test_tls_roundtrip_with_sni_and_hostname_verification(
    ioloop: IOLoop,
    nbio: SelectorIOServicesAdapter,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    payload = os.urandom(2 * 1024 * 1024 + 3)

    def on_event(proto: RecordingProtocol, name: str) -> None:
        if name == "data" and len(proto.data) >= len(payload):
            ioloop.stop()

    protocol = RecordingProtocol(on_event)
    with local_server(echo, ssl_context=server_ssl_context) as server:
        transport, _ = open_stream(
            ioloop,
            nbio,
            server.port,
            protocol,
            ssl_context=client_ssl_context,
            server_hostname="localhost",
        )
        transport.write(payload)
        run(ioloop)
        assert bytes(protocol.data) == payload
        transport.abort()
        ioloop.call_later(0, ioloop.stop)
        run(ioloop)
    assert server.server_names == ["localhost"]
    assert protocol.lost == [None]


def test_tls_hostname_mismatch_fails_the_linkup(
    ioloop: IOLoop,
    nbio: SelectorIOServicesAdapter,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    protocol = RecordingProtocol()
    with local_server(echo, ssl_context=server_ssl_context) as server:
        result = open_stream(
            ioloop,
            nbio,
            server.port,
            protocol,
            ssl_context=client_ssl_context,
            server_hostname="not-the-server.example",
        )
    assert isinstance(result, ssl.SSLCertVerificationError)
    assert protocol.events == []  # connection_made never ran, so neither does connection_lost


def test_tls_eof_from_the_server(
    ioloop: IOLoop,
    nbio: SelectorIOServicesAdapter,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    def greet_and_close(sock: socket.socket) -> None:
        sock.sendall(b"hello over tls")
        assert isinstance(sock, ssl.SSLSocket)
        sock.unwrap()

    protocol = RecordingProtocol(lambda p, name: ioloop.stop() if name == "lost" else None)
    with local_server(greet_and_close, ssl_context=server_ssl_context) as server:
        open_stream(
            ioloop,
            nbio,
            server.port,
            protocol,
            ssl_context=client_ssl_context,
            server_hostname="localhost",
        )
        run(ioloop)
    assert bytes(protocol.data) == b"hello over tls"
    assert protocol.events[-2:] == ["eof", "lost"]
    assert isinstance(protocol.lost[0], RxEndOfFile)


# -- getaddrinfo ------------------------------------------------------------------------


class _RecordingLoop(IOLoop):
    """IOLoop that stops itself once a thread-safe callback has been queued and run."""

    def add_callback(self, callback: Any) -> None:
        def run_then_stop() -> None:
            callback()
            self.stop()

        super().add_callback(run_then_stop)


def test_getaddrinfo_reports_results_and_errors(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any) -> Any:
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    results: list[Any] = []

    def on_done(result: Any) -> None:
        results.append(result)
        if len(results) == 2:
            ioloop.stop()

    nbio.getaddrinfo("127.0.0.1", 5672, on_done, socktype=socket.SOCK_STREAM)
    nbio.getaddrinfo("no-such-host.invalid", 5672, on_done)
    assert results == []
    run(ioloop)
    errors = [r for r in results if isinstance(r, BaseException)]
    lists = [r for r in results if not isinstance(r, BaseException)]
    assert isinstance(errors[0], socket.gaierror)
    assert lists[0][0][4] == ("127.0.0.1", 5672)


def test_cancelled_getaddrinfo_does_not_report(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = socket.getaddrinfo

    def blocked(*args: Any) -> Any:
        assert release.wait(WAIT)
        return real(*args)

    monkeypatch.setattr(socket, "getaddrinfo", blocked)
    loop = _RecordingLoop()
    try:
        nbio = SelectorIOServicesAdapter(loop)
        results: list[Any] = []
        ref = nbio.getaddrinfo("127.0.0.1", 1, results.append)
        assert ref.cancel() is True
        assert ref.cancel() is False
        release.set()
        run(loop)  # stops once the resolver thread's report ran (and was ignored)
        assert results == []
    finally:
        loop.close()


# -- plaintext transport: the direct write -------------------------------------------------


def _plaintext_pair(
    nbio: SelectorIOServicesAdapter, protocol: RecordingProtocol
) -> tuple[Any, socket.socket]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(WAIT)
    transport = _AsyncPlaintextTransport(ours, protocol, nbio)
    transport.start_reading()
    return transport, peer


def test_a_partly_sent_write_queues_the_rest_before_later_writes(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter
) -> None:
    protocol = RecordingProtocol()
    transport, peer = _plaintext_pair(nbio, protocol)
    payload = os.urandom(8 * 1024 * 1024)
    received = bytearray()

    def drain() -> None:
        while len(received) < len(payload) + 4:
            received.extend(peer.recv(1 << 20))
        ioloop.add_callback_threadsafe(ioloop.stop)

    try:
        transport.write(payload)
        assert 0 < transport.get_write_buffer_size() < len(payload)
        transport.write(b"tail")
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        run(ioloop)
        reader.join(WAIT)
        assert bytes(received) == payload + b"tail"
        assert transport.get_write_buffer_size() == 0
    finally:
        transport.abort()
        peer.close()


def test_a_failed_direct_send_aborts_with_that_error(
    ioloop: IOLoop, nbio: SelectorIOServicesAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    protocol = RecordingProtocol(lambda p, name: ioloop.stop() if name == "lost" else None)
    transport, peer = _plaintext_pair(nbio, protocol)
    peer.close()
    with caplog.at_level(logging.CRITICAL):
        transport.write(b"x")
        run(ioloop)
    assert len(protocol.lost) == 1
    assert isinstance(protocol.lost[0], (BrokenPipeError, ConnectionResetError))
    assert transport.get_write_buffer_size() == 0
