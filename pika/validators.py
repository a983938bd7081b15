"""Argument checks shared by the connection and channel APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsInt

__all__ = ["require_callback", "require_string", "rpc_completion_callback", "zero_or_greater"]


def require_string(value: object, value_name: str) -> None:
    """Raise TypeError unless ``value`` is a str."""
    if not isinstance(value, str):
        raise TypeError(f"{value_name} must be a str, but got {value!r}")


def require_callback(callback: object, callback_name: str = "callback") -> None:
    """Raise TypeError unless ``callback`` is callable."""
    if not callable(callback):
        raise TypeError(f"callback {callback_name} must be callable, but got {callback!r}")


def rpc_completion_callback(callback: Callable[..., Any] | None) -> bool:
    """Return the ``nowait`` flag for an RPC: True when no callback was given.

    Raises TypeError when ``callback`` is neither None nor callable.
    """
    if callback is None:
        return True
    if callable(callback):
        return False
    raise TypeError(f"completion callback must be callable if not None, but got {callback!r}")


def zero_or_greater(name: str, value: SupportsInt | str) -> None:
    """Raise ValueError if ``int(value)`` is negative."""
    if int(value) < 0:
        raise ValueError(f"{name} must be >= 0, but got {value!r}")
