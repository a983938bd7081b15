"""Every Twisted unit test also fails if Twisted had to log an error itself.

That catches Deferreds that died holding a failure nobody consumed ("Unhandled
error in Deferred") and exceptions that escaped into Twisted.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.logger import globalLogPublisher


@pytest.fixture(autouse=True)
def no_twisted_errors() -> Iterator[list[Any]]:
    events: list[Any] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            events.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        yield events
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(observe)
    failures = [str(e.get("log_failure") or e) for e in events]
    assert not failures, f"Twisted logged errors: {failures}"
