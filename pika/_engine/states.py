"""Connection and channel states.

The numeric values are pika's public ``connection_state`` / channel state
constants, so faces can expose them unchanged.
"""

from __future__ import annotations

import enum


class ConnectionState(enum.IntEnum):
    """Where the connection is in its life (pika's CONNECTION_* values)."""

    CLOSED = 0
    INIT = 1
    PROTOCOL = 2
    START = 3
    TUNE = 4
    OPEN = 5
    CLOSING = 6


OPENING_STATES = frozenset(
    {ConnectionState.INIT, ConnectionState.PROTOCOL, ConnectionState.START, ConnectionState.TUNE}
)


class ChannelState(enum.IntEnum):
    """Where a channel is in its life (pika's Channel.CLOSED..CLOSING values)."""

    CLOSED = 0
    OPENING = 1
    OPEN = 2
    CLOSING = 3
