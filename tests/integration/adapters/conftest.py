"""Fixtures of the adapter acceptance suite: every test runs once per adapter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.adapter_driver import ADAPTERS, AdapterDriver, driver_fixture, unique_name

if TYPE_CHECKING:
    from tests.conftest import Broker


@pytest.fixture(params=ADAPTERS)
def driver(request: pytest.FixtureRequest) -> Iterator[AdapterDriver]:
    """A driver for one adapter with a fresh loop; connections are closed afterwards."""
    yield from driver_fixture(request.param)


@pytest.fixture
def qname() -> str:
    """A queue name unique to this test."""
    return unique_name("pika-it-q")


@pytest.fixture
def opened(driver: AdapterDriver, broker: Broker) -> tuple[Any, Any]:
    """An open connection and an open channel on it."""
    conn, _ = driver.open_connection(broker.params())
    return conn, driver.open_channel(conn)
