"""Automatic recovery onto another cluster node (issue 10).

A BlockingConnection is given the three nodes of the session ``cluster`` and
publishes with confirms to a quorum queue.  Midway the node it is connected to
stops its RabbitMQ application (``stop_app``, from a background thread: the
CLI does not launch a server, so no thread owns a node); the client moves to
another node and carries on.  A quorum queue keeps a majority with one node of
three down, so no confirmed message may be lost: everything is counted at the
end.  The stopped node is started again so the session cluster stays whole.
Every wait is bounded.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import pika
from pika import exceptions
from pika.recovery import Recovered, RecoveryPolicy, RecoveryStarted
from tests.support.adapter_driver import unique_name
from tests.support.rabbitmq_node import GUEST, RabbitCluster, RabbitNode
from tests.support.recovery_checks import Background

TOTAL = 1000
#: The node starts stopping after this many messages.  ``rabbitmqctl stop_app`` takes
#: a second or more to drop the connections while confirmed publishes keep flowing
#: (several hundred a second here), so the drop often catches one in flight (its
#: outcome is unknown: it is published again).  The last ones are published only
#: once the client has lost its node, so some always go to another node.
STOP_AFTER = TOTAL // 10
LAST_AFTER_MOVE = 20
#: How long one message may take to be confirmed, retries included.
PUBLISH_BOUND = 30.0
#: How long the stopped node may take to stop (or to start again).
NODE_BOUND = 60.0
POLICY = RecoveryPolicy(initial_delay=0.2, max_delay=1.0, jitter=0.0, publish_wait_timeout=10.0)
RETRIED = (exceptions.PublishOutcomeUnknownError, exceptions.ConnectionRecoveringError)


def node_params(node: RabbitNode) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        host=node.host,
        port=node.port,
        credentials=pika.PlainCredentials(*GUEST),
        recovery=POLICY,
    )


def node_at(cluster: RabbitCluster, port: int) -> RabbitNode:
    found = [node for node in cluster.nodes if node.port == port]
    assert len(found) == 1, f"no single node of {cluster.nodes} listens on {port}"
    return found[0]


def publish_at_least_once(conn: Any, ch: Any, queue: str, body: bytes) -> int:
    """Publish until confirmed; return how many attempts had an unknown outcome."""
    deadline = time.monotonic() + PUBLISH_BOUND
    unknown = 0
    while True:
        try:
            ch.basic_publish("", queue, body)
            return unknown
        except RETRIED as exc:
            # Outcome unknown: the broker may have it, so publish again (at least once).
            # Still recovering after the policy's wait: run the loop a little, then retry.
            unknown += isinstance(exc, exceptions.PublishOutcomeUnknownError)
            assert time.monotonic() < deadline, f"{body!r} not confirmed in {PUBLISH_BOUND} s"
            if isinstance(exc, exceptions.ConnectionRecoveringError):
                conn.process_data_events(0.1)


def wait_for_loss(conn: Any, events: list[Any]) -> None:
    """Run the loop until the client has seen its node go (bounded)."""
    deadline = time.monotonic() + NODE_BOUND
    while not (conn.is_recovering or any(isinstance(e, RecoveryStarted) for e in events)):
        assert time.monotonic() < deadline, f"the connection outlived its node for {NODE_BOUND} s"
        conn.process_data_events(0.05)


def drain(node: RabbitNode, queue: str) -> list[bytes]:
    """Every message left in ``queue`` (consumed through ``node``), then delete it."""
    with pika.BlockingConnection(node_params(node)) as conn:
        ch = conn.channel()
        bodies: list[bytes] = []
        while True:
            method, _props, body = ch.basic_get(queue, auto_ack=True)
            if method is None or body is None:
                break
            bodies.append(body)
        ch.queue_delete(queue)
    return bodies


def restore(stopper: Background, victim: RabbitNode) -> None:
    """Start the stopped node again, so the session cluster stays whole for other tests."""
    try:
        stopper.join(NODE_BOUND)
    finally:
        victim.start_app()


@pytest.mark.slow
def test_confirmed_publisher_moves_to_another_node_and_loses_nothing(
    cluster: RabbitCluster,
) -> None:
    queue = unique_name("quorum")
    events: list[Any] = []
    unknown = 0
    stopper: Background | None = None
    victim: RabbitNode | None = None
    try:
        with pika.BlockingConnection([node_params(node) for node in cluster.nodes]) as conn:
            conn.add_on_recovery_callback(lambda _conn, event: events.append(event))
            ch = conn.channel()
            ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            ch.confirm_delivery()
            first_port = conn._impl.params.port
            victim = node_at(cluster, first_port)
            for number in range(TOTAL):
                if number == STOP_AFTER:
                    stopper = Background(victim.stop_app, "stop-app")
                elif number == TOTAL - LAST_AFTER_MOVE:
                    wait_for_loss(conn, events)  # so the last ones go to another node
                unknown += publish_at_least_once(conn, ch, queue, b"%d" % number)
            conn.process_data_events(0)  # recovery callbacks run while dispatching
            moved_to = conn._impl.params.port
        seen = drain(next(node for node in cluster.nodes if node is not victim), queue)
    finally:
        if stopper is not None and victim is not None:
            restore(stopper, victim)
    assert moved_to != first_port
    assert moved_to in {node.port for node in cluster.nodes}
    assert [type(e) for e in events][:1] == [RecoveryStarted]
    assert sum(isinstance(e, Recovered) for e in events) == 1
    assert {int(body) for body in seen} == set(range(TOTAL)), f"{unknown} republished"
    assert TOTAL <= len(seen) <= TOTAL + unknown
