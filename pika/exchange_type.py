"""Exchange type names accepted by ``exchange_declare``."""

from __future__ import annotations

from enum import Enum

__all__ = ["ExchangeType"]


class ExchangeType(str, Enum):
    """The built-in exchange types; members compare equal to their plain strings."""

    direct = "direct"
    fanout = "fanout"
    headers = "headers"
    topic = "topic"
