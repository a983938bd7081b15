"""An ordered set of callbacks, as the faces keep them for each kind of event."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger("pika.callback")


class CallbackList:
    """Callbacks run in registration order; a duplicate registration is ignored."""

    __slots__ = ("_callbacks", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._callbacks: list[Callable[..., Any]] = []

    def add(self, callback: Callable[..., Any]) -> None:
        """Register ``callback`` unless it is already registered."""
        if callback in self._callbacks:
            LOGGER.warning("Duplicate %s callback %r ignored", self._name, callback)
            return
        self._callbacks.append(callback)

    def remove(self, callback: Callable[..., Any]) -> bool:
        """Forget ``callback``; True if it was registered."""
        try:
            self._callbacks.remove(callback)
        except ValueError:
            return False
        return True

    def run(self, *args: Any) -> None:
        """Call every callback with ``args`` (a snapshot: changes apply next time)."""
        for callback in tuple(self._callbacks):
            callback(*args)

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def __len__(self) -> int:
        return len(self._callbacks)
