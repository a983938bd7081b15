"""The BlockingConnection examples of seed 004 (pika 0.9 docs), run verbatim.

Only the Python 2 ``print`` statements are turned into calls. The examples use
``BlockingConnection()`` with no arguments and the queue name "test", so each
test points the default parameters at a private vhost of the test broker. The
examples never close their connection; the fixture closes whatever they opened.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pika._params.parameters import Parameters
from pika.adapters.blocking_connection import BlockingConnection
from tests.conftest import Broker


@pytest.fixture
def private_vhost(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Make ``BlockingConnection()`` reach a fresh vhost on the test broker."""
    node = broker.require_node()
    vhost = f"seed-{uuid.uuid4().hex[:8]}"
    node.add_vhost(vhost)
    node.set_permissions("guest", vhost)
    monkeypatch.setattr(Parameters, "DEFAULT_HOST", broker.host)
    monkeypatch.setattr(Parameters, "DEFAULT_PORT", broker.port)
    monkeypatch.setattr(Parameters, "DEFAULT_VIRTUAL_HOST", vhost)
    opened: list[BlockingConnection] = []
    original_init = BlockingConnection.__init__

    def recording_init(self: BlockingConnection, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(BlockingConnection, "__init__", recording_init)
    try:
        yield vhost
    finally:
        for connection in opened:
            if connection.is_open:
                connection.close()
        node.delete_vhost(vhost)


PUBLISHING_EXAMPLE = """
from pika.adapters import BlockingConnection
from pika import BasicProperties
# Open a connection to RabbitMQ on localhost using all default parameters
connection = BlockingConnection()
# Open the channel
channel = connection.channel()
# Declare the queue
channel.queue_declare(queue="test", durable=True, exclusive=False, auto_delete=False)
# Send a message
channel.basic_publish(exchange='',
                      routing_key="test",
                      body="Hello World!",
                      properties=BasicProperties(content_type="text/plain",
                                                 delivery_mode=1))
"""

CONSUMING_EXAMPLE = """
from pika.adapters import BlockingConnection
# Open a connection to RabbitMQ on localhost using all default parameters
connection = BlockingConnection()
# Open the channel
channel = connection.channel()
# Declare the queue
channel.queue_declare(queue="test", durable=True,
                      exclusive=False, auto_delete=False)
# Start our counter at 0
messages = 0
# Method that will receive our messages and stop consuming after 10
def _on_message(channel, method, header, body):
    print("Message:")
    print("\\t%r" % method)
    print("\\t%r" % header)
    print("\\t%r" % body)
    # Acknowledge message receipt
    channel.basic_ack(method.delivery_tag)
    # We've received 10 messages, stop consuming
    global messages
    messages += 1
    if messages > 10:
        channel.stop_consuming()
# Setup up our consumer callback
channel.basic_consume(_on_message, queue="test")
# This is blocking until channel.stop_consuming is called and will allow us to receive messages
channel.start_consuming()
"""


def run_example(source: str) -> dict[str, Any]:
    """Run an example as a script of its own (its own globals, like ``python example.py``)."""
    namespace: dict[str, Any] = {"__name__": "__seed_example__"}
    exec(compile(source, "<seed 004 example>", "exec"), namespace)
    return namespace


def test_publishing_example(private_vhost: str) -> None:
    run_example(PUBLISHING_EXAMPLE)
    import pika

    with pika.BlockingConnection() as connection:
        _method, properties, body = connection.channel().basic_get("test", auto_ack=True)
    assert body == b"Hello World!"
    assert properties.content_type == "text/plain"
    assert properties.delivery_mode == 1


def test_consuming_example_stops_after_eleven_messages(
    private_vhost: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(12):
        run_example(PUBLISHING_EXAMPLE)
    assert run_example(CONSUMING_EXAMPLE)["messages"] == 11
    printed = capsys.readouterr().out
    assert printed.count("Message:") == 11
    assert printed.count("b'Hello World!'") == 11
    import pika

    with pika.BlockingConnection() as connection:
        left = connection.channel().queue_declare("test", passive=True).method.message_count
    assert left == 1  # the twelfth stays queued (requeued if it had been prefetched)
