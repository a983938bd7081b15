"""Fixtures shared by several test folders (a plugin of the root conftest).

A conftest or test module that defines a fixture of the same name overrides it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support.adapter_driver import ADAPTERS, AdapterDriver, driver_fixture
from tests.support.faultproxy import FaultProxy

if TYPE_CHECKING:
    from tests.conftest import Broker


@pytest.fixture(params=ADAPTERS)
def driver(request: pytest.FixtureRequest) -> Iterator[AdapterDriver]:
    """A driver for one adapter with a fresh loop; connections are closed afterwards."""
    yield from driver_fixture(request.param)


@pytest.fixture
def proxy(broker: Broker) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the broker."""
    with FaultProxy(broker.host, broker.port, lifetime=120.0) as running:
        yield running
