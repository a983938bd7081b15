"""Automatic recovery across a real broker restart (issue 10).

A private node from ``node_factory`` is stopped and started again with the
same ports and data (several seconds) while the client's loop keeps running.  The client reconnects by
itself (a booting node refuses connections, then logins, for a while: the
policy retries), its durable queue and consumer come back, and a server-named
exclusive queue with its binding is re-created under a new name.  Every wait
is bounded.
"""

from __future__ import annotations

import queue as queue_mod
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pika
from pika.recovery import Recovered, RecoveryPolicy, RecoveryStarted
from tests.conftest import _started
from tests.support.adapter_driver import AdapterDriver, Recorder, unique_name
from tests.support.rabbitmq_node import GUEST, RabbitNode
from tests.support.recovery_checks import Background

POLICY = RecoveryPolicy(initial_delay=0.2, max_delay=1.0, jitter=0.0)
#: Bound of the whole restart-and-recover phase (a restart takes about 10 s here).
RESTART_BOUND = 60.0
SERVER_NAMED_PREFIX = "amq.gen-"


class Restart:
    """``node.restart()`` in steps, so the client's loop runs all along.

    The stop and the wait for boot run in background threads, but the server
    is launched from the test thread: it is spawned with a parent-death
    signal tied to the launching thread, so a node launched from a helper
    thread would die when that thread ends.
    """

    def __init__(self, node: RabbitNode) -> None:
        self.node = node
        self._stop = Background(lambda: node.stop(keep_dir=True), "stop-node")
        self._boot: Background | None = None

    def advance(self) -> bool:
        """Launch the node once it is down; True once it has booted again.

        Call it from the test thread only (loop callbacks included).
        """
        if self._boot is None:
            if not self._stop.done:
                return False
            self._stop.join(0)
            self.node.launch()
            self._boot = Background(self.node.wait_ready, "boot-node")
        return self._boot.done

    def join(self, timeout: float) -> None:
        """Re-raise what the stop or the boot raised; fail if not finished."""
        self._stop.join(timeout)
        if self._boot is None:
            raise AssertionError(f"{self.node!r} was never launched again")
        self._boot.join(timeout)


def node_params(node: RabbitNode) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        host=node.host,
        port=node.port,
        credentials=pika.PlainCredentials(*GUEST),
        recovery=POLICY,
    )


def assert_recovered_once(events: list[Any]) -> None:
    """RecoveryStarted first, exactly one Recovered, and it comes last."""
    kinds = [type(event) for event in events]
    assert kinds[:1] == [RecoveryStarted], kinds
    assert kinds.count(Recovered) == 1 and kinds[-1] is Recovered, kinds


def renamed_queue(node: RabbitNode, old: str) -> str:
    """The one server-named queue on the node now; it must not be the old one."""
    names: set[str] = {queue["name"] for queue in node.list_queues()}
    assert old not in names, "the exclusive queue died with the old connection"
    generated = [name for name in names if name.startswith(SERVER_NAMED_PREFIX)]
    assert len(generated) == 1, f"expected one re-created server-named queue in {names}"
    return generated[0]


def test_blocking_connection_recovers_from_a_node_restart(
    node_factory: Callable[..., RabbitNode],
) -> None:
    node = node_factory()
    durable, key = unique_name("durable"), unique_name("rk")
    events: list[Any] = []
    got: list[bytes] = []
    with pika.BlockingConnection(node_params(node)) as conn:
        ch = conn.channel()
        ch.queue_declare(durable, durable=True)
        old_queue = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(old_queue, "amq.direct", key)

        def on_message(channel: Any, method: Any, _props: Any, body: bytes) -> None:
            got.append(body)
            channel.basic_ack(method.delivery_tag)
            if len(got) == 2:
                channel.stop_consuming()

        def on_recovery(_conn: Any, event: Any) -> None:
            events.append(event)
            if isinstance(event, Recovered):  # published once the topology is back
                ch.basic_publish("", durable, b"to the durable queue")
                ch.basic_publish("amq.direct", key, b"through the binding")

        conn.add_on_recovery_callback(on_recovery)
        ch.basic_consume(durable, on_message)
        ch.basic_consume(old_queue, on_message)
        restart = Restart(node)

        def advance_restart() -> None:
            if not restart.advance():
                conn.call_later(0.1, advance_restart)

        conn.call_later(0.1, advance_restart)
        watchdog = conn.call_later(RESTART_BOUND, ch.stop_consuming)
        ch.start_consuming()
        conn.remove_timeout(watchdog)
        restart.join(RESTART_BOUND)

        assert sorted(got) == [b"through the binding", b"to the durable queue"], events
        assert_recovered_once(events)
        assert conn.is_open and ch.is_open and not conn.is_recovering
        new_queue = renamed_queue(node, old_queue)
        assert ch.queue_declare(new_queue, passive=True).method.message_count == 0
        assert ch.consumer_tags == []  # stop_consuming() cancelled both restored consumers
        ch.queue_delete(durable)


class Consumer:
    """Collects bodies and acks them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, channel: Any, method: Any, _props: Any, body: bytes) -> None:
        self.bodies.append(body)
        channel.basic_ack(method.delivery_tag)


def recovery_events(rec: Recorder) -> list[Any]:
    return [args[1] for args in rec.args("recovery")]


@pytest.fixture(scope="module")
def restarted_node() -> Iterator[RabbitNode]:
    """One private node for the async adapters' restarts (booting one each costs more)."""
    node = _started(RabbitNode, RabbitNode.start)
    yield node
    node.stop()


@pytest.mark.integration
def test_async_adapter_recovers_from_a_node_restart(
    driver: AdapterDriver, restarted_node: RabbitNode
) -> None:
    node = restarted_node
    durable, key = unique_name("durable"), unique_name("rk")
    conn, rec = driver.open_connection(node_params(node))
    conn.add_on_recovery_callback(rec.cb("recovery"))
    ch = driver.open_channel(conn)
    driver.rpc(ch.queue_declare, durable, durable=True)
    old_queue = driver.rpc(ch.queue_declare, "", exclusive=True).method.queue
    driver.rpc(ch.queue_bind, old_queue, "amq.direct", routing_key=key)
    consumer = Consumer()
    ch.basic_consume(durable, consumer, callback=rec.cb("consume ok"))
    ch.basic_consume(old_queue, consumer, callback=rec.cb("consume ok"))
    driver.run_until(lambda: rec.has("consume ok", 2), what="both consumers")

    restart = Restart(node)
    driver.run_until(
        lambda: restart.advance() and any(isinstance(e, Recovered) for e in recovery_events(rec)),
        timeout=RESTART_BOUND,
        what="the node restart and the recovery",
    )
    restart.join(0)
    assert_recovered_once(recovery_events(rec))
    assert conn.is_open and ch.is_open and not rec.has("close")
    ch.basic_publish("", durable, b"to the durable queue")
    ch.basic_publish("amq.direct", key, b"through the binding")
    driver.run_until(lambda: len(consumer.bodies) == 2, what="deliveries after recovery")
    assert sorted(consumer.bodies) == [b"through the binding", b"to the durable queue"]
    new_queue = renamed_queue(node, old_queue)
    assert driver.rpc(ch.queue_declare, new_queue, passive=True).method.consumer_count == 1
    assert not rec.has("consume ok", 3)  # restored consumers do not re-run the app's callback


@pytest.mark.integration
def test_thread_safe_connection_recovers_from_a_node_restart(restarted_node: RabbitNode) -> None:
    node = restarted_node
    key = unique_name("rk")
    recovered = threading.Event()
    events: list[Any] = []
    got: queue_mod.Queue[bytes] = queue_mod.Queue()

    def on_recovery(_conn: Any, event: Any) -> None:
        events.append(event)
        if isinstance(event, Recovered):
            recovered.set()

    def on_message(channel: Any, method: Any, _props: Any, body: bytes) -> None:
        got.put(body)
        channel.basic_ack(method.delivery_tag)

    conn = pika.Connection(node_params(node))
    try:
        conn.add_on_recovery_callback(on_recovery)
        ch = conn.channel()
        old_queue = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(old_queue, "amq.direct", key)
        ch.basic_consume(old_queue, on_message)
        # The I/O thread recovers on its own while this (main) thread restarts the node.
        node.restart()
        assert recovered.wait(RESTART_BOUND), events
        assert_recovered_once(events)
        renamed_queue(node, old_queue)
        ch.basic_publish("amq.direct", key, b"after the restart")
        assert got.get(timeout=20) == b"after the restart"
    finally:
        conn.close()
