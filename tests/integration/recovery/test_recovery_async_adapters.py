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
from tests.support.recovery_checks import assert_at_least_once, drain_and_delete

if TYPE_CHECKING:
    from tests.conftest import Broker, TlsBroker

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
    [recovered] = [e for e in events if isinstance(e, Recovered)]
    assert set(recovered.renamed_queues) == {old_queue}
    assert recovered.renamed_queues[old_queue] in queues  # ...and the event names its heir


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
    driver.rpc(ch.queue_declare, queue, exclusive=True)
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


class ConfirmedPublisher:
    """Publishes numbered messages with confirms; republishes what was lost in a drop."""

    def __init__(self, channel: Any, queue: str, total: int) -> None:
        self.channel = channel
        self.queue = queue
        self.total = total
        self.sent = 0
        self.next_tag = 1
        self.pending: dict[int, bytes] = {}  # confirm tag -> body
        self.retry: list[bytes] = []
        self.acked: set[bytes] = set()
        self.unknown = 0
        channel.add_on_publish_outcome_unknown_callback(self.on_unknown)

    def publish(self, body: bytes) -> None:
        self.channel.basic_publish("", self.queue, body)
        self.pending[self.next_tag] = body
        self.next_tag += 1

    def pump(self) -> None:
        """Keep up to 20 publishes in flight while the channel is open."""
        while self.channel.is_open and len(self.pending) < 20:
            if self.retry:
                self.publish(self.retry.pop())
            elif self.sent < self.total:
                self.publish(b"%d" % self.sent)
                self.sent += 1
            else:
                return

    def on_confirm(self, method_frame: Any) -> None:
        method = method_frame.method
        tags = (
            [t for t in self.pending if t <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        for tag in tags:
            body = self.pending.pop(tag)
            if method.NAME == "Basic.Ack":
                self.acked.add(body)
            else:
                self.retry.append(body)
        self.pump()

    def on_unknown(self, _channel: Any, error: Any) -> None:
        for tag in range(error.first_tag, error.last_tag + 1):
            if tag in self.pending:
                self.unknown += 1
                self.retry.append(self.pending.pop(tag))

    @property
    def done(self) -> bool:
        return len(self.acked) == self.total


def test_confirmed_publisher_republishing_unknown_outcomes_loses_nothing(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    conn, ch, rec = open_recovering(driver, broker, proxy)
    queue = unique_name("at-least-once")
    driver.rpc(ch.queue_declare, queue, durable=True)
    publisher = ConfirmedPublisher(ch, queue, total=300)
    ch.confirm_delivery(publisher.on_confirm, callback=rec.cb("confirming"))
    driver.run_until(lambda: rec.has("confirming"))

    def on_recovery(_conn: Any, event: Any) -> None:
        if isinstance(event, Recovered):
            publisher.pump()  # republish what was lost, then carry on

    conn.add_on_recovery_callback(on_recovery)
    publisher.pump()
    for cut_at in (100, 200):
        driver.run_until(lambda n=cut_at: len(publisher.acked) >= n, what=f"{cut_at} acks")
        proxy.stall()  # confirms in flight cannot arrive...
        publisher.pump()
        proxy.cut()  # ...and the link drops with them unsettled
        proxy.resume()
        wait_recovered(driver, rec, count=1 if cut_at == 100 else 2)
    driver.run_until(lambda: publisher.done, what="every message confirmed")
    assert publisher.unknown > 0
    bodies = drain_and_delete(broker.params(), queue)
    assert_at_least_once(bodies, 300, publisher.unknown)


def test_a_consumer_requested_just_before_the_drop_is_restored(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    _conn, ch, rec = open_recovering(driver, broker, proxy)
    queue = unique_name("late-consumer")
    driver.rpc(ch.queue_declare, queue, exclusive=True)
    proxy.stall()  # the ConsumeOk cannot arrive before the drop
    consumer = Consumer()
    tag = ch.basic_consume(queue, consumer)
    proxy.cut()
    proxy.resume()
    wait_recovered(driver, rec)
    assert ch.consumer_tags == [tag]  # basic_consume returned its tag: it is consuming
    ch.basic_publish("", queue, b"delivered")
    driver.run_until(lambda: consumer.bodies == [b"delivered"], what="a delivery")


def test_calls_unanswered_at_the_drop_are_asked_again_in_order(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    _conn, ch, rec = open_recovering(driver, broker, proxy)
    exchange = unique_name("ex-again")
    queue = unique_name("q-again")
    proxy.stall()  # none of these reaches the broker before the drop
    ch.exchange_declare(exchange, "direct", auto_delete=True, callback=rec.cb("exchange ok"))
    ch.queue_declare(queue, exclusive=True, callback=rec.cb("queue ok"))
    ch.queue_bind(queue, exchange, "key", callback=rec.cb("bind ok"))
    ch.queue_purge(queue, callback=rec.cb("purge ok"))
    consumer = Consumer()
    tag = ch.basic_consume(queue, consumer, callback=rec.cb("consume ok"))
    proxy.cut()
    proxy.resume()
    wait_recovered(driver, rec)
    # Declarations and the consume go out again, in order (the consume needs the
    # queue declared just before it); their callbacks run once, as usual.
    driver.run_until(lambda: rec.has("consume ok"), what="the consume callback")
    assert [n for n in rec.names() if n.endswith(" ok")] == [
        "exchange ok",
        "queue ok",
        "bind ok",
        "consume ok",
    ]
    assert rec.first("consume ok")[0].method.consumer_tag == tag
    # A purge may or may not have happened: not repeated, said in the log.
    assert "Queue.Purge on channel" in caplog.text
    assert ch.consumer_tags == [tag]
    ch.basic_publish(exchange, "key", b"routed")
    driver.run_until(lambda: consumer.bodies == [b"routed"], what="a delivery via the binding")
    # Answered now, so recorded: a second loss restores all of it from the ledger.
    proxy.cut()
    wait_recovered(driver, rec, count=2)
    ch.basic_publish(exchange, "key", b"again")
    driver.run_until(lambda: consumer.bodies == [b"routed", b"again"], what="a second delivery")
    assert not rec.has("consume ok", 2) and not rec.has("purge ok")


def test_a_cancel_unanswered_at_the_drop_is_completed_not_undone(
    proxy: FaultProxy, driver: AdapterDriver, broker: Broker
) -> None:
    _conn, ch, rec = open_recovering(driver, broker, proxy)
    queue = unique_name("q-cancelled")
    driver.rpc(ch.queue_declare, queue, exclusive=True)
    consumer = Consumer()
    tag = ch.basic_consume(queue, consumer, callback=rec.cb("consume ok"))
    driver.run_until(lambda: rec.has("consume ok"))
    proxy.stall()
    ch.basic_cancel(tag, callback=rec.cb("cancel ok"))
    proxy.cut()
    proxy.resume()
    wait_recovered(driver, rec)
    driver.run_until(lambda: rec.has("cancel ok"), what="the cancel callback")
    assert rec.first("cancel ok")[0].method.consumer_tag == tag
    assert ch.consumer_tags == []
    ch.basic_publish("", queue, b"nobody consumes this")
    for _ in range(200):  # the broker's count lags the publish a little
        if driver.rpc(ch.queue_declare, queue, passive=True).method.message_count == 1:
            break
        driver.run_for(0.05)
    else:
        raise AssertionError("the message never showed up in the queue")
    assert consumer.bodies == []


def test_tls_connection_recovers_over_tls_with_external_auth(
    driver: AdapterDriver, tls_broker: TlsBroker
) -> None:
    with FaultProxy(tls_broker.host, tls_broker.port, lifetime=60.0) as proxy:
        params = tls_broker.params(
            external=True, host=proxy.host, port=proxy.port, heartbeat=0, recovery=FAST
        )
        conn, rec = driver.open_connection(params)
        conn.add_on_recovery_callback(rec.cb("recovery"))
        ch = driver.open_channel(conn)
        proxy.cut()
        wait_recovered(driver, rec)
        assert proxy.accepted == 2  # the reconnect went through the proxy again, over TLS
        assert driver.rpc(ch.queue_declare, "", exclusive=True).method.queue
        closed: list[Any] = []
        conn.add_on_close_callback(lambda *args: closed.append(args))
        conn.close()
        driver.run_until(lambda: bool(closed), what="the close")
