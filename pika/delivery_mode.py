"""Delivery modes for ``BasicProperties.delivery_mode``."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["DeliveryMode"]


class DeliveryMode(IntEnum):
    """Whether the broker keeps a message on disk (an int, so it encodes as one)."""

    Transient = 1
    Persistent = 2
