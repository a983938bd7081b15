"""pika 1.x's ``HeartbeatChecker``, kept for code that builds one by hand.

Connections do not use it: the protocol engine sends heartbeats and detects a
silent peer itself (see ``pika._engine.heartbeat``).  This class follows pika
1.x's documented behaviour for anyone who drives it directly: it sends a
heartbeat frame every ``timeout / 2`` seconds and, every ``timeout + 5``
seconds, tears the connection down with ``AMQPHeartbeatTimeout`` if no byte
arrived since the previous check.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pika import exceptions
from pika._wire.writer import HEARTBEAT_FRAME

if TYPE_CHECKING:
    from pika.connection import Connection

LOGGER = logging.getLogger(__name__)


class HeartbeatChecker:
    """Sends heartbeats and checks for inbound traffic on one connection."""

    def __init__(self, connection: Connection, timeout: int) -> None:
        if timeout < 1:
            raise ValueError(f"timeout must be >= 1, but got {timeout!r}")
        self._connection = connection
        self._timeout = timeout
        self._send_interval = float(timeout) / 2
        self._check_interval = timeout + 5
        self._heartbeat_frames_received = 0
        self._idle_byte_intervals = 0
        self._bytes_received = 0
        self._send_timer: object | None = None
        self._check_timer: object | None = None
        self._update_counters()
        self._start_send_timer()
        self._start_check_timer()

    @property
    def bytes_received_on_connection(self) -> int:
        """Bytes the connection has received so far."""
        return self._connection.bytes_received

    @property
    def connection_is_idle(self) -> bool:
        """True if nothing arrived during the last check interval."""
        return self._idle_byte_intervals > 0

    def received(self) -> None:
        """Count a heartbeat frame from the broker."""
        self._heartbeat_frames_received += 1

    def stop(self) -> None:
        """Cancel both timers."""
        for timer in (self._send_timer, self._check_timer):
            if timer is not None:
                self._connection._adapter_remove_timeout(timer)
        self._send_timer = self._check_timer = None

    def _send_heartbeat(self) -> None:
        self._connection._adapter_emit_data(HEARTBEAT_FRAME)
        self._start_send_timer()

    def _check_heartbeat(self) -> None:
        if self._bytes_received == self.bytes_received_on_connection:
            self._idle_byte_intervals += 1
        else:
            self._idle_byte_intervals = 0
        self._update_counters()
        if self.connection_is_idle:
            text = f"No activity or too many missed heartbeats in the last {self._timeout} seconds"
            LOGGER.error(text)
            self.stop()
            self._connection._abort(exceptions.AMQPHeartbeatTimeout(text))
            return
        self._start_check_timer()

    def _update_counters(self) -> None:
        self._bytes_received = self.bytes_received_on_connection

    def _start_send_timer(self) -> None:
        self._send_timer = self._connection._adapter_call_later(
            self._send_interval, self._send_heartbeat
        )

    def _start_check_timer(self) -> None:
        self._check_timer = self._connection._adapter_call_later(
            self._check_interval, self._check_heartbeat
        )
