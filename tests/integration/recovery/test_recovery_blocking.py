"""Automatic recovery on BlockingConnection (issue 10).

The connection goes through a FaultProxy; faults that must happen while a
blocking call waits are injected from a ``threading.Timer`` (the proxy's
commands are thread-safe).  Every wait is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

import pika
from pika import exceptions
from pika.recovery import Recovered, RecoveryGaveUp, RecoveryPolicy, RecoveryStarted
from tests.support.adapter_driver import unique_name
from tests.support.faultproxy import FaultProxy
from tests.support.recovery_checks import assert_at_least_once, drain_and_delete

if TYPE_CHECKING:
    from tests.conftest import Broker

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0)


@pytest.fixture
def timers() -> Iterator[list[threading.Timer]]:
    started: list[threading.Timer] = []
    yield started
    for timer in started:
        timer.cancel()
        timer.join(5)


def later(timers: list[threading.Timer], delay: float, action: Any) -> None:
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timers.append(timer)
    timer.start()


def connect(broker: Broker, proxy: FaultProxy, policy: RecoveryPolicy = FAST, **extra: Any) -> Any:
    params = broker.params(host=proxy.host, port=proxy.port, heartbeat=0, recovery=policy, **extra)
    return pika.BlockingConnection(params)


def watch(conn: Any) -> list[Any]:
    events: list[Any] = []
    conn.add_on_recovery_callback(lambda _conn, event: events.append(event))
    return events


def pump_until(conn: Any, predicate: Any, timeout: float = 20.0) -> None:
    deadline = timeout
    while not predicate():
        assert deadline > 0, "timed out"
        conn.process_data_events(0.05)
        deadline -= 0.05


def pump_until_recovered(conn: Any, events: list[Any]) -> None:
    pump_until(conn, lambda: any(isinstance(e, Recovered) for e in events))


def cut_while_the_next_call_waits(proxy: FaultProxy, timers: list[threading.Timer]) -> None:
    """Stall the link now and cut it 0.3 s later: the next blocking call cannot get its reply."""
    proxy.stall()
    later(timers, 0.3, lambda: (proxy.cut(), proxy.resume()))


def test_start_consuming_carries_on_across_a_cut(
    broker: Broker, proxy: FaultProxy, timers: list[threading.Timer]
) -> None:
    key = unique_name("rk")
    with pika.BlockingConnection(broker.params()) as publisher, connect(broker, proxy) as conn:
        events = watch(conn)
        pub = publisher.channel()
        ch = conn.channel()
        queue = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(queue, "amq.direct", key)
        ch.basic_qos(prefetch_count=5)
        bodies: list[bytes] = []
        tags: list[int] = []

        def on_message(channel: Any, method: Any, _props: Any, body: bytes) -> None:
            bodies.append(body)
            tags.append(method.delivery_tag)
            channel.basic_ack(method.delivery_tag)
            if body == b"first":
                later(timers, 0.05, proxy.cut)
            elif body == b"stop":
                channel.stop_consuming()

        def on_recovery(_conn: Any, event: Any) -> None:
            if isinstance(event, Recovered):
                pub.basic_publish("amq.direct", key, b"second")
                pub.basic_publish("amq.direct", key, b"stop")

        conn.add_on_recovery_callback(on_recovery)
        tag = ch.basic_consume(queue, on_message)
        pub.basic_publish("amq.direct", key, b"first")
        ch.start_consuming()
        assert bodies == [b"first", b"second", b"stop"]
        assert tags == sorted(set(tags))
        assert [type(e) for e in events if not hasattr(e, "delay")][:1] == [RecoveryStarted]
        assert any(isinstance(e, Recovered) for e in events)
        assert ch.is_open and ch.consumer_tags == []
        assert tag not in ch.consumer_tags


def test_a_call_waiting_when_the_link_drops_raises_recovering_then_works(
    broker: Broker, proxy: FaultProxy, timers: list[threading.Timer]
) -> None:
    with connect(broker, proxy) as conn:
        events = watch(conn)
        ch = conn.channel()
        cut_while_the_next_call_waits(proxy, timers)
        with pytest.raises(exceptions.ConnectionRecoveringError):
            ch.queue_declare("", exclusive=True)
        pump_until_recovered(conn, events)
        assert ch.queue_declare("", exclusive=True).method.queue


def test_publish_during_recovery_fails_fast_or_waits(broker: Broker, proxy: FaultProxy) -> None:
    slow = RecoveryPolicy(initial_delay=0.5, max_delay=0.5, jitter=0.0)
    with connect(broker, proxy, slow) as conn:
        ch = conn.channel()
        proxy.cut()
        pump_until(conn, lambda: conn.is_recovering)
        assert not conn.is_open and not conn.is_closed
        with pytest.raises(exceptions.ConnectionRecoveringError):
            ch.basic_publish("", "nowhere", b"x")
        ch.basic_ack(1)  # a delivery from before the drop: dropped with a log line
    waiting = RecoveryPolicy(initial_delay=0.3, max_delay=0.3, jitter=0.0, publish_wait_timeout=10)
    with connect(broker, proxy, waiting) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        queue = ch.queue_declare(unique_name("waited")).method.queue
        proxy.cut()
        pump_until(conn, lambda: conn.is_recovering)
        ch.basic_publish("", queue, b"waited")  # waits for recovery, then is confirmed
        assert not conn.is_recovering
        assert ch.queue_declare(queue, passive=True).method.message_count == 1
        ch.queue_delete(queue)


def test_confirmed_publisher_republishing_unknown_outcomes_loses_nothing(
    broker: Broker, proxy: FaultProxy, timers: list[threading.Timer]
) -> None:
    total = 120
    queue = unique_name("at-least-once")
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0, publish_wait_timeout=10)
    unknown = 0
    with connect(broker, proxy, policy) as conn:
        events = watch(conn)
        ch = conn.channel()
        ch.queue_declare(queue, durable=True)
        ch.confirm_delivery()
        for number in range(total):
            if number in (40, 80):
                proxy.stall()  # this publish's confirm cannot arrive...
                later(timers, 0.2, lambda: (proxy.cut(), proxy.resume()))  # ...then the link drops
            while True:
                try:
                    ch.basic_publish("", queue, b"%d" % number)
                    break
                except exceptions.PublishOutcomeUnknownError:
                    unknown += 1  # the broker may have it: publish again (at least once)
        assert unknown == 2
        conn.process_data_events(0)  # recovery callbacks run while dispatching
        assert sum(isinstance(e, Recovered) for e in events) == 2
    bodies = drain_and_delete(broker.params(), queue)
    assert_at_least_once(bodies, total, unknown)


def test_broker_side_close_while_consuming(
    broker: Broker, proxy: FaultProxy, timers: list[threading.Timer]
) -> None:
    name = unique_name("blocking-recovering")
    node = broker.require_node()
    with connect(broker, proxy, client_properties={"connection_name": name}) as conn:
        events = watch(conn)
        ch = conn.channel()
        queue = ch.queue_declare(unique_name("rq"), auto_delete=True).method.queue
        got: list[bytes] = []

        def on_message(channel: Any, method: Any, _props: Any, body: bytes) -> None:
            got.append(body)
            channel.basic_ack(method.delivery_tag)
            channel.stop_consuming()

        def on_recovery(_conn: Any, event: Any) -> None:
            if isinstance(event, Recovered):
                ch.basic_publish("", queue, b"after")

        conn.add_on_recovery_callback(on_recovery)
        ch.basic_consume(queue, on_message)
        later(timers, 0.1, lambda: node.close_connection_named(name))
        ch.start_consuming()
        assert got == [b"after"]
        started = next(e for e in events if isinstance(e, RecoveryStarted))
        assert isinstance(started.error, exceptions.ConnectionClosedByBroker)


def test_close_during_recovery(broker: Broker, proxy: FaultProxy) -> None:
    policy = RecoveryPolicy(initial_delay=5.0, max_delay=5.0, jitter=0.0)
    conn = connect(broker, proxy, policy)
    events = watch(conn)
    ch = conn.channel()
    closed: list[Any] = []
    conn.add_on_close_callback(lambda _c, error: closed.append(error))
    proxy.cut()
    pump_until(conn, lambda: conn.is_recovering)
    conn.close()
    assert conn.is_closed and ch.is_closed and not conn.is_recovering
    assert len(closed) == 1 and isinstance(closed[0], exceptions.ConnectionClosedByClient)
    # Nothing dispatches after close(), so close() itself delivers how recovery ended.
    assert isinstance(events[-1], RecoveryGaveUp)
    assert not any(isinstance(e, Recovered) for e in events)


def test_stalled_link_past_the_heartbeat_is_recovered(broker: Broker, proxy: FaultProxy) -> None:
    params = broker.params(host=proxy.host, port=proxy.port, heartbeat=1, recovery=FAST)
    with pika.BlockingConnection(params) as conn:
        events = watch(conn)
        ch = conn.channel()
        proxy.stall()
        pump_until(conn, lambda: any(isinstance(e, RecoveryStarted) for e in events))
        started = next(e for e in events if isinstance(e, RecoveryStarted))
        assert isinstance(started.error, exceptions.AMQPHeartbeatTimeout)
        proxy.resume()
        pump_until_recovered(conn, events)
        assert ch.is_open and ch.queue_declare("", exclusive=True).method.queue


def test_a_consume_interrupted_by_the_drop_raises_and_is_not_restored(
    broker: Broker, proxy: FaultProxy, timers: list[threading.Timer]
) -> None:
    with connect(broker, proxy) as conn:
        events = watch(conn)
        ch = conn.channel()
        queue = ch.queue_declare(unique_name("interrupted"), exclusive=True).method.queue
        cut_while_the_next_call_waits(proxy, timers)
        with pytest.raises(exceptions.ConnectionRecoveringError):
            ch.basic_consume(queue, lambda *_args: None)
        pump_until_recovered(conn, events)
        assert ch.consumer_tags == []  # the caller was told it failed: no ghost consumer
        tag = ch.basic_consume(queue, lambda *_args: None)  # retrying works
        assert ch.consumer_tags == [tag]


def test_a_cancel_interrupted_by_the_drop_leaves_no_consumer_behind(
    broker: Broker, proxy: FaultProxy, timers: list[threading.Timer]
) -> None:
    with connect(broker, proxy) as conn:
        events = watch(conn)
        ch = conn.channel()
        queue = ch.queue_declare(unique_name("cancelled"), exclusive=True).method.queue
        got: list[bytes] = []
        tag = ch.basic_consume(queue, lambda _ch, _m, _p, body: got.append(body))
        cut_while_the_next_call_waits(proxy, timers)
        with pytest.raises(exceptions.ConnectionRecoveringError):
            ch.basic_cancel(tag)
        pump_until_recovered(conn, events)
        assert ch.consumer_tags == []
        ch.basic_publish("", queue, b"nobody consumes this")
        pump_until(conn, lambda: ch.queue_declare(queue, passive=True).method.message_count == 1)
        conn.process_data_events(0.2)
        assert got == []  # the replay did not bring the cancelled consumer back
