"""Automatic recovery on the thread-safe Connection (issue 10).

The recovering connection reaches the broker through a FaultProxy; a second,
direct connection publishes and inspects.  Recovery callbacks run on the
connection's worker thread, so tests wait on ``threading.Event``s they set.
Every wait is bounded.
"""

from __future__ import annotations

import queue as queue_mod
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from threadsafe_support import WAIT, run_in_thread, wait_until

from pika import exceptions
from pika.adapters.thread_safe_connection import Channel, Connection
from pika.recovery import Recovered, RecoveryGaveUp, RecoveryPolicy, RecoveryStarted
from tests.conftest import Broker
from tests.support.adapter_driver import unique_name
from tests.support.faultproxy import FaultProxy

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0)
SLOW = RecoveryPolicy(initial_delay=5.0, max_delay=5.0, jitter=0.0)


class Watcher:
    """Collects a connection's recovery events (delivered on its worker thread)."""

    def __init__(self, conn: Connection) -> None:
        self.events: list[Any] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()
        conn.add_on_recovery_callback(self._on_event)

    def _on_event(self, _conn: Connection, event: Any) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def count(self, kind: type) -> int:
        with self._cond:
            return sum(isinstance(event, kind) for event in self.events)

    def wait_for(self, kind: type, count: int = 1, timeout: float = WAIT) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.count(kind) >= count, timeout):
                raise AssertionError(f"no {count} x {kind.__name__} within {timeout} s")


@pytest.fixture
def timers() -> Iterator[list[threading.Timer]]:
    started: list[threading.Timer] = []
    yield started
    for timer in started:
        timer.cancel()
        timer.join(5)


def later(timers: list[threading.Timer], delay: float, action: Callable[[], Any]) -> None:
    """Inject a fault from another thread while the test thread is blocked in a call."""
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timers.append(timer)
    timer.start()


@pytest.fixture
def recovering(
    proxy_params: Callable[..., Any], connect: Callable[..., Connection]
) -> Callable[..., Connection]:
    """Open a connection through the proxy with recovery on (FAST unless given).

    The proxy is set up first so that it is torn down after the connections.
    """

    def make(policy: RecoveryPolicy = FAST, heartbeat: int = 0, **kwargs: Any) -> Connection:
        return connect(proxy_params(heartbeat=heartbeat, recovery=policy), **kwargs)

    return make


@pytest.fixture
def publisher(connect: Callable[..., Connection]) -> Channel:
    """A channel on a direct connection (no proxy, no recovery)."""
    return connect().channel()


def test_cut_recovers_and_a_consumer_on_a_server_named_queue_keeps_receiving(
    recovering: Callable[..., Connection], publisher: Channel, proxy: FaultProxy
) -> None:
    conn = recovering()
    watcher = Watcher(conn)
    channel = conn.channel()
    old_queue = channel.queue_declare("", exclusive=True).method.queue
    key = unique_name("rk")
    channel.queue_bind(old_queue, "amq.direct", key)
    received: queue_mod.Queue[tuple[bytes, int, str]] = queue_mod.Queue()

    def on_message(ch: Channel, method: Any, _props: Any, body: bytes) -> None:
        received.put((body, method.delivery_tag, threading.current_thread().name))
        ch.basic_ack(method.delivery_tag)

    tag = channel.basic_consume(old_queue, on_message)
    publisher.basic_publish("amq.direct", key, b"before")
    assert received.get(timeout=WAIT)[:2] == (b"before", 1)

    assert proxy.cut() == 1
    watcher.wait_for(Recovered)
    assert conn.is_open and channel.is_open and not conn.is_recovering
    assert channel.consumer_tags == [tag]
    publisher.basic_publish("amq.direct", key, b"after")
    body, delivery_tag, thread = received.get(timeout=WAIT)
    assert body == b"after" and delivery_tag > 1  # tags stay monotonic across recovery
    assert thread == "pika-consumer"
    assert [type(e) for e in watcher.events][:1] == [RecoveryStarted]
    assert isinstance(watcher.events[0].error, exceptions.StreamLostError)
    assert {name.split("-")[1] for name in watcher.threads} == {"conn"}
    # The exclusive queue died with the old connection; a new one took over the
    # binding, and the Recovered event names it.
    [recovered] = [e for e in watcher.events if isinstance(e, Recovered)]
    new_queue = recovered.renamed_queues[old_queue]
    assert set(recovered.renamed_queues) == {old_queue} and new_queue != old_queue
    publisher.basic_publish("", new_queue, b"by name")
    assert received.get(timeout=WAIT)[0] == b"by name"
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        publisher.queue_declare(old_queue, passive=True)
    assert info.value.reply_code == 404


def test_consume_generator_keeps_yielding_across_a_cut(
    recovering: Callable[..., Connection],
    publisher: Channel,
    proxy: FaultProxy,
    queue: str,
) -> None:
    conn = recovering()
    watcher = Watcher(conn)
    channel = conn.channel()
    channel.queue_declare(queue)
    messages = channel.consume(queue, inactivity_timeout=0.05)
    publisher.basic_publish("", queue, b"one")
    bodies = _next_bodies(messages, channel, 1)
    channel.queue_declare(queue, passive=True)  # the ack is processed: "one" is not requeued
    proxy.cut()
    watcher.wait_for(Recovered)
    publisher.basic_publish("", queue, b"two")
    bodies += _next_bodies(messages, channel, 1)
    assert bodies == [b"one", b"two"]
    messages.close()
    assert channel.consumer_tags == []


def test_a_consume_generator_closed_during_recovery_is_cancelled_after_it(
    recovering: Callable[..., Connection],
    publisher: Channel,
    proxy: FaultProxy,
    queue: str,
) -> None:
    conn = recovering(RecoveryPolicy(initial_delay=0.3, max_delay=0.3, jitter=0.0))
    watcher = Watcher(conn)
    channel = conn.channel()
    channel.queue_declare(queue)
    messages = channel.consume(queue, inactivity_timeout=0.01)
    assert next(messages) == (None, None, None)  # the consumer is running
    proxy.cut()
    wait_until(lambda: conn.is_recovering, what="recovery to start")
    with pytest.raises(exceptions.ConnectionRecoveringError, match="basic_cancel"):
        channel.basic_cancel(channel.consumer_tags[0])
    messages.close()  # its consumer cannot be cancelled now: it is, once recovered
    watcher.wait_for(Recovered)
    wait_until(lambda: channel.consumer_tags == [], what="the consumer to be cancelled")
    # consumer_tags empties when the cancel starts; the broker drops it at CancelOk.
    wait_until(
        lambda: publisher.queue_declare(queue, passive=True).method.consumer_count == 0,
        what="the broker to drop the consumer",
    )
    publisher.basic_publish("", queue, b"kept")
    wait_until(
        lambda: publisher.queue_declare(queue, passive=True).method.message_count == 1,
        what="the message to wait in the queue",
    )


def _next_bodies(messages: Iterator[Any], channel: Channel, count: int) -> list[bytes]:
    """The next ``count`` message bodies from a consume() generator (acked)."""
    bodies: list[bytes] = []
    deadline = threading.Event()
    timer = threading.Timer(WAIT, deadline.set)
    timer.start()
    try:
        while len(bodies) < count:
            assert not deadline.is_set(), "consume() yielded nothing in time"
            method, _props, body = next(messages)
            if method is not None:
                bodies.append(body)
                channel.basic_ack(method.delivery_tag)
    finally:
        timer.cancel()
    return bodies


def test_confirmed_publisher_republishing_unknown_outcomes_loses_nothing(
    recovering: Callable[..., Connection],
    publisher: Channel,
    proxy: FaultProxy,
    queue: str,
    timers: list[threading.Timer],
) -> None:
    total = 100
    conn = recovering(
        RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0, publish_wait_timeout=WAIT)
    )
    watcher = Watcher(conn)
    channel = conn.channel()
    channel.queue_declare(queue)
    channel.confirm_delivery()
    unknown = 0
    for number in range(total):
        if number in (30, 70):
            proxy.stall()  # this publish's confirm cannot arrive...
            later(timers, 0.2, lambda: (proxy.cut(), proxy.resume()))  # ...then the link drops
        while True:
            future = channel.publish_with_confirm("", queue, b"%d" % number)
            try:
                future.result(WAIT)
                break
            except exceptions.PublishOutcomeUnknownError:
                unknown += 1  # the broker may have it: publish again (at least once)
    assert unknown == 2
    watcher.wait_for(Recovered, 2)
    seen: list[int] = []
    while True:
        method, _props, body = publisher.basic_get(queue, auto_ack=True)
        if method is None:
            break
        seen.append(int(body))
    assert set(seen) == set(range(total))
    assert total <= len(seen) <= total + unknown


def test_calls_waiting_at_the_drop_fail_with_recovering_then_work(
    recovering: Callable[..., Connection], proxy: FaultProxy, queue: str
) -> None:
    conn = recovering()
    watcher = Watcher(conn)
    channel = conn.channel()
    channel.queue_declare(queue)
    proxy.stall()
    calls = [
        run_in_thread(lambda: channel.queue_declare("", exclusive=True), "declaring"),
        run_in_thread(lambda: channel.basic_get(queue), "getting"),
        run_in_thread(lambda: conn.channel(), "opening"),
        run_in_thread(lambda: conn.update_secret("guest", "rotate"), "updating"),
    ]
    # Every request is on the I/O thread's books (sent, waiting for its reply): cut now.
    wait_until(
        lambda: len(channel._rpcs) == 2 and len(conn._channels) == 2 and conn._secret_updates,
        what="the four requests to be in flight",
    )
    proxy.cut()
    proxy.resume()
    for thread, outcome in calls:
        thread.join(WAIT)
        assert isinstance(outcome.error, exceptions.ConnectionRecoveringError), outcome.error
        assert "retry" in str(outcome.error) or "recovering" in str(outcome.error)
    watcher.wait_for(Recovered)
    assert channel.queue_declare("", exclusive=True).method.queue.startswith("amq.gen-")
    assert channel.basic_get(queue) == (None, None, None)
    # The channel whose opener failed was re-opened by recovery, then closed: nobody has it.
    wait_until(lambda: len(conn._channels) == 1, what="the unclaimed channel to close")
    assert conn.channel().is_open


def test_publish_during_recovery_raises_at_once(
    recovering: Callable[..., Connection], proxy: FaultProxy
) -> None:
    conn = recovering(SLOW)
    channel = conn.channel()
    channel.confirm_delivery()
    proxy.cut()
    wait_until(lambda: conn.is_recovering, what="recovery to start")
    assert not conn.is_open and not conn.is_closed
    assert not channel.is_open and not channel.is_closed
    assert "RECOVERING" in repr(conn)
    with pytest.raises(exceptions.ConnectionRecoveringError, match="basic_publish refused"):
        channel.basic_publish("", "nowhere", b"x")
    with pytest.raises(exceptions.ConnectionRecoveringError, match="publish_with_confirm"):
        channel.publish_with_confirm("", "nowhere", b"x")
    with pytest.raises(exceptions.ConnectionRecoveringError):
        channel.queue_declare("", exclusive=True)
    with pytest.raises(exceptions.ConnectionRecoveringError, match="channel"):
        conn.channel()
    channel.basic_ack(1)  # a delivery from before the drop: dropped with a log line


def test_publish_during_recovery_waits_with_publish_wait_timeout(
    recovering: Callable[..., Connection], publisher: Channel, proxy: FaultProxy, queue: str
) -> None:
    policy = RecoveryPolicy(initial_delay=0.3, max_delay=0.3, jitter=0.0, publish_wait_timeout=WAIT)
    conn = recovering(policy)
    channel = conn.channel()
    channel.queue_declare(queue)
    channel.confirm_delivery()
    proxy.cut()
    wait_until(lambda: conn.is_recovering, what="recovery to start")
    future = channel.publish_with_confirm("", queue, b"waited")  # blocks until recovered
    assert not conn.is_recovering
    assert future.result(WAIT).method.NAME == "Basic.Ack"
    channel.basic_publish("", queue, b"fired")
    assert channel.queue_declare(queue).method.message_count in (1, 2)
    wait_until(
        lambda: publisher.queue_declare(queue, passive=True).method.message_count == 2,
        what="both messages on the broker",
    )


def test_publish_wait_is_bounded(recovering: Callable[..., Connection], proxy: FaultProxy) -> None:
    policy = RecoveryPolicy(initial_delay=5.0, max_delay=5.0, jitter=0.0, publish_wait_timeout=0.2)
    conn = recovering(policy)
    channel = conn.channel()
    proxy.cut()
    wait_until(lambda: conn.is_recovering, what="recovery to start")
    with pytest.raises(exceptions.ConnectionRecoveringError, match=r"after waiting 0\.2 s"):
        channel.basic_publish("", "nowhere", b"x")


def test_broker_side_close_recovers(
    connect: Callable[..., Connection], broker: Broker, publisher: Channel, queue: str
) -> None:
    name = unique_name("ts-recovering")
    node = broker.require_node()
    params = broker.params(recovery=FAST, client_properties={"connection_name": name})
    conn = connect(params)
    watcher = Watcher(conn)
    channel = conn.channel()
    channel.queue_declare(queue)
    received: queue_mod.Queue[bytes] = queue_mod.Queue()
    channel.basic_consume(queue, lambda _ch, _m, _p, body: received.put(body), auto_ack=True)
    assert node.close_connection_named(name) == 1
    watcher.wait_for(Recovered)
    publisher.basic_publish("", queue, b"after")
    assert received.get(timeout=WAIT) == b"after"
    started = next(e for e in watcher.events if isinstance(e, RecoveryStarted))
    assert isinstance(started.error, exceptions.ConnectionClosedByBroker)
    assert started.error.reply_code == 320


def test_close_during_recovery_ends_cleanly(
    recovering: Callable[..., Connection], proxy: FaultProxy
) -> None:
    closed: list[BaseException] = []
    policy = RecoveryPolicy(initial_delay=5.0, max_delay=5.0, jitter=0.0, publish_wait_timeout=30)
    conn = recovering(policy, on_close_callback=lambda _impl, error: closed.append(error))
    watcher = Watcher(conn)
    channel = conn.channel()
    proxy.cut()
    wait_until(lambda: conn.is_recovering, what="recovery to start")
    thread, waiting = run_in_thread(lambda: channel.basic_publish("", "q", b"x"), "waiting")
    assert waiting.started.wait(WAIT)
    conn.close(timeout=WAIT)
    assert conn.is_closed and channel.is_closed and not conn.is_recovering
    assert len(closed) == 1 and isinstance(closed[0], exceptions.ConnectionClosedByClient)
    thread.join(WAIT)
    # Woken by the close rather than after 30 s; it raises the close (connection or channel).
    assert isinstance(
        waiting.error, (exceptions.ConnectionClosedByClient, exceptions.ChannelWrongStateError)
    ), waiting.error
    with pytest.raises(exceptions.ConnectionClosedByClient):
        channel.queue_declare("", exclusive=True)
    assert watcher.count(Recovered) == 0


def test_recovery_giving_up_closes_as_without_recovery(
    recovering: Callable[..., Connection], proxy: FaultProxy
) -> None:
    closed = threading.Event()
    reasons: list[BaseException] = []

    def on_close(_impl: Any, error: BaseException) -> None:
        reasons.append(error)
        closed.set()

    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.05, jitter=0.0, max_attempts=2)
    conn = recovering(policy, on_close_callback=on_close)
    watcher = Watcher(conn)
    channel = conn.channel()
    confirmed = conn.channel()
    confirmed.confirm_delivery()
    proxy.refuse()
    proxy.cut()
    assert closed.wait(WAIT)
    watcher.wait_for(RecoveryGaveUp)
    assert conn.is_closed and not conn.is_recovering and channel.is_closed
    error = reasons[0]
    assert not isinstance(error, exceptions.ConnectionClosedByClient)
    with pytest.raises(type(error)):
        channel.basic_publish("", "q", b"x")
    with pytest.raises(type(error)):
        confirmed.publish_with_confirm("", "q", b"x").result(WAIT)
    assert watcher.count(Recovered) == 0


def test_full_work_queue_is_not_recovered(
    recovering: Callable[..., Connection], publisher: Channel, queue: str
) -> None:
    closed = threading.Event()
    reasons: list[BaseException] = []

    def on_close(_impl: Any, error: BaseException) -> None:
        reasons.append(error)
        closed.set()

    conn = recovering(work_queue_maxsize=1, work_queue_put_timeout=0.3, on_close_callback=on_close)
    watcher = Watcher(conn)
    channel = conn.channel()
    channel.queue_declare(queue)
    release = threading.Event()
    channel.basic_consume(queue, lambda *args: release.wait(WAIT))
    for _ in range(4):
        publisher.basic_publish("", queue, b"more than the worker can take")
    try:
        assert closed.wait(WAIT)
    finally:
        release.set()
    assert isinstance(reasons[0], exceptions.WorkQueueFullError)
    assert conn.is_closed and not conn.is_recovering
    assert watcher.count(RecoveryStarted) == 0


def test_heartbeats_keep_going_and_a_stalled_link_recovers(
    recovering: Callable[..., Connection], proxy: FaultProxy
) -> None:
    conn = recovering(heartbeat=1)
    watcher = Watcher(conn)
    channel = conn.channel()
    proxy.stall()  # nothing gets through: the heartbeat lapses, and recovery takes over
    watcher.wait_for(RecoveryStarted)
    proxy.resume()
    watcher.wait_for(Recovered)
    started = next(e for e in watcher.events if isinstance(e, RecoveryStarted))
    assert isinstance(started.error, exceptions.AMQPHeartbeatTimeout)
    assert channel.queue_declare("", exclusive=True).method.queue


def test_recovery_callbacks_need_recovery_enabled(connection: Connection) -> None:
    with pytest.raises(exceptions.ConnectionWrongStateError, match="recovery enabled"):
        connection.add_on_recovery_callback(lambda _conn, _event: None)
    with pytest.raises(TypeError):
        connection.add_on_recovery_callback(None)  # type: ignore[arg-type]
    assert connection.is_recovering is False


def test_close_during_a_second_recovery_ends_cleanly(
    recovering: Callable[..., Connection], proxy: FaultProxy
) -> None:
    closed: list[BaseException] = []
    policy = RecoveryPolicy(initial_delay=0.2, max_delay=0.2, jitter=0.0)
    conn = recovering(policy, on_close_callback=lambda _impl, error: closed.append(error))
    watcher = Watcher(conn)
    proxy.cut()
    watcher.wait_for(Recovered)
    proxy.refuse()  # the next recovery keeps waiting between refused attempts
    proxy.cut()
    wait_until(lambda: conn.is_recovering, what="the second recovery to start")
    conn.close(timeout=2)
    assert len(closed) == 1 and isinstance(closed[0], exceptions.ConnectionClosedByClient)
