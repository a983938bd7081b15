"""Fixtures of the adapter acceptance suite: every test runs once per adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.support.adapter_driver import AdapterDriver, unique_name

if TYPE_CHECKING:
    from tests.conftest import Broker


@pytest.fixture
def qname() -> str:
    """A queue name unique to this test."""
    return unique_name("pika-it-q")


@pytest.fixture
def opened(driver: AdapterDriver, broker: Broker) -> tuple[Any, Any]:
    """An open connection and an open channel on it."""
    conn, _ = driver.open_connection(broker.params())
    return conn, driver.open_channel(conn)
