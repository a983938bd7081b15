"""Thread-safe Connection against the real broker: lifecycle, RPCs, callbacks, errors."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

import pytest
from threadsafe_support import WAIT, run_in_thread, wait_until

import pika
from pika import exceptions, spec
from pika.adapters.thread_safe_connection import Channel, Connection
from tests.conftest import Broker


def test_open_starts_a_named_io_thread_and_close_joins_it(
    connect: Callable[..., Connection],
) -> None:
    conn = connect()
    io_threads = [t for t in threading.enumerate() if t.name.startswith("pika-ioloop-")]
    assert conn.is_open and not conn.is_closed
    assert any(t.daemon for t in io_threads)
    conn.close()
    assert conn.is_closed and not conn.is_open
    assert not conn._thread.is_alive()


def test_recorded_close_reason_is_reraised_with_a_stable_traceback(connection: Connection) -> None:
    channel = connection.channel()
    connection.close()
    depths = []
    for _ in range(3):
        with pytest.raises(exceptions.ConnectionClosedByClient) as info:
            connection.channel()
        assert info.value.args == (200, "Normal shutdown")
        depths.append(len(traceback.extract_tb(info.value.__traceback__)))
    with pytest.raises(exceptions.ConnectionClosedByClient):
        channel.queue_declare("x")
    with pytest.raises(exceptions.ConnectionClosedByClient):
        channel.basic_publish("", "x", b"body")
    with pytest.raises(exceptions.ConnectionClosedByClient):
        connection.add_callback_threadsafe(lambda: None)
    assert depths[0] == depths[1] == depths[2]
    connection.close()  # a no-op now


def test_context_manager_closes(connect: Callable[..., Connection]) -> None:
    with connect() as conn, conn.channel() as channel:
        assert channel.is_open
    assert channel.is_closed
    assert conn.is_closed


def test_rpcs_return_their_reply_frames(channel: Channel, queue: str) -> None:
    declare_ok = channel.queue_declare(queue)
    assert isinstance(declare_ok.method, spec.Queue.DeclareOk)
    assert declare_ok.method.queue == queue
    exchange = f"{queue}-x"
    assert isinstance(channel.exchange_declare(exchange, "fanout").method, spec.Exchange.DeclareOk)
    assert isinstance(channel.queue_bind(queue, exchange).method, spec.Queue.BindOk)
    assert isinstance(channel.queue_unbind(queue, exchange).method, spec.Queue.UnbindOk)
    assert isinstance(channel.exchange_delete(exchange).method, spec.Exchange.DeleteOk)
    assert isinstance(channel.basic_qos(prefetch_count=5).method, spec.Basic.QosOk)
    assert isinstance(channel.basic_recover(requeue=True).method, spec.Basic.RecoverOk)
    channel.basic_publish("", queue, b"one")
    assert channel.queue_purge(queue).method.message_count == 1
    assert isinstance(channel.queue_delete(queue).method, spec.Queue.DeleteOk)


def test_transactions_commit_and_roll_back(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    assert isinstance(channel.tx_select().method, spec.Tx.SelectOk)
    channel.basic_publish("", queue, b"rolled back")
    assert isinstance(channel.tx_rollback().method, spec.Tx.RollbackOk)
    channel.basic_publish("", queue, b"committed")
    assert isinstance(channel.tx_commit().method, spec.Tx.CommitOk)
    assert channel.queue_declare(queue, passive=True).method.message_count == 1
    assert channel.basic_get(queue, auto_ack=True)[2] == b"committed"


def test_update_secret(connection: Connection, broker: Broker) -> None:
    reply = connection.update_secret(broker.password, "test refresh")
    assert isinstance(reply.method, spec.Connection.UpdateSecretOk)


def test_basic_get_returns_a_message_or_nones(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    assert channel.basic_get(queue) == (None, None, None)
    channel.basic_publish("", queue, "text", pika.BasicProperties(content_type="text/plain"))
    method, properties, body = channel.basic_get(queue)
    assert isinstance(method, spec.Basic.GetOk)
    assert properties.content_type == "text/plain"
    assert body == b"text"
    channel.basic_ack(method.delivery_tag)


def test_concurrent_basic_gets_on_one_channel_are_serialised(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    for index in range(20):
        channel.basic_publish("", queue, str(index))
    runs = [run_in_thread(lambda: channel.basic_get(queue, auto_ack=True)) for _ in range(25)]
    bodies = []
    for thread, outcome in runs:
        thread.join(WAIT)
        assert outcome.error is None, outcome.error
        bodies.append(outcome.value[2])
    assert sorted(b for b in bodies if b is not None) == sorted(str(i).encode() for i in range(20))
    assert bodies.count(None) == 5


def test_deliveries_run_in_order_on_the_channel_worker(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    seen: list[tuple[str, bytes]] = []
    done = threading.Event()

    def on_message(ch: Channel, method: spec.Basic.Deliver, _props: object, body: bytes) -> None:
        seen.append((threading.current_thread().name, body))
        ch.basic_ack(method.delivery_tag)
        if len(seen) == 200:
            done.set()

    tag = channel.basic_consume(queue, on_message)
    assert tag.startswith("ctag1.")
    for index in range(200):
        channel.basic_publish("", queue, str(index))
    assert done.wait(WAIT)
    assert [body for _, body in seen] == [str(i).encode() for i in range(200)]
    assert {name for name, _ in seen} == {"pika-consumer"}
    assert isinstance(channel.basic_cancel(tag).method, spec.Basic.CancelOk)
    assert channel.basic_cancel(tag) is None  # no longer active
    wait_until(lambda: channel.queue_declare(queue, passive=True).method.message_count == 0)


def test_callback_exceptions_are_logged_and_contained(
    channel: Channel, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    channel.queue_declare(queue)
    second = threading.Event()

    def on_message(ch: Channel, method: spec.Basic.Deliver, _props: object, body: bytes) -> None:
        ch.basic_ack(method.delivery_tag)
        if body == b"boom":
            raise ZeroDivisionError("user bug")
        second.set()

    channel.basic_consume(queue, on_message)
    with caplog.at_level(logging.ERROR, "pika.adapters.thread_safe_connection"):
        channel.basic_publish("", queue, b"boom")
        channel.basic_publish("", queue, b"fine")
        assert second.wait(WAIT)
    assert any("user bug" in (r.exc_text or "") for r in caplog.records)
    assert channel.is_open
    assert channel.connection.is_open


def test_returned_messages_reach_the_return_callback_on_the_worker(channel: Channel) -> None:
    returned = []
    done = threading.Event()

    def on_return(ch: Channel, method: spec.Basic.Return, _props: object, body: bytes) -> None:
        returned.append((ch, method.reply_code, body, threading.current_thread().name))
        done.set()

    channel.add_on_return_callback(on_return)
    channel.basic_publish("", "no-such-queue-anywhere", b"lost", mandatory=True)
    assert done.wait(WAIT)
    assert returned == [(channel, 312, b"lost", "pika-consumer")]


def test_broker_consumer_cancel_reaches_the_cancel_callback(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    cancelled = []
    done = threading.Event()

    def on_cancel(method_frame: object) -> None:
        cancelled.append(method_frame)
        done.set()

    channel.add_on_cancel_callback(on_cancel)
    tag = channel.basic_consume(queue, lambda *args: None)
    other = channel.connection.channel()
    other.queue_delete(queue)
    assert done.wait(WAIT)
    assert cancelled[0].method.consumer_tag == tag


def test_add_callback_threadsafe_runs_on_the_io_thread(connection: Connection) -> None:
    ran_on: list[str] = []
    done = threading.Event()

    def callback() -> None:
        ran_on.append(threading.current_thread().name)
        done.set()

    connection.add_callback_threadsafe(callback)
    assert done.wait(WAIT)
    assert ran_on == [connection._thread.name]


def test_channel_closed_by_broker_raises_its_reason_everywhere(channel: Channel) -> None:
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        channel.queue_declare("no-such-queue-for-passive", passive=True)
    assert info.value.reply_code == 404
    assert channel.is_closed
    with pytest.raises(exceptions.ChannelClosedByBroker):
        channel.queue_declare("anything")
    with pytest.raises(exceptions.ChannelClosedByBroker):
        channel.basic_publish("", "x", b"body")
    with pytest.raises(exceptions.ChannelClosedByBroker):
        channel.close()
    channel.abort()  # never raises
    assert channel.connection.is_open


def test_channel_close_is_idempotent_and_frees_the_channel(connection: Connection) -> None:
    channel = connection.channel()
    number = channel.channel_number
    channel.close()
    channel.close()
    assert channel.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.queue_declare("x")
    assert connection.channel().channel_number == number


def test_basic_get_on_a_closed_channel_raises_and_keeps_the_connection(
    connection: Connection,
) -> None:
    channel = connection.channel()
    channel.close()
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.basic_get("anything")
    assert connection.channel().queue_declare("", exclusive=True).method.queue


def test_blocking_calls_from_the_io_thread_are_refused(connection: Connection) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def on_io_thread() -> None:
        try:
            connection.channel()
        except RuntimeError as exc:
            errors.append(exc)
        done.set()

    connection.add_callback_threadsafe(on_io_thread)
    assert done.wait(WAIT)
    assert "I/O thread" in str(errors[0])


def test_next_publish_seq_no_counts_confirm_tags(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    assert channel.next_publish_seq_no is None
    channel.confirm_delivery()
    assert channel.next_publish_seq_no == 1
    first = channel.confirm_delivery()  # idempotent: same frame, nothing sent
    assert first is channel.confirm_delivery()
    tags: list[int] = []
    done = threading.Event()

    def on_publish(tag: int) -> None:
        tags.append(tag)
        if len(tags) == 3:
            done.set()

    for _ in range(3):
        channel.basic_publish("", queue, b"m", on_publish=on_publish)
    assert done.wait(WAIT)
    assert tags == [1, 2, 3]
    assert channel.next_publish_seq_no == 4
