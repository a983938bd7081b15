"""How a BlockingConnection waits: one I/O step at a time on its private IOLoop.

Theory of operation: a blocking call alternates "has my reply arrived?" with
one I/O step.  The general step is the IOLoop's own: poll every fd, then run
the thread-safe callbacks and the due timers.  Nearly every step of a busy
connection is narrower than that: nothing is waiting to be sent, no
thread-safe callback is pending, and what can happen is the socket becoming
readable or a timer (heartbeat, user timer) coming due.  For that case, with
the plaintext transport on epoll, ``step`` waits on epoll itself for at most
the time to the next timer or the caller's deadline, and when the socket
alone is readable it has the transport read it into the connection at once:
one wait, one read, no dispatch tables.

Nothing is skipped: any other readiness (the wake-up socket, errors, hangups)
is dispatched the general way, due timers and pending callbacks are run at
the end of the step as the IOLoop would, and every wait is bounded by the
next timer, the deadline and the loop's longest poll, so heartbeats still go
out while a call waits and no call waits forever.
"""

from __future__ import annotations

import select
import time
from typing import Any

from pika.adapters._select_pollers import EPollPoller, _PollerBase
from pika.adapters.select_connection import IOLoop
from pika.adapters.utils._stream_transports import _AsyncPlaintextTransport

_MAX_WAIT = float(_PollerBase._MAX_POLL_TIMEOUT)
_EPOLLIN: int = getattr(select, "EPOLLIN", 0x001)


class IOStepper:
    """Runs single I/O steps of a BlockingConnection's IOLoop (see the module doc)."""

    __slots__ = ("_epoll", "_fast", "_loop", "_poller", "_read_ready", "_readable", "_transport")

    def __init__(self, loop: IOLoop) -> None:
        self._loop = loop
        poller = loop._poller
        self._poller = poller
        self._epoll = poller.native_poll() if isinstance(poller, EPollPoller) else None
        self._transport: Any = None  # the transport the fields below were set up for
        self._fast = False
        self._readable: list[tuple[int, int]] = []
        self._read_ready: Any = None

    def step(self, impl: Any, deadline: float | None) -> None:
        """Wait for I/O (until ``deadline`` at most, if given), then process what came.

        ``impl`` is the connection being driven; its transport may change over time
        (it is None before the stream is up and after it is gone).
        """
        transport = impl._transport
        if transport is not self._transport:
            self._attach(transport)
        loop = self._loop
        # IOLoop internals are read directly: this runs once per blocking round trip.
        if not self._fast or loop._callbacks or transport._tx or transport._closing:
            self._general_step(deadline)
            return
        timers = loop._timers
        heap = timers._heap
        now = time.monotonic()
        timeout = heap[0][0] - now if heap else _MAX_WAIT
        if deadline is not None and deadline - now < timeout:
            timeout = deadline - now
        if timeout > _MAX_WAIT:
            timeout = _MAX_WAIT
        elif timeout < 0.0:
            timeout = 0.0
        ready = self._epoll(timeout)  # type: ignore[misc]
        if ready:
            if ready == self._readable:
                # The transport's _on_readable (its closing check was made above).
                try:
                    self._read_ready()
                except Exception as exc:
                    transport._fail(exc)
            else:
                self._poller.dispatch_native(ready)  # type: ignore[attr-defined]
        heap = timers._heap
        if loop._callbacks or (heap and heap[0][0] <= time.monotonic()):
            loop.process_timeouts()

    def _general_step(self, deadline: float | None) -> None:
        loop = self._loop
        max_wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        loop.poll(max_wait)
        loop.process_timeouts()

    def _attach(self, transport: Any) -> None:
        """Set the shortcut up for ``transport`` (or turn it off for other kinds)."""
        self._transport = transport
        self._fast = self._epoll is not None and type(transport) is _AsyncPlaintextTransport
        if self._fast:
            self._readable = [(transport._fd, _EPOLLIN)]
            self._read_ready = transport._read_ready
        else:
            self._readable = []
            self._read_ready = None
