"""I/O building blocks shared by the callback adapters (loaded on first use)."""

from __future__ import annotations

import importlib
from types import ModuleType

_SUBMODULES = frozenset(
    {"connection_workflow", "io_services_utils", "nbio_interface", "selector_ioloop_adapter"}
)


def __getattr__(name: str) -> ModuleType:
    if name not in _SUBMODULES:
        raise AttributeError(f"module 'pika.adapters.utils' has no attribute {name!r}")
    module = importlib.import_module(f"pika.adapters.utils.{name}")
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
