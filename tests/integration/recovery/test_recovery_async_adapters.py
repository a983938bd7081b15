"""Automatic recovery on every callback-style adapter (issue 10).

Each test runs once per adapter (select, asyncio, uvloop, tornado, gevent).  The
connection goes through a FaultProxy, which cuts or stalls it; the broker side
(``rabbitmqctl close_connection``) is exercised too.  Every wait is bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import pika
from pika import exceptions
from pika.recovery import (
    QueueRecord,
    Recovered,
    RecoveryAttemptFailed,
    RecoveryGaveUp,
    RecoveryPolicy,
    RecoveryStarted,
)
from tests.support.adapter_driver import AdapterDriver, Recorder, unique_name
from tests.support.faultproxy import FaultProxy

if TYPE_CHECKING:
    from tests.conftest import Broker

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0)


class Consumer:
    """Collects bodies and acks them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.tags: list[int] = []

    def __call__(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self.bodies.append(body)
        self.tags.append(method.delivery_tag)
        channel.basic_ack(method.delivery_tag)


def open_recovering(
    driver: AdapterDriver, broker: Broker, proxy: FaultProxy, policy: RecoveryPolicy = FAST
) -> tuple[Any, Any, Recorder]:
    params = broker.params(host=proxy.host, port=proxy.port, heartbeat=0, recovery=policy)
    conn, rec = driver.open_connection(params)
    conn.add_on_recovery_callback(rec.cb("recovery"))
    return conn, driver.open_channel(conn), rec


def recovery_events(rec: Recorder) -> list[Any]:
    return [args[1] for args in rec.args("recovery")]


def wait_recovered(driver: AdapterDriver, rec: Recorder, count: int = 1) -> None:
    driver.run_until(
        lambda: sum(isinstance(e, Recovered) for e in recovery_events(rec)) >= count,
        what="the connection to recover",
    )


def test_consumer_on_server_named_queue_resumes_after_a_cut(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    conn, ch, rec = open_recovering(driver, broker, proxy)
    key = unique_name("rk")
    declared = driver.rpc(ch.queue_declare, "", exclusive=True)
    old_queue = declared.method.queue
    driver.rpc(ch.queue_bind, old_queue, "amq.direct", routing_key=key)
    driver.rpc(ch.basic_qos, prefetch_count=10)
    consumer = Consumer()
    tag = ch.basic_consume(old_queue, consumer, callback=rec.cb("consume ok"))
    driver.run_until(lambda: rec.has("consume ok"))
    for i in range(3):
        ch.basic_publish("amq.direct", key, b"before %d" % i)
    driver.run_until(lambda: len(consumer.bodies) == 3, what="3 deliveries")

    proxy.cut()
    wait_recovered(driver, rec)

    events = recovery_events(rec)
    assert isinstance(events[0], RecoveryStarted)
    assert isinstance(events[0].error, exceptions.StreamLostError)
    assert ch.is_open and conn.is_open and not conn.is_recovering
    assert ch.consumer_tags == [tag]
    assert not rec.has("close") and not rec.has("consume ok", 2)  # app callbacks stay quiet
    for i in range(3):
        ch.basic_publish("amq.direct", key, b"after %d" % i)
    driver.run_until(lambda: len(consumer.bodies) == 6, what="3 deliveries after recovery")
    assert consumer.bodies[3:] == [b"after 0", b"after 1", b"after 2"]
    assert consumer.tags == sorted(set(consumer.tags)), "delivery tags must stay monotonic"
    queues = {q["name"] for q in broker.require_node().list_queues()}
    assert old_queue not in queues  # the exclusive queue died with the old connection


def test_broker_side_close_is_recovered(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    name = unique_name("recovering-conn")
    params = broker.params(
        host=proxy.host,
        port=proxy.port,
        heartbeat=0,
        recovery=FAST,
        client_properties={"connection_name": name},
    )
    conn, rec = driver.open_connection(params)
    conn.add_on_recovery_callback(rec.cb("recovery"))
    ch = driver.open_channel(conn)
    queue = unique_name("rq")
    driver.rpc(ch.queue_declare, queue, auto_delete=True)
    consumer = Consumer()
    ch.basic_consume(queue, consumer)
    node = broker.require_node()
    assert node.close_connection_named(name) == 1
    wait_recovered(driver, rec)
    started = recovery_events(rec)[0]
    assert isinstance(started.error, exceptions.ConnectionClosedByBroker)
    assert started.error.reply_code == 320
    ch.basic_publish("", queue, b"hello again")
    driver.run_until(lambda: consumer.bodies == [b"hello again"], what="a delivery")


def test_stalled_link_is_detected_by_heartbeat_and_recovered(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    params = broker.params(host=proxy.host, port=proxy.port, heartbeat=1, recovery=FAST)
    conn, rec = driver.open_connection(params)
    conn.add_on_recovery_callback(rec.cb("recovery"))
    ch = driver.open_channel(conn)
    proxy.stall()
    driver.run_until(
        lambda: any(isinstance(e, RecoveryStarted) for e in recovery_events(rec)),
        what="the heartbeat timeout",
    )
    assert isinstance(recovery_events(rec)[0].error, exceptions.AMQPHeartbeatTimeout)
    proxy.resume()
    wait_recovered(driver, rec)
    assert ch.is_open
    assert driver.rpc(ch.queue_declare, "", exclusive=True).method.queue


def test_publishes_during_recovery_fail_fast_and_acks_are_dropped(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    conn, ch, rec = open_recovering(
        driver, broker, proxy, RecoveryPolicy(initial_delay=0.5, max_delay=1.0, jitter=0.0)
    )
    proxy.cut()
    driver.run_until(lambda: conn.is_recovering, what="recovery to start")
    assert not ch.is_open and not ch.is_closed
    with pytest.raises(exceptions.ConnectionRecoveringError):
        ch.basic_publish("", "nowhere", b"x")
    with pytest.raises(exceptions.ConnectionRecoveringError):
        ch.queue_declare("", callback=lambda _frame: None)
    ch.basic_ack(1)  # dropped with a log line, never sent with a stale tag
    wait_recovered(driver, rec)
    ch.basic_publish("", "nowhere", b"x")


def test_outstanding_confirms_are_reported_outcome_unknown(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    _conn, ch, rec = open_recovering(driver, broker, proxy)
    queue = unique_name("confirmed")
    driver.rpc(ch.queue_declare, queue, auto_delete=True)
    ch.confirm_delivery(rec.cb("ack"), callback=rec.cb("confirming"))
    driver.run_until(lambda: rec.has("confirming"))
    ch.add_on_publish_outcome_unknown_callback(rec.cb("unknown"))
    ch.basic_publish("", queue, b"one")
    driver.run_until(lambda: rec.has("ack"))
    proxy.stall()
    ch.basic_publish("", queue, b"two")
    ch.basic_publish("", queue, b"three")
    proxy.cut()
    proxy.resume()
    wait_recovered(driver, rec)
    ((_chan, error),) = rec.args("unknown")
    assert isinstance(error, exceptions.PublishOutcomeUnknownError)
    assert (error.first_tag, error.last_tag) == (2, 3)
    ch.basic_publish("", queue, b"four")
    driver.run_until(lambda: rec.has("ack", 2), what="the confirm after recovery")
    assert rec.args("ack")[1][0].method.delivery_tag == 4  # numbering carries on


def test_close_during_recovery_ends_with_the_usual_callbacks(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    conn, ch, rec = open_recovering(
        driver, broker, proxy, RecoveryPolicy(initial_delay=5.0, max_delay=5.0, jitter=0.0)
    )
    ch.add_on_close_callback(rec.cb("channel closed"))
    proxy.cut()
    driver.run_until(lambda: conn.is_recovering, what="recovery to start")
    conn.close()
    driver.run_until(lambda: rec.has("close"), what="the close callback")
    error = rec.first("close")[1]
    assert isinstance(error, exceptions.ConnectionClosedByClient)
    assert isinstance(rec.first("channel closed")[1], exceptions.ChannelClosedByClient)
    assert conn.is_closed and ch.is_closed
    assert isinstance(recovery_events(rec)[-1], RecoveryGaveUp)


def test_recovery_gives_up_after_max_attempts(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    policy = RecoveryPolicy(initial_delay=0.05, max_delay=0.05, jitter=0.0, max_attempts=2)
    conn, ch, rec = open_recovering(driver, broker, proxy, policy)
    ch.add_on_close_callback(rec.cb("channel closed"))
    proxy.refuse()
    proxy.cut()
    driver.run_until(lambda: rec.has("close"), what="recovery to give up")
    events = recovery_events(rec)
    assert [type(e) for e in events if isinstance(e, RecoveryAttemptFailed)] == [
        RecoveryAttemptFailed
    ] * 2
    assert isinstance(events[-1], RecoveryGaveUp)
    assert rec.first("close")[1] is events[-1].error
    assert rec.has("channel closed") and conn.is_closed and ch.is_closed


def test_filter_leaves_entities_out_and_the_hook_hears_refusals(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    refused: list[tuple[Any, BaseException]] = []
    skipped = unique_name("skipped")
    kept = unique_name("kept")

    def keep(record: Any) -> bool:
        return not (isinstance(record, QueueRecord) and record.name == skipped)

    policy = RecoveryPolicy(
        initial_delay=0.05,
        max_delay=0.2,
        jitter=0.0,
        topology_filter=keep,
        on_topology_error=lambda record, error: refused.append((record, error)),
    )
    _conn, ch, rec = open_recovering(driver, broker, proxy, policy)
    driver.rpc(ch.queue_declare, skipped, exclusive=True)
    driver.rpc(ch.queue_declare, kept, arguments={"x-max-length": 10})
    driver.rpc(ch.queue_bind, kept, "amq.fanout")
    consumer = Consumer()
    ch.basic_consume(kept, consumer)
    # While the link is stalled, someone re-creates the queue with other arguments:
    # re-declaring ours is then refused (406), and recovery carries on without it.
    proxy.stall()
    with pika.BlockingConnection(broker.params()) as other:
        other_ch = other.channel()
        other_ch.queue_delete(kept)
        other_ch.queue_declare(kept, arguments={"x-max-length": 20})
    try:
        proxy.cut()
        proxy.resume()
        wait_recovered(driver, rec)
        assert len(refused) == 1, refused
        record, error = refused[0]
        assert isinstance(record, QueueRecord) and record.name == kept
        assert isinstance(error, exceptions.ChannelClosedByBroker) and error.reply_code == 406
        queues = {q["name"] for q in broker.require_node().list_queues()}
        assert kept in queues and skipped not in queues
        assert ch.is_open
        # The binding and the consumer were restored on the queue that is there now.
        ch.basic_publish("amq.fanout", "", b"still consuming")
        driver.run_until(lambda: consumer.bodies == [b"still consuming"], what="a delivery")
    finally:
        with pika.BlockingConnection(broker.params()) as other:
            other.channel().queue_delete(kept)
