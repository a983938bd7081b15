"""Fixtures of the fault tests: each adapter talks to the broker through a FaultProxy."""

from __future__ import annotations

import pytest

from tests.support.adapter_driver import unique_name


@pytest.fixture
def qname() -> str:
    """A queue name unique to this test."""
    return unique_name("pika-fault-q")
