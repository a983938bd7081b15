"""Opening and closing connections on every adapter (API.md §3.9, §14, §26.1-§26.2, §30.8)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

import pika
from pika import exceptions, spec
from pika.adapters.utils import connection_workflow as cw
from tests.support.adapter_driver import AdapterDriver, Recorder, unique_name
from tests.support.faultproxy import FaultProxy

if TYPE_CHECKING:
    from tests.conftest import Broker

#: How long to keep the loop running to see that a callback does NOT come.
QUIET = 0.3


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: connecting to it is refused, and no one can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def connect_and_wait(driver: AdapterDriver, params: pika.ConnectionParameters) -> Recorder:
    """Connect with recording callbacks and run until the first of them fires."""
    rec = Recorder()
    driver.connect(
        params, on_open=rec.cb("open"), on_open_error=rec.cb("open_error"), on_close=rec.cb("close")
    )
    driver.run_until(lambda: bool(rec.calls), what="an open or open-error callback")
    driver.run_for(QUIET)
    return rec


def only_open_error(rec: Recorder) -> BaseException:
    """The single open-error reported (and nothing else)."""
    assert rec.names() == ["open_error"], rec.calls
    conn, error = rec.first("open_error")
    assert conn.is_closed
    assert isinstance(error, BaseException)
    return error


def test_open_reports_the_connection_and_close_reports_closed_by_client(
    driver: AdapterDriver, broker: Broker
) -> None:
    conn, rec = driver.open_connection(broker.params())
    assert rec.first("open") == (conn,)
    assert (conn.is_open, conn.is_closing, conn.is_closed) == (True, False, False)
    assert conn.server_properties["product"] == "RabbitMQ"
    assert conn.publisher_confirms and conn.basic_nack
    assert conn.consumer_cancel_notify and conn.exchange_exchange_bindings

    conn.close()
    assert (conn.is_open, conn.is_closing, conn.is_closed) == (False, True, False)
    driver.run_until(lambda: rec.has("close"), what="on_close_callback")
    closed_conn, reason = rec.first("close")
    assert closed_conn is conn
    assert isinstance(reason, exceptions.ConnectionClosedByClient)
    assert reason.args == (200, "Normal shutdown")
    assert (reason.reply_code, reason.reply_text) == (200, "Normal shutdown")
    assert conn.is_closed
    assert rec.names() == ["open", "close"]


def test_close_with_a_reply_code_and_text(driver: AdapterDriver, broker: Broker) -> None:
    conn, rec = driver.open_connection(broker.params())
    conn.close(320, "going away")
    driver.run_until(lambda: rec.has("close"))
    assert rec.first("close")[1].args == (320, "going away")


def test_refused_port_is_an_amqp_connection_error_wrapping_the_workflow_failure(
    driver: AdapterDriver, broker: Broker, refusing_port: int
) -> None:
    error = only_open_error(connect_and_wait(driver, broker.params(port=refusing_port)))
    assert type(error) is exceptions.AMQPConnectionError
    failure = error.args[0]
    assert isinstance(failure, cw.AMQPConnectionWorkflowFailed)
    assert isinstance(failure.exceptions[-1], cw.AMQPConnectorSocketConnectError)
    assert isinstance(failure.exceptions[-1].exception, ConnectionRefusedError)


def test_bad_credentials_are_a_probable_authentication_error(
    driver: AdapterDriver, broker: Broker
) -> None:
    password = "not-the-password-" + unique_name()
    params = broker.params(credentials=pika.PlainCredentials(broker.username, password))
    error = only_open_error(connect_and_wait(driver, params))
    assert isinstance(error, exceptions.ProbableAuthenticationError)
    assert "ACCESS_REFUSED" in repr(error)
    assert password not in repr(error) and password not in str(error)


def test_unknown_vhost_is_a_probable_access_denied_error(
    driver: AdapterDriver, broker: Broker
) -> None:
    vhost = unique_name("pika-it-no-such-vhost")
    error = only_open_error(connect_and_wait(driver, broker.params(virtual_host=vhost)))
    assert isinstance(error, exceptions.ProbableAccessDeniedError)
    assert vhost in repr(error)


def test_dns_failure_is_a_workflow_failure(driver: AdapterDriver, broker: Broker) -> None:
    params = broker.params(host=f"{unique_name('no-such-host')}.invalid")
    error = only_open_error(connect_and_wait(driver, params))
    assert isinstance(error, cw.AMQPConnectionWorkflowFailed)
    assert isinstance(error.exceptions[-1], socket.gaierror)


def test_close_before_the_loop_runs_aborts_the_open(driver: AdapterDriver, broker: Broker) -> None:
    rec = Recorder()
    conn = driver.connect(
        broker.params(),
        on_open=rec.cb("open"),
        on_open_error=rec.cb("open_error"),
        on_close=rec.cb("close"),
    )
    conn.close()
    assert conn.is_closing
    driver.run_until(lambda: bool(rec.calls))
    driver.run_for(QUIET)
    error = only_open_error(rec)
    assert isinstance(error, exceptions.ConnectionOpenAborted)


def test_close_during_the_handshake_aborts_the_open(driver: AdapterDriver, broker: Broker) -> None:
    """The broker's bytes are held back, so close() lands in the middle of the handshake."""
    with FaultProxy(broker.host, broker.port) as proxy:
        proxy.stall()
        rec = Recorder()
        conn = driver.connect(
            broker.params(host=proxy.host, port=proxy.port),
            on_open=rec.cb("open"),
            on_open_error=rec.cb("open_error"),
            on_close=rec.cb("close"),
        )
        driver.run_until(lambda: proxy.accepted >= 1, what="the proxy to accept")
        assert not (conn.is_open or conn.is_closed)
        conn.close()
        driver.run_until(lambda: bool(rec.calls), what="the open error")
        driver.run_for(QUIET)
    error = only_open_error(rec)
    assert isinstance(error, exceptions.ConnectionOpenAborted)
    assert "before connection finished opening" in str(error)


def test_channel_close_callbacks_run_before_the_connection_close_callback(
    driver: AdapterDriver, broker: Broker
) -> None:
    rec = Recorder()
    conn, conn_rec = driver.open_connection(broker.params())
    conn.add_on_close_callback(rec.cb("connection"))
    channels = [driver.open_channel(conn) for _ in range(3)]
    for channel in channels:
        channel.add_on_close_callback(rec.cb(f"channel{channel.channel_number}"))
    conn.close()
    driver.run_until(lambda: conn_rec.has("close"))
    driver.run_for(QUIET)
    # Each channel closes when its CloseOk arrives (in the broker's order); all before
    # the connection.
    assert sorted(rec.names()[:3]) == ["channel1", "channel2", "channel3"]
    assert rec.names()[3:] == ["connection"]
    for channel in channels:
        (closed, reason) = rec.first(f"channel{channel.channel_number}")
        assert closed is channel and channel.is_closed
        assert isinstance(reason, exceptions.ChannelClosedByClient)
        assert reason.args == (200, "Normal shutdown")
    assert conn_rec.names() == ["open", "close"]


def test_double_close_raises_connection_wrong_state(driver: AdapterDriver, broker: Broker) -> None:
    conn, rec = driver.open_connection(broker.params())
    conn.close()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()
    driver.run_until(lambda: rec.has("close"))
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.channel()
    assert rec.names() == ["open", "close"]


def test_negotiated_parameters_are_written_back(driver: AdapterDriver, broker: Broker) -> None:
    conn, _ = driver.open_connection(broker.params(heartbeat=7, frame_max=65536))
    assert conn.params.heartbeat == 7  # the client's value wins (§3.5)
    assert conn.params.frame_max == 65536
    assert 0 < conn.params.channel_max <= 65535


def test_connection_name_reaches_the_broker(driver: AdapterDriver, broker: Broker) -> None:
    node = broker.require_node()
    name = unique_name("pika-it-conn")
    driver.open_connection(broker.params(client_properties={"connection_name": name}))
    rows = [
        row["client_properties"]
        for row in node.list_connections()
        if row["client_properties"].get("connection_name") == name
    ]
    assert len(rows) == 1
    assert rows[0]["product"] == "Pika Python Client Library"
    assert rows[0]["version"] == pika.__version__


def test_create_connection_tries_each_config_in_turn(
    driver: AdapterDriver, broker: Broker, refusing_port: int
) -> None:
    results: list[object] = []
    configs = [broker.params(port=refusing_port), broker.params()]
    driver.connection_class.create_connection(
        configs, results.append, custom_ioloop=driver.custom_ioloop()
    )
    driver.run_until(lambda: bool(results), what="create_connection's on_done")
    conn = results[0]
    assert isinstance(conn, driver.connection_class), conn
    driver.connections.append(conn)
    assert conn.is_open and conn.params.port == broker.port
    channel = driver.open_channel(conn)
    assert isinstance(driver.rpc(channel.basic_qos, prefetch_count=1).method, spec.Basic.QosOk)


def test_create_connection_reports_failure_of_every_config(
    driver: AdapterDriver, broker: Broker, refusing_port: int
) -> None:
    results: list[object] = []
    driver.connection_class.create_connection(
        [broker.params(port=refusing_port)] * 2,
        results.append,
        custom_ioloop=driver.custom_ioloop(),
    )
    driver.run_until(lambda: bool(results))
    assert isinstance(results[0], cw.AMQPConnectionWorkflowFailed)
    assert len(results[0].exceptions) == 2
