"""What each adapter does when the stream misbehaves (issue 3, item 6; API.md §12, §14, §26.1).

A FaultProxy sits between client and broker: it cuts connections (mid-frame, with FIN
or RST), stalls them, trickles bytes one at a time, or injects malformed frames.
Every wait is bounded, so "nothing hangs" is checked by every test finishing.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Any

import pytest

from pika import exceptions, spec
from tests.support.adapter_driver import AdapterDriver, Recorder, unique_name
from tests.support.faultproxy import FaultProxy

if TYPE_CHECKING:
    from tests.conftest import Broker

FRAME_END = b"\xce"


def connect_via(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy, **params: Any
) -> tuple[Any, Any, Recorder]:
    """An open connection through the proxy, an open channel, and one recorder for both."""
    conn, _ = driver.open_connection(broker.params(host=proxy.host, port=proxy.port, **params))
    ch = driver.open_channel(conn)
    rec = Recorder()
    ch.add_on_close_callback(rec.cb("channel closed"))
    conn.add_on_close_callback(rec.cb("connection closed"))
    return conn, ch, rec


def terminated(driver: AdapterDriver, conn: Any, ch: Any, rec: Recorder) -> BaseException:
    """Run until the connection reports closed; check the order; return the reason."""
    driver.run_until(lambda: rec.has("connection closed"), what="the connection to close")
    driver.run_for(0.1)
    assert "channel closed" in rec.names(), rec.calls
    assert rec.names().index("channel closed") < rec.names().index("connection closed")
    error: BaseException = rec.first("connection closed")[1]
    assert rec.first("channel closed") == (ch, error)
    assert conn.is_closed and ch.is_closed
    return error


def test_peer_vanishes_mid_frame_with_rpcs_pending(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy, qname: str
) -> None:
    conn, ch, rec = connect_via(driver, broker, proxy, heartbeat=0)
    proxy.cut_after(5)  # 5 of the 12 bytes of the Basic.QosOk frame, then EOF
    ch.basic_qos(prefetch_count=1, callback=rec.cb("qos ok"))
    ch.queue_declare(qname, exclusive=True, callback=rec.cb("declare ok"))  # queued behind
    error = terminated(driver, conn, ch, rec)
    assert isinstance(error, exceptions.StreamLostError)
    assert str(error) == "Transport indicated EOF"
    assert proxy.bytes_to_client > 0
    assert rec.names() == ["channel closed", "connection closed"]  # RPC callbacks dropped
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch.basic_qos(prefetch_count=1)


def test_peer_vanishes_in_the_middle_of_a_delivery(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy, qname: str
) -> None:
    conn, ch, rec = connect_via(driver, broker, proxy, heartbeat=0)
    driver.rpc(ch.queue_declare, qname, exclusive=True)
    ch.basic_consume(qname, rec.cb("message"), auto_ack=True, callback=rec.cb("consuming"))
    driver.run_until(lambda: rec.has("consuming"))
    proxy.cut_after(5000)  # the body is 100 kB: the stream ends inside a body frame
    ch.basic_publish("", qname, b"x" * 100_000)
    error = terminated(driver, conn, ch, rec)
    assert isinstance(error, exceptions.StreamLostError)
    assert str(error) == "Transport indicated EOF"
    assert not rec.has("message")


def test_connection_reset_is_a_stream_lost_error(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy
) -> None:
    conn, ch, rec = connect_via(driver, broker, proxy)
    proxy.stall()  # the request (and so its reply) is held back, then the connection reset
    ch.basic_qos(prefetch_count=1, callback=rec.cb("qos ok"))
    assert proxy.cut(reset=True) == 1
    error = terminated(driver, conn, ch, rec)
    assert isinstance(error, exceptions.StreamLostError)
    assert "ConnectionResetError" in str(error) or str(error) == "Transport indicated EOF"
    assert not rec.has("qos ok")


@pytest.mark.slow
def test_a_stalled_peer_is_detected_by_heartbeats(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy
) -> None:
    heartbeat = 1
    conn, ch, rec = connect_via(driver, broker, proxy, heartbeat=heartbeat)
    assert conn.params.heartbeat == heartbeat
    driver.run_for(2.5 * heartbeat)  # idle but healthy: heartbeats flow both ways
    assert conn.is_open and rec.calls == []

    proxy.stall()
    stalled_at = time.monotonic()
    ch.basic_qos(prefetch_count=1, callback=rec.cb("qos ok"))
    error = terminated(driver, conn, ch, rec)
    elapsed = time.monotonic() - stalled_at
    assert isinstance(error, exceptions.AMQPHeartbeatTimeout), repr(error)
    assert not rec.has("qos ok")
    # Within the negotiated window (two intervals, RabbitMQ's own rule) plus scheduling
    # slack; and not at once (the last heartbeat came at most half an interval earlier).
    assert heartbeat / 2 <= elapsed <= 2 * heartbeat + 1.0, elapsed


@pytest.mark.slow
def test_bytes_delivered_one_at_a_time(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy, qname: str
) -> None:
    proxy.trickle()
    conn, ch, rec = connect_via(driver, broker, proxy)
    driver.rpc(ch.queue_declare, qname, exclusive=True)
    driver.rpc(ch.confirm_delivery, rec.cb("confirm"))
    tag = ch.basic_consume(qname, rec.cb("message"))
    props = spec.BasicProperties(headers={"n": 1, "s": "two"}, correlation_id="c")
    bodies = [b"a" * 300, b"", "ünïcode".encode()]
    for body in bodies:
        ch.basic_publish("", qname, body, properties=props)
    driver.run_until(lambda: rec.has("message", 3) and _acked(rec) >= {1, 2, 3}, timeout=60)
    assert [args[3] for args in rec.args("message")] == bodies
    assert all(args[2].headers == {"n": 1, "s": "two"} for args in rec.args("message"))
    ch.basic_ack(rec.args("message")[-1][1].delivery_tag, multiple=True)
    assert isinstance(driver.rpc(ch.basic_cancel, tag).method, spec.Basic.CancelOk)
    assert proxy.client_writes >= proxy.bytes_to_client > 500  # really one byte per write
    conn.close()
    driver.run_until(lambda: rec.has("connection closed"), timeout=30)
    assert isinstance(rec.first("connection closed")[1], exceptions.ConnectionClosedByClient)


def _acked(rec: Recorder) -> set[int]:
    acked: set[int] = set()
    for (frame,) in rec.args("confirm"):
        tag = frame.method.delivery_tag
        acked.update(range(1, tag + 1) if frame.method.multiple else {tag})
    return acked


def test_broker_closes_the_connection(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy, qname: str
) -> None:
    node = broker.require_node()
    name = unique_name("pika-fault-forced")
    conn, ch, rec = connect_via(driver, broker, proxy, client_properties={"connection_name": name})
    driver.rpc(ch.queue_declare, qname, exclusive=True)
    ch.basic_consume(qname, rec.cb("message"))
    assert node.close_connection_named(name, "broker says bye") == 1
    error = terminated(driver, conn, ch, rec)
    assert isinstance(error, exceptions.ConnectionClosedByBroker)
    assert error.args == (320, "CONNECTION_FORCED - broker says bye")
    proxy.wait_idle(timeout=10)  # the client closed its socket too
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.channel()


MALFORMED = {
    "bad frame end": (struct.pack(">BHI", 8, 0, 0) + b"\x00", "frame-end"),
    "unknown frame type": (struct.pack(">BHI", 9, 0, 0) + FRAME_END, "frame type"),
    "frame larger than frame_max": (
        struct.pack(">BHI", 1, 1, 10_000_000) + b"\x00" * 16,
        "frame_max",
    ),
    "unknown method": (
        struct.pack(">BHI", 1, 1, 4) + struct.pack(">HH", 99, 99) + FRAME_END,
        "unknown method",
    ),
    "truncated method": (
        struct.pack(">BHI", 1, 1, 4) + struct.pack(">HH", 50, 11) + FRAME_END,
        "Queue.DeclareOk",
    ),
    "not AMQP at all": (b"HTTP/1.1 400 Bad Request\r\n\r\n", "frame type"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_frames_close_the_connection_with_a_clear_reason(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy, case: str
) -> None:
    data, problem = MALFORMED[case]
    conn, ch, rec = connect_via(driver, broker, proxy, heartbeat=0)
    proxy.stall()  # the request stays in the proxy; only the injected bytes arrive
    ch.basic_qos(prefetch_count=1, callback=rec.cb("qos ok"))
    assert proxy.inject(data) == 1
    error = terminated(driver, conn, ch, rec)
    assert isinstance(error, exceptions.StreamLostError), repr(error)
    assert problem in str(error), str(error)
    assert not rec.has("qos ok")
