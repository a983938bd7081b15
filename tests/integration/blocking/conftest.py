"""Fixtures for the BlockingConnection integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from tests.conftest import Broker


@pytest.fixture
def connection(broker: Broker) -> Iterator[BlockingConnection]:
    """An open BlockingConnection to the test broker, closed after the test."""
    conn = pika.BlockingConnection(broker.params())
    try:
        yield conn
    finally:
        if conn.is_open:
            conn.close()


@pytest.fixture
def channel(connection: BlockingConnection) -> BlockingChannel:
    """An open channel on ``connection``."""
    return connection.channel()


@pytest.fixture
def queue(request: pytest.FixtureRequest, channel: BlockingChannel) -> Iterator[str]:
    """A fresh, empty queue named after the test; deleted afterwards."""
    name = f"blocking-{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"
    channel.queue_declare(name)
    yield name
    conn = channel.connection
    if conn.is_open:
        with conn.channel() as cleanup:
            cleanup.queue_delete(name)
