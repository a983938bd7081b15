"""Heartbeat timing as plain functions of time.

The engine records whether bytes moved since the previous tick and turns that
into timestamps on the next ``tick(now)``, so no clock is read here.  A
heartbeat frame goes out when nothing was sent for half the negotiated
interval; the peer is declared dead when nothing at all arrived for one and a
half intervals (RabbitMQ sends at half the interval, so that is three missed
beats, robust against a briefly busy broker yet well inside the window).
"""

from __future__ import annotations

SEND_FRACTION = 0.5
DEAD_FACTOR = 1.5


class HeartbeatClock:
    """Last-activity bookkeeping for one negotiated interval (seconds)."""

    __slots__ = ("interval", "last_rx", "last_tx", "rx_seen", "tx_seen")

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.last_rx: float | None = None
        self.last_tx: float | None = None
        self.rx_seen = False
        self.tx_seen = False

    def observe(self, now: float) -> None:
        """Fold activity flagged since the previous tick into timestamps."""
        if self.rx_seen or self.last_rx is None:
            self.last_rx = now
            self.rx_seen = False
        if self.tx_seen or self.last_tx is None:
            self.last_tx = now
            self.tx_seen = False

    def send_due(self, now: float) -> bool:
        """True when a heartbeat frame should go out now."""
        return self.last_tx is not None and now - self.last_tx >= self.interval * SEND_FRACTION

    def peer_dead(self, now: float) -> bool:
        """True when the peer has been silent for too long."""
        return self.last_rx is not None and now - self.last_rx >= self.interval * DEAD_FACTOR

    def deadline(self) -> float | None:
        """When the next tick is needed; None before the first observation."""
        if self.last_tx is None or self.last_rx is None:
            return None
        return min(
            self.last_tx + self.interval * SEND_FRACTION,
            self.last_rx + self.interval * DEAD_FACTOR,
        )
