"""The error messages users meet most, checked against the real broker.

Each failure is provoked for real (refused port, unresolvable name, wrong
password, unknown vhost, untrusted TLS certificate, stalled link, missing
queue) through the three faces users open connections with: BlockingConnection,
SelectConnection (the on_open_error_callback / on_close_callback path) and the
thread-safe ``pika.Connection``. Every message must say where (host and port),
what to check, and never contain the password, in ``str``, ``repr`` or the log.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pika
import pika.connection
from pika import exceptions
from pika.adapters.select_connection import SelectConnection
from tests.conftest import Broker, TlsBroker
from tests.support.faultproxy import FaultProxy

PASSWORD = "s3cr3t-Pa55"
FACES = ("blocking", "select", "threadsafe")
_WAIT = 30.0  # upper bound for any single outcome


@pytest.fixture(autouse=True)
def _log_everything(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture pika's log at DEBUG: the password must not reach it either."""
    caplog.set_level(logging.DEBUG, logger="pika")
    yield
    assert PASSWORD not in caplog.text


@pytest.fixture(scope="module")
def user(broker: Broker) -> Iterator[str]:
    """A user whose password is PASSWORD, allowed on the default vhost."""
    node = broker.require_node()
    name = f"pika-err-{uuid.uuid4().hex[:8]}"
    node.add_user(name, PASSWORD)
    node.set_permissions(name, "/")
    yield name
    node.delete_user(name)


def _credentials(username: str = "guest", password: str = PASSWORD) -> pika.PlainCredentials:
    return pika.PlainCredentials(username, password)


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed, so nothing listens there


def _unresolvable_host() -> str:
    return f"no-such-host-{uuid.uuid4().hex[:8]}.invalid"


# -- opening through each face -------------------------------------------------------


def _open_error_blocking(params: pika.connection.Parameters) -> BaseException:
    with pytest.raises(BaseException) as info:
        pika.BlockingConnection(params).close()
    return info.value


def _open_error_select(params: pika.connection.Parameters) -> BaseException:
    outcome: list[BaseException | None] = []

    def opened(conn: SelectConnection) -> None:
        outcome.append(None)
        conn.ioloop.stop()

    def failed(conn: SelectConnection, error: BaseException) -> None:
        outcome.append(error)
        conn.ioloop.stop()

    conn = SelectConnection(params, on_open_callback=opened, on_open_error_callback=failed)
    guard = conn.ioloop.call_later(_WAIT, conn.ioloop.stop)
    conn.ioloop.start()
    conn.ioloop.remove_timeout(guard)
    conn.ioloop.close()
    assert outcome, f"no outcome within {_WAIT}s"
    error = outcome[0]
    assert error is not None, "the connection opened"
    return error


def _open_error_threadsafe(params: pika.connection.Parameters) -> BaseException:
    with pytest.raises(BaseException) as info:
        pika.Connection(params, timeout=_WAIT).close()
    return info.value


_OPENERS: dict[str, Callable[[pika.connection.Parameters], BaseException]] = {
    "blocking": _open_error_blocking,
    "select": _open_error_select,
    "threadsafe": _open_error_threadsafe,
}


def _check(error: BaseException, where: list[str], hint: str) -> None:
    """str and repr both name the place and the hint, and neither has the password."""
    for text in (str(error), repr(error)):
        for piece in [*where, hint]:
            assert piece in text, f"{piece!r} missing from {text!r}"
        assert PASSWORD not in text


# -- failures while opening ----------------------------------------------------------


@pytest.mark.parametrize("face", FACES)
def test_connection_refused(face: str, broker: Broker) -> None:
    port = _refused_port()
    params = broker.params(
        host="127.0.0.1", port=port, credentials=_credentials(), connection_attempts=1
    )
    error = _OPENERS[face](params)
    assert isinstance(error, exceptions.AMQPConnectionError)
    assert str(error).startswith(f"TCP connection to 127.0.0.1:{port} failed")
    assert "Connection refused" in str(error)
    _check(error, [f"127.0.0.1:{port}"], "check that the broker is running")
    assert repr(error).endswith(f"(host='127.0.0.1', port={port})")


@pytest.mark.parametrize("face", FACES)
def test_dns_failure(face: str, broker: Broker) -> None:
    host = _unresolvable_host()
    params = broker.params(host=host, port=5672, credentials=_credentials(), connection_attempts=1)
    error = _OPENERS[face](params)
    assert isinstance(error, exceptions.AMQPConnectionError)
    assert str(error).startswith(f"Could not resolve host name {host!r} (port 5672)")
    _check(error, [host, "5672"], "check the host in the connection parameters")


@pytest.mark.parametrize("face", FACES)
def test_bad_credentials(face: str, broker: Broker, user: str) -> None:
    params = broker.params(credentials=_credentials(user, PASSWORD + "-wrong"))
    error = _OPENERS[face](params)
    assert isinstance(error, exceptions.ProbableAuthenticationError)
    assert "ACCESS_REFUSED" in error.args[0]  # args[0] is still the repr of the broker's close
    where = f"{broker.host}:{broker.port}"
    _check(error, [where, repr(user), "ACCESS_REFUSED"], "Check the user name and password")


@pytest.mark.parametrize("face", FACES)
def test_unknown_vhost(face: str, broker: Broker, user: str) -> None:
    vhost = f"pika-err-no-such-vhost-{uuid.uuid4().hex[:8]}"
    params = broker.params(credentials=_credentials(user), virtual_host=vhost)
    error = _OPENERS[face](params)
    assert isinstance(error, exceptions.ProbableAccessDeniedError)
    assert "530" in error.args[0]
    where = f"{broker.host}:{broker.port}"
    _check(error, [where, repr(vhost), repr(user)], "Check that the virtual host exists")


@pytest.mark.parametrize("face", FACES)
def test_tls_certificate_not_trusted(face: str, tls_broker: TlsBroker) -> None:
    # The default context trusts the system CAs only, not the test CA.
    options = pika.SSLOptions(ssl.create_default_context(), tls_broker.server_hostname)
    params = pika.ConnectionParameters(
        tls_broker.host,
        tls_broker.port,
        credentials=_credentials(),
        ssl_options=options,
        connection_attempts=1,
    )
    error = _OPENERS[face](params)
    if face == "blocking":
        assert isinstance(error, ssl.SSLCertVerificationError)  # the class pika raised
    where = f"{tls_broker.host}:{tls_broker.port}"
    assert str(error).startswith(f"TLS handshake with {where} failed")
    _check(error, [where, "CERTIFICATE_VERIFY_FAILED"], "trusts the CA")


# -- failures after opening ----------------------------------------------------------


def _heartbeat_error_blocking(params: pika.connection.Parameters, proxy: FaultProxy) -> Any:
    conn = pika.BlockingConnection(params)
    proxy.stall()
    with pytest.raises(exceptions.AMQPHeartbeatTimeout) as info:
        conn.sleep(_WAIT)
    return info.value


def _heartbeat_error_select(params: pika.connection.Parameters, proxy: FaultProxy) -> Any:
    closed: list[BaseException] = []

    def on_close(conn: SelectConnection, error: BaseException) -> None:
        closed.append(error)
        conn.ioloop.stop()

    conn = SelectConnection(
        params, on_open_callback=lambda _conn: proxy.stall(), on_close_callback=on_close
    )
    guard = conn.ioloop.call_later(_WAIT, conn.ioloop.stop)
    conn.ioloop.start()
    conn.ioloop.remove_timeout(guard)
    conn.ioloop.close()
    assert closed, f"connection not closed within {_WAIT}s"
    return closed[0]


def _heartbeat_error_threadsafe(params: pika.connection.Parameters, proxy: FaultProxy) -> Any:
    closed: list[BaseException] = []
    done = threading.Event()

    def on_close(_conn: Any, error: BaseException) -> None:
        closed.append(error)
        done.set()

    conn = pika.Connection(params, on_close_callback=on_close, timeout=_WAIT)
    proxy.stall()
    assert done.wait(_WAIT), f"connection not closed within {_WAIT}s"
    conn.close()
    return closed[0]


@pytest.mark.parametrize("face", FACES)
def test_heartbeat_timeout(face: str, broker: Broker) -> None:
    run = {
        "blocking": _heartbeat_error_blocking,
        "select": _heartbeat_error_select,
        "threadsafe": _heartbeat_error_threadsafe,
    }[face]
    with FaultProxy("127.0.0.1", broker.port) as proxy:
        params = broker.params(
            host="127.0.0.1",
            port=proxy.port,
            heartbeat=1,
            credentials=pika.PlainCredentials(broker.username, broker.password),
        )
        error = run(params, proxy)
    assert isinstance(error, exceptions.AMQPHeartbeatTimeout), repr(error)
    # pika's wording stays first, so code matching on it keeps working.
    assert str(error).startswith("No activity or too many missed heartbeats in the last 1 seconds")
    _check(error, [f"127.0.0.1:{proxy.port}"], "check the network path to the broker")


def _missing_queue_error_blocking(broker: Broker, queue: str) -> Any:
    with pika.BlockingConnection(broker.params()) as conn:
        channel = conn.channel()
        with pytest.raises(exceptions.ChannelClosedByBroker) as info:
            channel.queue_declare(queue, passive=True)
        return info.value


def _missing_queue_error_select(broker: Broker, queue: str) -> Any:
    closed: list[BaseException] = []

    def on_channel_closed(channel: Any, error: BaseException) -> None:
        closed.append(error)
        channel.connection.close()

    def on_channel(channel: Any) -> None:
        channel.add_on_close_callback(on_channel_closed)
        channel.queue_declare(queue, passive=True)

    conn = SelectConnection(
        broker.params(),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, _error: c.ioloop.stop(),
    )
    guard = conn.ioloop.call_later(_WAIT, conn.ioloop.stop)
    conn.ioloop.start()
    conn.ioloop.remove_timeout(guard)
    conn.ioloop.close()
    assert closed, f"channel not closed within {_WAIT}s"
    return closed[0]


def _missing_queue_error_threadsafe(broker: Broker, queue: str) -> Any:
    with pika.Connection(broker.params(), timeout=_WAIT) as conn:
        channel = conn.channel(timeout=_WAIT)
        with pytest.raises(exceptions.ChannelClosedByBroker) as info:
            channel.queue_declare(queue, passive=True, timeout=_WAIT)
        return info.value


@pytest.mark.parametrize("face", FACES)
def test_channel_closed_by_broker(face: str, broker: Broker) -> None:
    run = {
        "blocking": _missing_queue_error_blocking,
        "select": _missing_queue_error_select,
        "threadsafe": _missing_queue_error_threadsafe,
    }[face]
    queue = f"pika-err-missing-{uuid.uuid4().hex[:8]}"
    error = run(broker, queue)
    assert isinstance(error, exceptions.ChannelClosedByBroker)
    assert error.args == (404, f"NOT_FOUND - no queue '{queue}' in vhost '/'")
    # str is the args tuple (API.md §2); the broker text there already names queue and vhost.
    assert str(error) == str(error.args)
    text = repr(error)
    assert text.startswith(f"ChannelClosedByBroker: (404) \"NOT_FOUND - no queue '{queue}'")
    for piece in (
        "channel=1",
        f"host={broker.host!r}",
        f"port={broker.port}",
        "declared before use",
    ):
        assert piece in text, f"{piece!r} missing from {text!r}"
