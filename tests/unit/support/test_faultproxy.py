"""The fault proxy against trivial local servers: forwarding and every fault it injects."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.support.faultproxy import FaultProxy, ProxyError

TIMEOUT = 5.0


@pytest.fixture
def server() -> Iterator[socket.socket]:
    """A listening socket the test accepts from itself."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        yield listener


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A one-connection echo server on a thread; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def serve() -> None:
        with contextlib.suppress(OSError), listener, listener.accept()[0] as conn:
            conn.settimeout(TIMEOUT)
            while data := conn.recv(65536):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    thread.join(TIMEOUT)
    assert not thread.is_alive()


@contextlib.contextmanager
def proxied(
    proxy: FaultProxy, server: socket.socket
) -> Iterator[tuple[socket.socket, socket.socket]]:
    """A client connected through *proxy* and the server side of that connection."""
    client = socket.create_connection(proxy.address, timeout=TIMEOUT)
    with client, server.accept()[0] as upstream:
        upstream.settimeout(TIMEOUT)
        yield client, upstream


def make_proxy(port: int, lifetime: float = 60.0) -> FaultProxy:
    return FaultProxy("127.0.0.1", port, lifetime=lifetime)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {data!r}, expected {size} bytes")
        data += chunk
    return data


def recv_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def readable_within(sock: socket.socket, seconds: float) -> bool:
    return bool(select.select([sock], [], [], seconds)[0])


def test_forwards_both_ways_through_an_echo_server(echo_port: int) -> None:
    payload = bytes(range(256)) * 2048  # 512 KiB: more than one read and one buffer fill
    with make_proxy(echo_port) as proxy:
        with socket.create_connection(proxy.address, timeout=TIMEOUT) as client:
            sender = threading.Thread(target=client.sendall, args=(payload,), daemon=True)
            sender.start()
            assert recv_exactly(client, len(payload)) == payload
            sender.join(TIMEOUT)
        proxy.wait_idle(TIMEOUT)
        assert proxy.accepted == 1
        assert proxy.bytes_to_server == proxy.bytes_to_client == len(payload)


def test_trickle_writes_one_byte_at_a_time(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, up):
        proxy.trickle()
        up.sendall(b"0123456789")
        assert recv_exactly(client, 10) == b"0123456789"
        proxy.trickle(False)  # returns after the loop has finished its last write
        assert proxy.client_writes == 10
        up.sendall(b"x" * 1000)
        assert recv_exactly(client, 1000) == b"x" * 1000
        assert proxy.client_writes < 10 + 1000


def test_stall_holds_bytes_both_ways_until_resume(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, up):
        proxy.stall()
        client.sendall(b"ping")
        up.sendall(b"pong")
        assert not readable_within(up, 0.3)
        assert not readable_within(client, 0.3)
        proxy.resume()
        assert recv_exactly(up, 4) == b"ping"
        assert recv_exactly(client, 4) == b"pong"


def test_cut_closes_both_sides(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, up):
        client.sendall(b"hello")
        assert recv_exactly(up, 5) == b"hello"
        assert proxy.cut() == 1
        assert client.recv(10) == b""
        assert up.recv(10) == b""
        assert proxy.active == 0


def test_cut_with_reset_resets_the_client(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, _):
        proxy.cut(reset=True)
        with pytest.raises(ConnectionResetError):
            client.recv(10)


def test_cut_after_delivers_exactly_n_bytes_then_eof(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, up):
        up.sendall(b"ab")
        assert recv_exactly(client, 2) == b"ab"
        proxy.cut_after(3)
        up.sendall(b"cdefgh")
        assert recv_until_eof(client) == b"cde"
        assert up.recv(10) == b""


def test_cut_after_counts_new_connections_from_their_start(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy:
        proxy.cut_after(2)
        with proxied(proxy, server) as (client, up):
            up.sendall(b"xyz")
            assert recv_until_eof(client) == b"xy"


def test_inject_sends_bytes_the_server_never_sent(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, up):
        up.sendall(b"real")
        assert recv_exactly(client, 4) == b"real"
        assert proxy.inject(b"\x01\x00\x00junk") == 1
        assert recv_exactly(client, 7) == b"\x01\x00\x00junk"
        assert not readable_within(up, 0.1)


def test_inject_while_stalled_overtakes_held_bytes(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, up):
        up.sendall(b"held")
        assert recv_exactly(client, 4) == b"held"
        proxy.stall()
        up.sendall(b"later")
        proxy.inject(b"now")
        assert recv_exactly(client, 3) == b"now"
        assert not readable_within(client, 0.3)
        proxy.resume()
        assert recv_exactly(client, 5) == b"later"


def test_inject_without_connections_reaches_nobody(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy:
        assert proxy.inject(b"x") == 0


def test_refuse_then_listen_again_on_the_same_port(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy:
        port = proxy.port
        proxy.refuse()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=TIMEOUT).close()
        proxy.listen()
        assert proxy.port == port
        with proxied(proxy, server) as (client, up):
            client.sendall(b"back")
            assert recv_exactly(up, 4) == b"back"


def test_unreachable_target_closes_the_client() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        dead_port = placeholder.getsockname()[1]
    with make_proxy(dead_port) as proxy:
        with socket.create_connection(proxy.address, timeout=TIMEOUT) as client:
            assert client.recv(10) == b""
        assert proxy.accepted == 1
        assert proxy.active == 0


def test_client_close_reaches_the_server(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, proxied(proxy, server) as (client, up):
        client.sendall(b"bye")
        client.close()
        assert recv_until_eof(up) == b"bye"
        proxy.wait_idle(TIMEOUT)


def test_stops_by_itself_when_its_lifetime_is_over(server: socket.socket) -> None:
    proxy = make_proxy(server.getsockname()[1], lifetime=0.5)
    with proxy, proxied(proxy, server) as (client, up):
        assert client.recv(10) == b""  # returns when the proxy gives up, well before TIMEOUT
        assert up.recv(10) == b""
        with pytest.raises(ProxyError, match="not running"):
            proxy.stall()


def test_wait_for_connections_times_out_with_a_clear_error(server: socket.socket) -> None:
    with (
        make_proxy(server.getsockname()[1]) as proxy,
        pytest.raises(ProxyError, match="1 connection"),
    ):
        proxy.wait_for_connections(1, timeout=0.2)


def test_cut_after_rejects_a_negative_count(server: socket.socket) -> None:
    with make_proxy(server.getsockname()[1]) as proxy, pytest.raises(ValueError, match="nbytes"):
        proxy.cut_after(-1)
