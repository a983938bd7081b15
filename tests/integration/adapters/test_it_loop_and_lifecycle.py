"""Timers, thread-safe callbacks, callback exceptions, blocked connections and connections
lost under a consumer, on every adapter (API.md §3.8, §15.2, §26.1, §30.34-§30.40)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from pika import exceptions, spec
from tests.support.adapter_driver import AdapterDriver, Recorder, in_thread, unique_name

if TYPE_CHECKING:
    from tests.conftest import Broker

Opened = tuple[Any, Any]

#: A timer or a thread-safe callback must run this promptly on an idle loop.
PROMPT = 1.0


def test_timers_fire_in_order_and_removed_ones_never(driver: AdapterDriver, opened: Opened) -> None:
    conn, _ = opened
    fired: list[str] = []
    start = time.monotonic()
    driver.call_later(0.15, lambda: fired.append("late"))
    driver.call_later(0.05, lambda: fired.append("early"))
    removed = driver.call_later(0.1, lambda: fired.append("removed"))
    driver.remove_timeout(removed)
    legacy = conn.add_timeout(0.1, lambda: fired.append("legacy"))  # pika 0.x connection API
    legacy_removed = conn.add_timeout(0.05, lambda: fired.append("legacy removed"))
    conn.remove_timeout(legacy_removed)
    assert legacy is not None
    driver.run_until(lambda: len(fired) == 3, timeout=5, what="three timers")
    driver.run_for(0.1)
    assert fired == ["early", "legacy", "late"]
    assert 0.15 <= time.monotonic() - start < 0.15 + PROMPT


def test_threadsafe_callback_wakes_an_idle_loop(driver: AdapterDriver, opened: Opened) -> None:
    ran: list[tuple[int, float]] = []
    requested: list[float] = []
    go = threading.Event()

    def from_other_thread() -> None:
        go.wait(10)
        requested.append(time.monotonic())
        driver.add_callback_threadsafe(
            lambda: ran.append((threading.get_ident(), time.monotonic()))
        )

    thread = in_thread(from_other_thread)
    driver.call_later(0.05, go.set)  # the loop is idle (blocked in its poll) when the thread asks
    driver.run_until(lambda: bool(ran), timeout=5, what="the thread-safe callback")
    thread.join(5)
    assert ran[0][0] == threading.get_ident()  # ran on the loop's thread
    assert ran[0][1] - requested[0] < PROMPT


def test_exception_in_a_consumer_callback_tears_the_connection_down(
    driver: AdapterDriver, opened: Opened, qname: str, caplog: pytest.LogCaptureFixture
) -> None:
    conn, ch = opened
    rec = Recorder()
    conn.add_on_close_callback(rec.cb("connection closed"))
    ch.add_on_close_callback(rec.cb("channel closed"))
    driver.rpc(ch.queue_declare, qname, exclusive=True)

    def on_message(*_args: Any) -> None:
        rec.calls.append(("message", ()))
        raise ZeroDivisionError("division by zero")

    ch.basic_consume(qname, on_message, auto_ack=True)
    ch.basic_publish("", qname, b"boom")
    driver.run_until(lambda: rec.has("connection closed"), what="the connection to close")
    assert rec.names() == ["message", "channel closed", "connection closed"]
    error = rec.first("connection closed")[1]
    assert isinstance(error, exceptions.StreamLostError)
    assert "ZeroDivisionError('division by zero')" in str(error)
    assert rec.first("channel closed")[1] is error
    assert conn.is_closed and ch.is_closed


def test_exception_in_an_rpc_callback_tears_the_connection_down(
    driver: AdapterDriver, opened: Opened
) -> None:
    conn, ch = opened
    rec = Recorder()
    conn.add_on_close_callback(rec.cb("connection closed"))

    def on_qos_ok(_frame: Any) -> None:
        raise KeyError("from the user's callback")

    ch.basic_qos(prefetch_count=1, callback=on_qos_ok)
    driver.run_until(lambda: rec.has("connection closed"))
    error = rec.first("connection closed")[1]
    assert isinstance(error, exceptions.StreamLostError)
    assert "KeyError" in str(error) and "from the user's callback" in str(error)


def test_connection_closed_by_the_broker_mid_consume(driver: AdapterDriver, broker: Broker) -> None:
    node = broker.require_node()
    name = unique_name("pika-it-forced")
    conn, conn_rec = driver.open_connection(
        broker.params(client_properties={"connection_name": name})
    )
    ch = driver.open_channel(conn)
    rec = Recorder()
    ch.add_on_close_callback(rec.cb("channel closed"))
    conn.add_on_close_callback(rec.cb("connection closed"))
    queue = driver.rpc(ch.queue_declare, "", exclusive=True).method.queue
    tag = ch.basic_consume(queue, rec.cb("message"))
    for n in range(3):
        ch.basic_publish("", queue, f"m{n}")
    driver.run_until(lambda: rec.has("message", 3), what="three deliveries")

    closed: list[int] = []  # the CLI runs in a thread so the loop keeps serving meanwhile
    closer = in_thread(
        lambda: closed.append(node.close_connection_named(name, "forced by the test"))
    )
    driver.run_until(lambda: rec.has("connection closed"), timeout=60, what="the forced close")
    closer.join(30)
    assert closed == [1]
    assert rec.names()[-2:] == ["channel closed", "connection closed"]
    error = rec.first("connection closed")[1]
    assert isinstance(error, exceptions.ConnectionClosedByBroker)
    assert error.reply_code == 320 and "forced by the test" in error.reply_text
    assert rec.first("channel closed") == (ch, error)
    assert conn_rec.names() == ["open", "close"]
    assert conn.is_closed and ch.is_closed and tag not in ch.consumer_tags
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch.basic_ack(1)


def test_blocked_and_unblocked_callbacks_and_the_blocked_timeout(
    driver: AdapterDriver, broker: Broker
) -> None:
    node = broker.require_node()
    rec = Recorder()
    plain, _ = driver.open_connection(broker.params())
    plain.add_on_connection_blocked_callback(rec.cb("blocked"))
    plain.add_on_connection_unblocked_callback(rec.cb("unblocked"))
    timed, timed_rec = driver.open_connection(broker.params(blocked_connection_timeout=0.5))
    timed.add_on_connection_blocked_callback(rec.cb("timed blocked"))
    channels = [driver.open_channel(conn) for conn in (plain, timed)]

    alarm = in_thread(lambda: node.set_memory_alarm(True))
    try:
        driver.run_until(lambda: not alarm.is_alive(), timeout=60, what="the memory alarm")
        # RabbitMQ blocks a connection once it publishes while the alarm is on.
        for channel in channels:
            channel.basic_publish("", unique_name(), b"makes me a publisher")
        driver.run_until(lambda: rec.has("blocked"), timeout=60, what="connection.blocked")
        driver.run_until(lambda: timed_rec.has("close"), timeout=10, what="the blocked timeout")
    finally:
        alarm.join(60)
        node.set_memory_alarm(False)
    driver.run_until(lambda: rec.has("unblocked"), timeout=60, what="connection.unblocked")

    conn, frame = rec.first("blocked")
    assert conn is plain and isinstance(frame.method, spec.Connection.Blocked)
    assert isinstance(frame.method.reason, str) and frame.method.reason
    conn, frame = rec.first("unblocked")
    assert conn is plain and isinstance(frame.method, spec.Connection.Unblocked)
    assert plain.is_open

    assert rec.has("timed blocked")
    error = timed_rec.first("close")[1]
    assert isinstance(error, exceptions.ConnectionBlockedTimeout)
    assert timed.is_closed
