"""Faults: full work queues, stalled links, lost connections, closes from odd threads."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from threadsafe_support import WAIT, run_in_thread, wait_until

from pika import exceptions, spec
from pika.adapters.thread_safe_connection import Channel, Connection
from pika.credentials import PlainCredentials
from tests.conftest import Broker
from tests.support.faultproxy import FaultProxy
from tests.support.rabbitmq_node import free_port


def _closes(into: list[BaseException], event: threading.Event) -> Callable[[Any, Any], None]:
    def on_close(_impl: Any, reason: BaseException) -> None:
        into.append(reason)
        event.set()

    return on_close


def test_full_work_queue_tears_the_connection_down(
    connect: Callable[..., Connection], queue: str
) -> None:
    reasons: list[BaseException] = []
    closed = threading.Event()
    conn = connect(
        work_queue_maxsize=1,
        work_queue_put_timeout=0.5,
        on_close_callback=_closes(reasons, closed),
    )
    channel = conn.channel()
    channel.queue_declare(queue)
    release = threading.Event()
    channel.basic_consume(queue, lambda *args: release.wait(WAIT))
    for _ in range(5):
        channel.basic_publish("", queue, b"more than the worker can take")
    try:
        assert closed.wait(WAIT)
    finally:
        release.set()
    assert isinstance(reasons[0], exceptions.WorkQueueFullError)
    assert "work_queue_maxsize=1" in str(reasons[0])
    with pytest.raises(exceptions.WorkQueueFullError):
        channel.queue_declare(queue)
    with pytest.raises(exceptions.WorkQueueFullError):
        conn.channel()
    assert conn.is_closed


def test_rpc_timeouts_raise_builtin_timeout_error(
    connect: Callable[..., Connection], proxy_params: Callable[..., Any], proxy: FaultProxy
) -> None:
    conn = connect(proxy_params(heartbeat=0))
    channel = conn.channel()
    proxy.stall()
    with pytest.raises(TimeoutError, match=r"queue_declare timed out after 0\.3 s") as info:
        channel.queue_declare("", exclusive=True, timeout=0.3)
    assert type(info.value) is TimeoutError
    with pytest.raises(TimeoutError, match="channel timed out"):
        conn.channel(timeout=0.3)
    with pytest.raises(TimeoutError):
        conn.update_secret("guest", "stalled", timeout=0.3)
    proxy.resume()
    # The late replies are matched to the abandoned calls; the channel carries on.
    assert channel.queue_declare("", exclusive=True).method.queue.startswith("amq.gen-")
    assert conn.channel().is_open
    assert conn.is_open


def test_connection_loss_wakes_every_blocked_thread(
    connect: Callable[..., Connection], proxy_params: Callable[..., Any], proxy: FaultProxy
) -> None:
    reasons: list[BaseException] = []
    closed = threading.Event()
    conn = connect(proxy_params(heartbeat=0), on_close_callback=_closes(reasons, closed))
    first, second, third = conn.channel(), conn.channel(), conn.channel()
    first.confirm_delivery()
    baseline = len(conn._pending)
    proxy.stall()
    calls: list[Callable[[], Any]] = [
        lambda: first.queue_declare("", exclusive=True, timeout=None),
        lambda: first.publish_with_confirm("", "q", b"x").result(WAIT),
        lambda: second.basic_get("q", timeout=None),
        lambda: second.exchange_declare("ts-x", timeout=None),  # queued behind the get
        lambda: third.tx_select(timeout=None),
        lambda: conn.channel(timeout=None),
        lambda: conn.update_secret("guest", "blocked", timeout=None),
    ]
    runs = [run_in_thread(call, f"caller-{i}") for i, call in enumerate(calls)]
    wait_until(lambda: len(conn._pending) >= baseline + len(calls), what="every call in flight")
    proxy.cut()
    assert closed.wait(WAIT)
    for thread, outcome in runs:
        thread.join(WAIT)
        assert not thread.is_alive(), f"{thread.name} still blocked"
        assert isinstance(outcome.error, exceptions.StreamLostError), (thread.name, outcome.error)
    assert isinstance(reasons[0], exceptions.StreamLostError)
    with pytest.raises(exceptions.StreamLostError):
        first.basic_ack(1)


def test_missed_heartbeats_wake_blocked_threads(
    connect: Callable[..., Connection], proxy_params: Callable[..., Any], proxy: FaultProxy
) -> None:
    conn = connect(proxy_params(heartbeat=1))
    channel = conn.channel()
    proxy.stall()
    thread, outcome = run_in_thread(lambda: channel.queue_declare("", timeout=None))
    thread.join(WAIT)
    assert not thread.is_alive()
    assert isinstance(outcome.error, exceptions.AMQPHeartbeatTimeout)
    assert conn.is_closed


def test_broker_close_ends_consume_generators_in_other_threads(
    connect: Callable[..., Connection], broker: Broker
) -> None:
    node = broker.require_node()
    name = f"ts-close-{uuid.uuid4().hex[:8]}"
    conn = connect(broker.params(client_properties={"connection_name": name}))
    channels = [conn.channel() for _ in range(3)]
    queues = [ch.queue_declare("", exclusive=True).method.queue for ch in channels]

    def drain(channel: Channel, queue: str) -> list[Any]:
        return list(channel.consume(queue))

    runs = [
        run_in_thread(lambda c=c, q=q: drain(c, q)) for c, q in zip(channels, queues, strict=True)
    ]
    wait_until(lambda: all(ch.consumer_tags for ch in channels), what="consumers started")
    assert node.close_connection_named(name) == 1
    for thread, outcome in runs:
        thread.join(WAIT)
        assert not thread.is_alive()
        assert isinstance(outcome.error, exceptions.ConnectionClosedByBroker)
        assert outcome.error.reply_code == 320


def test_close_from_a_consumer_worker_thread(connection: Connection, queue: str) -> None:
    channel = connection.channel()
    channel.queue_declare(queue)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def on_message(ch: Channel, method: spec.Basic.Deliver, _props: object, _body: bytes) -> None:
        ch.basic_ack(method.delivery_tag)
        try:
            ch.connection.close()
            outcome["closed"] = ch.connection.is_closed
        except BaseException as exc:
            outcome["error"] = exc
        done.set()

    channel.basic_consume(queue, on_message)
    channel.basic_publish("", queue, b"close please")
    assert done.wait(WAIT)
    assert outcome == {"closed": True}
    assert not connection._thread.is_alive()
    with pytest.raises(exceptions.ConnectionClosedByClient):
        connection.channel()


def test_channel_close_from_its_own_worker(connection: Connection, queue: str) -> None:
    channel = connection.channel()
    channel.queue_declare(queue)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def on_message(ch: Channel, _method: object, _props: object, _body: bytes) -> None:
        try:
            ch.close()
            outcome["closed"] = ch.is_closed
        except BaseException as exc:
            outcome["error"] = exc
        done.set()

    channel.basic_consume(queue, on_message)
    channel.basic_publish("", queue, b"close the channel")
    assert done.wait(WAIT)
    assert outcome == {"closed": True}
    assert connection.is_open
    assert connection.channel().queue_declare(queue, passive=True).method.message_count == 1


def test_close_without_an_answer_force_closes_within_its_budget(
    connect: Callable[..., Connection], proxy_params: Callable[..., Any], proxy: FaultProxy
) -> None:
    conn = connect(proxy_params(heartbeat=0))
    channel = conn.channel()
    proxy.stall()
    thread, outcome = run_in_thread(lambda: channel.queue_declare("", timeout=None))
    wait_until(lambda: len(conn._pending) >= 2, what="the declare in flight")
    started = time.monotonic()
    conn.close(timeout=0.5)
    assert time.monotonic() - started < 0.5 * 2 + 1.0
    thread.join(WAIT)
    assert not thread.is_alive()
    assert isinstance(outcome.error, exceptions.AMQPConnectionError)
    assert "force-closed" in str(outcome.error)
    assert conn.is_closed
    with pytest.raises(exceptions.AMQPConnectionError, match="force-closed"):
        conn.channel()


def test_bad_credentials_raise_from_the_constructor(
    connect: Callable[..., Connection], broker: Broker
) -> None:
    seen: list[tuple[str, BaseException]] = []

    def on_open_error(_impl: Any, error: BaseException) -> None:
        seen.append((threading.current_thread().name, error))

    params = broker.params(credentials=PlainCredentials("guest", "wrong-password"))
    with pytest.raises(exceptions.ProbableAuthenticationError):
        connect(params, on_open_error_callback=on_open_error)
    [(thread_name, error)] = seen
    assert thread_name.startswith("pika-ioloop-")
    assert isinstance(error, exceptions.ProbableAuthenticationError)


def test_refused_connection_raises_amqp_connection_error(
    connect: Callable[..., Connection], broker: Broker
) -> None:
    with pytest.raises(exceptions.AMQPConnectionError):
        connect(broker.params(port=free_port(), connection_attempts=1))


def test_open_timeout_raises_builtin_timeout_error(
    connect: Callable[..., Connection], proxy_params: Callable[..., Any], proxy: FaultProxy
) -> None:
    proxy.stall()
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(TimeoutError, match=r"did not open within 0\.5 s") as info:
        connect(proxy_params(), timeout=0.5)
    assert type(info.value) is TimeoutError
    wait_until(
        lambda: (
            not any(
                t.name.startswith("pika-ioloop-") and t.name not in before
                for t in threading.enumerate()
            )
        ),
        what="the I/O thread of the abandoned connection to end",
    )


def test_blocked_and_unblocked_callbacks_run_on_the_connection_worker(
    connection: Connection, broker: Broker
) -> None:
    node = broker.require_node()
    events: list[tuple[str, Connection, str]] = []
    blocked, unblocked = threading.Event(), threading.Event()

    def record(kind: str, event: threading.Event) -> Callable[[Connection, Any], None]:
        def callback(conn: Connection, method_frame: Any) -> None:
            events.append((kind, conn, threading.current_thread().name))
            assert method_frame.method.NAME.endswith(kind)
            event.set()

        return callback

    connection.add_on_connection_blocked_callback(record("Blocked", blocked))
    connection.add_on_connection_unblocked_callback(record("Unblocked", unblocked))
    channel = connection.channel()
    node.set_memory_alarm(True)
    try:
        channel.basic_publish("", "nowhere", b"triggers the block")
        assert blocked.wait(WAIT)
    finally:
        node.set_memory_alarm(False)
    assert unblocked.wait(WAIT)
    worker = f"pika-conn-{connection._number}"
    assert events == [("Blocked", connection, worker), ("Unblocked", connection, worker)]


def test_a_get_answered_after_its_timeout_is_requeued(
    connect: Callable[..., Connection],
    proxy_params: Callable[..., Any],
    proxy: FaultProxy,
    queue: str,
) -> None:
    conn = connect(proxy_params(heartbeat=0))
    channel = conn.channel()
    channel.queue_declare(queue)
    channel.confirm_delivery()
    channel.publish_with_confirm("", queue, b"only one").result(WAIT)
    proxy.stall()
    with pytest.raises(TimeoutError):
        channel.basic_get(queue, timeout=0.3)
    proxy.resume()
    method, _props, body = channel.basic_get(queue)
    assert body == b"only one"
    assert method.redelivered  # the abandoned get's copy was given back
    channel.basic_ack(method.delivery_tag)
