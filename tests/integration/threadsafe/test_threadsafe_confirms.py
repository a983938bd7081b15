"""Publishing from many threads, and publisher confirms you can wait on."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import pytest
from threadsafe_support import WAIT, wait_until

from pika import exceptions, spec
from pika.adapters.thread_safe_connection import Channel, Connection, ReturnedMessage
from tests.support.faultproxy import FaultProxy

THREADS = 8
PER_THREAD = 500


def _drain_bodies(channel: Channel, queue: str, expected: int) -> list[bytes]:
    bodies = []
    for method, _props, body in channel.consume(queue, inactivity_timeout=5):
        assert method is not None, f"only {len(bodies)} of {expected} messages arrived"
        bodies.append(body)
        channel.basic_ack(method.delivery_tag)
        if len(bodies) == expected:
            break
    return bodies


def test_eight_threads_share_one_confirming_channel(connection: Connection, queue: str) -> None:
    channel = connection.channel()
    channel.queue_declare(queue)
    channel.confirm_delivery()
    start = threading.Barrier(THREADS)

    def publisher(worker: int) -> list[concurrent.futures.Future[Any]]:
        start.wait(WAIT)
        return [
            channel.publish_with_confirm("", queue, f"{worker}:{index}")
            for index in range(PER_THREAD)
        ]

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        batches = [f.result(WAIT) for f in [pool.submit(publisher, w) for w in range(THREADS)]]
    futures = [future for batch in batches for future in batch]
    done, not_done = concurrent.futures.wait(futures, timeout=WAIT)
    assert not not_done
    assert all(isinstance(f.result().method, spec.Basic.Ack) for f in done)

    total = THREADS * PER_THREAD
    assert channel.queue_declare(queue, passive=True).method.message_count == total
    bodies = _drain_bodies(connection.channel(), queue, total)
    expected = {f"{w}:{i}".encode() for w in range(THREADS) for i in range(PER_THREAD)}
    assert len(bodies) == total
    assert set(bodies) == expected  # nothing lost, nothing duplicated
    for worker in range(THREADS):  # each thread's messages kept its own order
        own = [b for b in bodies if b.startswith(f"{worker}:".encode())]
        assert own == [f"{worker}:{i}".encode() for i in range(PER_THREAD)]


def test_eight_threads_each_with_a_channel_and_on_publish_tags(
    connection: Connection, queue: str
) -> None:
    connection.channel().queue_declare(queue)
    acked: dict[int, set[int]] = {}
    lock = threading.Lock()

    def publisher() -> tuple[int, list[int]]:
        channel = connection.channel()
        channel.confirm_delivery(lambda frame: _record_ack(channel, frame))
        tags: list[int] = []
        all_sent = threading.Event()

        def on_publish(tag: int) -> None:
            tags.append(tag)
            if len(tags) == PER_THREAD:
                all_sent.set()

        for index in range(PER_THREAD):
            channel.basic_publish("", queue, str(index), on_publish=on_publish)
        assert all_sent.wait(WAIT)
        return channel.channel_number, tags

    def _record_ack(channel: Channel, frame: Any) -> None:
        method = frame.method
        assert isinstance(method, spec.Basic.Ack)
        with lock:
            settled = acked.setdefault(channel.channel_number, set())
            if method.multiple:
                settled.update(range(1, method.delivery_tag + 1))
            else:
                settled.add(method.delivery_tag)

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        results = [f.result(WAIT) for f in [pool.submit(publisher) for _ in range(THREADS)]]
    for _number, tags in results:
        assert tags == list(range(1, PER_THREAD + 1))
    full = set(range(1, PER_THREAD + 1))

    def all_acked() -> bool:
        with lock:
            return len(acked) == THREADS and all(s == full for s in acked.values())

    wait_until(all_acked, what="an Ack for every publish")
    assert sorted(acked) == sorted(n for n, _ in results)
    count = connection.channel().queue_declare(queue, passive=True).method.message_count
    assert count == THREADS * PER_THREAD


def test_unroutable_mandatory_publish_fails_its_future(channel: Channel) -> None:
    channel.confirm_delivery()
    future = channel.publish_with_confirm("", "nowhere-at-all", b"lost", mandatory=True)
    with pytest.raises(exceptions.UnroutableError) as info:
        future.result(WAIT)
    [message] = info.value.messages
    assert isinstance(message, ReturnedMessage)
    assert isinstance(message.method, spec.Basic.Return)
    assert message.method.reply_code == 312
    assert message.body == b"lost"
    routable = channel.publish_with_confirm("", "nowhere-at-all", b"not mandatory")
    assert isinstance(routable.result(WAIT).method, spec.Basic.Ack)


def test_nacked_publish_fails_with_nack_error(channel: Channel, queue: str) -> None:
    arguments = {"x-max-length": 1, "x-overflow": "reject-publish"}
    channel.queue_declare(queue, arguments=arguments)
    channel.confirm_delivery()
    first = channel.publish_with_confirm("", queue, b"fits")
    second = channel.publish_with_confirm("", queue, b"overflows")
    assert isinstance(first.result(WAIT).method, spec.Basic.Ack)
    with pytest.raises(exceptions.NackError) as info:
        second.result(WAIT)
    assert info.value.messages[0].body == b"overflows"
    assert isinstance(info.value.messages[0].method, spec.Basic.Nack)


def test_publish_with_confirm_needs_confirm_mode(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    future = channel.publish_with_confirm("", queue, b"x")
    with pytest.raises(exceptions.ChannelWrongStateError, match="confirm_delivery"):
        future.result(WAIT)
    assert channel.queue_declare(queue, passive=True).method.message_count == 0


def test_connection_loss_leaves_outcomes_unknown(
    connect: Callable[..., Connection], proxy_params: Callable[..., Any], proxy: FaultProxy
) -> None:
    conn = connect(proxy_params())
    channel = conn.channel()
    channel.confirm_delivery()
    proxy.stall()
    futures = [channel.publish_with_confirm("", "q", b"x") for _ in range(5)]
    proxy.cut()
    for future in futures:
        with pytest.raises(exceptions.AMQPConnectionError):
            future.result(WAIT)
    with pytest.raises(exceptions.AMQPConnectionError):
        channel.publish_with_confirm("", "q", b"after")


def test_body_and_headers_are_copied_at_call_time(channel: Channel, queue: str) -> None:
    channel.queue_declare(queue)
    channel.confirm_delivery()
    body = bytearray(b"original")
    properties = spec.BasicProperties(headers={"n": 1})
    future = channel.publish_with_confirm("", queue, body, properties)
    body[:] = b"mutated!"
    assert properties.headers is not None
    properties.headers["n"] = 2
    future.result(WAIT)
    _method, got_props, got_body = channel.basic_get(queue, auto_ack=True)
    assert got_body == b"original"
    assert got_props.headers == {"n": 1}
