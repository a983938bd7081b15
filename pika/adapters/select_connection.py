"""``SelectConnection`` and its ``IOLoop`` (select, poll, epoll or kqueue).

The IOLoop runs one thread: each iteration waits for fd events (at most until the
next timer, 5 s, or not at all while thread-safe callbacks are pending), dispatches
them, then runs the pending thread-safe callbacks and the due timers. Exceptions
from timers and thread-safe callbacks propagate out of ``start()``.

Set the module global ``SELECT_TYPE`` (or its pika 0.9 spelling ``POLLER_TYPE``,
which wins when set) to ``'epoll'``, ``'kqueue'``, ``'poll'`` or ``'select'`` before
creating an IOLoop to force a poller; ``None`` chooses the best available.
"""

from __future__ import annotations

import collections
import functools
import logging
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from pika import connection
from pika.adapters import _select_timers
from pika.adapters._select_pollers import (
    EPollPoller,
    KQueuePoller,
    PollEvents,
    PollPoller,
    SelectPoller,
    _PollerBase,
)
from pika.adapters.base_connection import (
    BaseConnection,
    check_parameters,
    resolve_loop_alias,
)
from pika.adapters.utils.io_services_utils import check_callback_arg, check_fd_arg
from pika.adapters.utils.nbio_interface import AbstractIOServices
from pika.adapters.utils.selector_ioloop_adapter import (
    AbstractSelectorIOLoop,
    SelectorIOServicesAdapter,
)

__all__ = [
    "POLLER_TYPE",
    "SELECT_TYPE",
    "AsyncoreConnection",
    "EPollPoller",
    "IOLoop",
    "KQueuePoller",
    "PollEvents",
    "PollPoller",
    "SelectConnection",
    "SelectPoller",
]

LOGGER = logging.getLogger(__name__)

for _cls in (PollEvents, _PollerBase, SelectPoller, PollPoller, EPollPoller, KQueuePoller):
    _cls.__module__ = __name__

#: Force a poller: 'epoll', 'kqueue', 'poll', 'select', or None for automatic.
SELECT_TYPE: str | None = None
#: pika 0.9 name of SELECT_TYPE; takes precedence when not None.
POLLER_TYPE: str | None = None

_POLLERS: dict[str, type[_PollerBase]] = {
    "epoll": EPollPoller,
    "kqueue": KQueuePoller,
    "poll": PollPoller,
    "select": SelectPoller,
}


def _poller_available(name: str) -> bool:
    if name == "poll":
        # Some platforms ship a poll() without modify(); pika's loop needs it.
        return hasattr(select, "poll") and hasattr(select.poll(), "modify")
    if name == "select":
        return True
    return hasattr(select, name)


def _create_poller() -> _PollerBase:
    requested = POLLER_TYPE if POLLER_TYPE is not None else SELECT_TYPE
    if requested is not None:
        name = str(requested).lower()
        if name not in _POLLERS:
            raise ValueError(
                f"Unknown poller type {requested!r}; expected one of {sorted(_POLLERS)} or None"
            )
        if _poller_available(name):
            return _POLLERS[name]()
        LOGGER.warning("Poller %r is not available here; choosing automatically", name)
    for name in ("epoll", "kqueue", "poll", "select"):
        if _poller_available(name):
            return _POLLERS[name]()
    raise RuntimeError("no usable poller")  # unreachable: select always exists


class _Waker:
    """A socket pair that makes a blocked poll return, from any thread."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._lock = threading.Lock()
        self._pending = False

    def fileno(self) -> int:
        return self._reader.fileno()

    def wake(self) -> None:
        with self._lock:
            if self._pending:
                return  # a byte is already on its way
            self._pending = True
        try:
            self._writer.send(b"\0")
        except OSError as exc:
            # Buffer full means a wake-up is pending anyway; EBADF means closed.
            LOGGER.debug("IOLoop wake-up not sent: %r", exc)

    def drain(self) -> None:
        while True:
            try:
                if not self._reader.recv(4096):
                    break
            except OSError:
                break
        # Cleared only after draining: a wake() racing with us either sees the flag
        # still set (its callback is already queued and will be run) or sends anew.
        with self._lock:
            self._pending = False

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


class IOLoop(AbstractSelectorIOLoop):
    """Single-threaded event loop with timers and thread-safe callbacks."""

    READ = PollEvents.READ
    WRITE = PollEvents.WRITE
    ERROR = PollEvents.ERROR

    def __init__(self) -> None:
        self._poller = _create_poller()
        self._timers = _select_timers._Timers()
        self._callbacks: collections.deque[Callable[[], Any]] = collections.deque()
        self._waker = _Waker()
        self._poller_active = False
        self._running = False
        self._stopping = False
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._running else "idle"
        return f"<{self.__class__.__name__} {state} poller={type(self._poller).__name__}>"

    # -- running ------------------------------------------------------------------

    def start(self) -> None:
        """Run until ``stop()``; not reentrant, but can be started again later."""
        if self._running:
            raise RuntimeError("IOLoop is not reentrant and is already running")
        if self._closed:
            raise RuntimeError("IOLoop is closed")
        if self._stopping:
            LOGGER.debug("IOLoop.start(): stop() was requested earlier; returning")
            self._stopping = False
            return
        self._running = True
        activated_here = not self._poller_active
        self.activate_poller()
        try:
            while not self._stopping:
                self.poll()
                self.process_timeouts()
        finally:
            self._running = False
            self._stopping = False
            if activated_here and not self._closed:
                self.deactivate_poller()

    @property
    def is_running(self) -> bool:
        """True while ``start()`` is running the loop."""
        return self._running

    def stop(self) -> None:
        """Make ``start()`` return after the current iteration (or at once if not started)."""
        self._stopping = True
        if not self._closed:
            self._waker.wake()

    def close(self) -> None:
        """Release the poller, the wake-up sockets and all timers; call after start() returns."""
        if self._closed:
            return
        self._closed = True
        self._poller.close()
        self._poller_active = False
        self._waker.close()
        self._timers.clear()
        self._callbacks.clear()

    def activate_poller(self) -> None:
        """Watch the wake-up socket (done by ``start()``; drivers of ``poll()`` call it)."""
        if not self._poller_active:
            self._poller.add_handler(self._waker.fileno(), self._on_wake, self.READ)
            self._poller_active = True

    def deactivate_poller(self) -> None:
        """Stop watching the wake-up socket."""
        if self._poller_active:
            self._poller.remove_handler(self._waker.fileno())
            self._poller_active = False

    def poll(self, max_wait: float | None = None) -> None:
        """Wait for and dispatch fd events once (waiting at most ``max_wait`` seconds)."""
        if self._callbacks:
            timeout = 0.0
        else:
            wait = self._timers.seconds_to_next()
            timeout = _PollerBase._MAX_POLL_TIMEOUT if wait is None else wait
            if max_wait is not None and max_wait < timeout:
                timeout = max_wait
        self._poller.poll(timeout)

    def process_timeouts(self) -> None:
        """Run the thread-safe callbacks queued so far, then the due timers."""
        if self._callbacks:
            for _ in range(len(self._callbacks)):
                self._callbacks.popleft()()
        self._timers.run_due()

    def _on_wake(self, _fd: int, _events: int) -> None:
        self._waker.drain()

    # -- timers and callbacks -----------------------------------------------------

    def call_later(
        self, delay: float, callback: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> _select_timers._Timeout:
        """Run ``callback(*args, **kwargs)`` once after ``delay`` seconds; returns a handle."""
        check_callback_arg(callback, "callback")
        if delay < 0:
            raise ValueError(f"call_later: delay must be >= 0, but got {delay!r}")
        if self._closed:
            raise ValueError("Timeout closed before call")
        if args or kwargs:
            callback = functools.partial(callback, *args, **kwargs)
        return self._timers.call_later(delay, callback)

    def add_timeout(self, deadline: float, callback: Callable[..., Any]) -> _select_timers._Timeout:
        """Legacy alias of ``call_later``; ``deadline`` is seconds from now."""
        return self.call_later(deadline, callback)

    def remove_timeout(self, timeout_handle: _select_timers._Timeout) -> None:
        """Cancel a timer; no-op if it already ran or was removed."""
        if not isinstance(timeout_handle, _select_timers._Timeout):
            raise TypeError(f"Expected a handle returned by call_later, got {timeout_handle!r}")
        self._timers.remove(timeout_handle)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the loop thread in its next iteration; thread-safe."""
        check_callback_arg(callback, "callback")
        if self._closed:
            LOGGER.debug("add_callback_threadsafe() on a closed IOLoop: %r dropped", callback)
            return
        self._callbacks.append(callback)
        self._waker.wake()

    def add_callback(self, callback: Callable[[], Any]) -> None:
        """Alias of ``add_callback_threadsafe`` (the selector-loop protocol's name)."""
        self.add_callback_threadsafe(callback)

    # -- file descriptors ---------------------------------------------------------

    def add_handler(self, fd: int, handler: Callable[[int, int], Any], events: int) -> None:
        """Call ``handler(fd, events)`` when ``fd`` has any of ``events``."""
        check_fd_arg(fd)
        check_callback_arg(handler, "handler")
        self._poller.add_handler(fd, handler, events)

    def update_handler(self, fd: int, events: int) -> None:
        """Replace the events watched on ``fd``."""
        check_fd_arg(fd)
        self._poller.update_handler(fd, events)

    def remove_handler(self, fd: int) -> None:
        """Stop watching ``fd``."""
        check_fd_arg(fd)
        self._poller.remove_handler(fd)


class SelectConnection(BaseConnection):
    """Asynchronous connection on pika's own ``IOLoop`` (or any ``AbstractIOServices``).

    ``ioloop=`` is accepted as an alias of ``custom_ioloop``; ``stop_ioloop_on_close``
    (pika 0.x) stops the loop once the connection is closed or fails to open.
    """

    def __init__(
        self,
        parameters: connection.Parameters | None = None,
        on_open_callback: Callable[..., Any] | None = None,
        on_open_error_callback: Callable[..., Any] | None = None,
        on_close_callback: Callable[..., Any] | None = None,
        custom_ioloop: Any = None,
        internal_connection_workflow: bool = True,
        *,
        ioloop: Any = None,
        stop_ioloop_on_close: bool = False,
    ) -> None:
        check_parameters(parameters)  # before building a loop that would leak
        loop = resolve_loop_alias(custom_ioloop, ioloop, "ioloop")
        self._owns_ioloop = loop is None
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            self._io_services_for(loop),
            internal_connection_workflow,
            stop_ioloop_on_close=stop_ioloop_on_close,
        )

    @staticmethod
    def _io_services_for(loop: Any) -> AbstractIOServices:
        if isinstance(loop, AbstractIOServices):
            return loop
        return SelectorIOServicesAdapter(loop if loop is not None else IOLoop())

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close the connection (see ``Connection.close``).

        pika 0.x's documented shutdown -- ``connection.close()`` in a KeyboardInterrupt
        handler, then ``connection.ioloop.start()`` "until we're fully closed" -- relied
        on the loop stopping by itself.  So when this connection created its own IOLoop
        and close() is called while that loop is not running, the loop is stopped once
        the close completes.  A loop that is running is never stopped (pika 1.x).
        """
        native = self.ioloop
        idle = self._owns_ioloop and isinstance(native, IOLoop) and not native.is_running
        if idle and not (self.is_closing or self.is_closed):
            self.add_on_close_callback(self._stop_ioloop)
            self.add_on_open_error_callback(self._stop_ioloop, remove_default=False)
        super().close(reply_code, reply_text)


#: pika 0.5 name of the select-based adapter.
AsyncoreConnection = SelectConnection
