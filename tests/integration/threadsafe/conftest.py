"""Fixtures for the thread-safe Connection integration tests."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from threadsafe_support import wait_until

from pika.adapters.thread_safe_connection import Channel, Connection
from tests.conftest import Broker
from tests.support.faultproxy import FaultProxy


@pytest.fixture(autouse=True)
def no_io_thread_left_behind() -> Iterator[None]:
    """After each test (and its fixtures' teardown) no new I/O thread is still running."""
    before = set(threading.enumerate())
    yield
    wait_until(
        lambda: (
            not [
                t
                for t in threading.enumerate()
                if t not in before and t.name.startswith("pika-ioloop-")
            ]
        ),
        what="the test's I/O threads to finish",
    )


@pytest.fixture
def connect(broker: Broker) -> Iterator[Callable[..., Connection]]:
    """Open thread-safe connections (``broker.params(**param_overrides)``); aborted afterwards."""
    made: list[Connection] = []

    def make(params: Any = None, **kwargs: Any) -> Connection:
        conn = Connection(params if params is not None else broker.params(), **kwargs)
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.abort(timeout=5)


@pytest.fixture
def connection(connect: Callable[..., Connection]) -> Connection:
    """An open thread-safe connection to the test broker."""
    return connect()


@pytest.fixture
def channel(connection: Connection) -> Channel:
    """An open thread-safe channel."""
    return connection.channel()


@pytest.fixture
def queue(request: pytest.FixtureRequest, broker: Broker) -> Iterator[str]:
    """A unique queue name (not declared); the queue is deleted after the test."""
    name = f"ts-{request.node.name[:50]}-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(Exception), Connection(broker.params()) as conn:
        conn.channel().queue_delete(name)


@pytest.fixture
def proxy_params(broker: Broker, proxy: FaultProxy) -> Callable[..., Any]:
    """Parameters that reach the broker through ``proxy``."""

    def make(**overrides: Any) -> Any:
        return broker.params(host=proxy.host, port=proxy.port, **overrides)

    return make
