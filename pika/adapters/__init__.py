"""Connection adapters: one per way of running the I/O loop.

Names are loaded on first use; the Tornado, Twisted and Gevent adapters are
never imported here, so their frameworks stay optional.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pika.adapters.asyncio_connection import AsyncioConnection
    from pika.adapters.base_connection import BaseConnection
    from pika.adapters.blocking_connection import BlockingConnection
    from pika.adapters.select_connection import IOLoop, SelectConnection
    from pika.adapters.thread_safe_connection import Connection

_EXPORTS = {
    "AsyncioConnection": "pika.adapters.asyncio_connection",
    "BaseConnection": "pika.adapters.base_connection",
    "BlockingConnection": "pika.adapters.blocking_connection",
    "Connection": "pika.adapters.thread_safe_connection",
    "IOLoop": "pika.adapters.select_connection",
    "SelectConnection": "pika.adapters.select_connection",
}

__all__ = [
    "AsyncioConnection",
    "BaseConnection",
    "BlockingConnection",
    "Connection",
    "IOLoop",
    "SelectConnection",
]


# Submodules pika 1.x imports with the package, so ``pika.adapters.X`` works after
# a bare ``import pika``.
_SUBMODULES = frozenset(
    {
        "asyncio_connection",
        "base_connection",
        "blocking_connection",
        "select_connection",
        "thread_safe_connection",
        "utils",
    }
)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"pika.adapters.{name}")
    else:
        raise AttributeError(f"module 'pika.adapters' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
