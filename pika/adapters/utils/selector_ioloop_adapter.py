"""``AbstractIOServices`` on top of any loop shaped like tornado's IOLoop.

``AbstractSelectorIOLoop`` names what such a loop must offer (pika's own select
``IOLoop``, tornado's IOLoop and the gevent wrapper all do). The adapter multiplexes
the separate reader/writer callbacks of the fd services onto the loop's single
``handler(fd, events)`` per descriptor.
"""

from __future__ import annotations

import abc
import functools
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from pika.adapters.utils import io_services_utils
from pika.adapters.utils.io_services_utils import check_callback_arg, check_fd_arg
from pika.adapters.utils.nbio_interface import (
    AbstractFileDescriptorIOServices,
    AbstractIOReference,
    AbstractTimerReference,
    GetAddrInfoResult,
)

LOGGER = logging.getLogger(__name__)


class AbstractSelectorIOLoop(abc.ABC):
    """What a selector-style loop must provide.

    pika's own select ``IOLoop`` and the gevent wrapper subclass it; tornado's IOLoop
    has the same shape and is registered as a virtual subclass by the tornado adapter.
    """

    @property
    @abc.abstractmethod
    def READ(self) -> int:
        """Event bit: readable."""

    @property
    @abc.abstractmethod
    def WRITE(self) -> int:
        """Event bit: writable."""

    @property
    @abc.abstractmethod
    def ERROR(self) -> int:
        """Event bit: error condition."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the loop's resources."""

    @abc.abstractmethod
    def start(self) -> None:
        """Run until ``stop()``."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Make ``start()`` return."""

    @abc.abstractmethod
    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        """Run ``callback()`` once after ``delay`` seconds; returns a handle."""

    @abc.abstractmethod
    def remove_timeout(self, timeout_handle: Any) -> None:
        """Cancel a timer made by ``call_later``."""

    @abc.abstractmethod
    def add_callback(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the loop thread soon; thread-safe."""

    @abc.abstractmethod
    def add_handler(self, fd: int, handler: Callable[[int, int], Any], events: int) -> None:
        """Call ``handler(fd, events)`` when ``fd`` has any of ``events``."""

    @abc.abstractmethod
    def update_handler(self, fd: int, events: int) -> None:
        """Change the events watched on ``fd``."""

    @abc.abstractmethod
    def remove_handler(self, fd: int) -> None:
        """Stop watching ``fd``."""


class _TimerHandle(AbstractTimerReference):
    def __init__(self, loop: AbstractSelectorIOLoop, handle: Any) -> None:
        self._loop = loop
        self._handle = handle

    def cancel(self) -> None:
        if self._handle is not None:
            self._loop.remove_timeout(self._handle)
            self._handle = None


class _FdWatchers:
    """Reader and writer callbacks registered for one descriptor."""

    __slots__ = ("reader", "writer")

    def __init__(self) -> None:
        self.reader: Callable[[], Any] | None = None
        self.writer: Callable[[], Any] | None = None


class _AddressResolver(AbstractIOReference):
    """Runs ``socket.getaddrinfo`` in a thread and reports back on the loop thread."""

    def __init__(
        self,
        loop: AbstractSelectorIOLoop,
        args: tuple[Any, ...],
        on_done: Callable[[GetAddrInfoResult], Any],
    ) -> None:
        self._loop = loop
        self._args = args
        self._on_done = on_done
        self._pending = True

    def start(self) -> AbstractIOReference:
        worker = threading.Thread(target=self._resolve, name="pika-getaddrinfo", daemon=True)
        worker.start()
        return self

    def cancel(self) -> bool:
        # Both cancel() and _report() run on the loop thread: no lock needed.
        if not self._pending:
            return False
        self._pending = False
        return True

    def _resolve(self) -> None:
        result: GetAddrInfoResult
        try:
            result = socket.getaddrinfo(*self._args)
        except Exception as exc:
            result = exc
        try:
            self._loop.add_callback(functools.partial(self._report, result))
        except Exception as exc:
            LOGGER.warning("Could not report getaddrinfo%r result to the loop: %r", self._args, exc)

    def _report(self, result: GetAddrInfoResult) -> None:
        if not self._pending:
            LOGGER.debug("getaddrinfo%r finished after cancel", self._args)
            return
        self._pending = False
        self._on_done(result)


class SelectorIOServicesAdapter(
    io_services_utils.SocketConnectionMixin,
    io_services_utils.StreamingConnectionMixin,
    AbstractFileDescriptorIOServices,
):
    """I/O services over an ``AbstractSelectorIOLoop``."""

    def __init__(self, native_loop: AbstractSelectorIOLoop) -> None:
        self._loop = native_loop
        self._watchers: dict[int, _FdWatchers] = {}

    def get_native_ioloop(self) -> Any:
        return self._loop

    def close(self) -> None:
        self._loop.close()

    def run(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        check_callback_arg(callback, "callback")
        self._loop.add_callback(callback)

    def call_later(self, delay: float, callback: Callable[[], Any]) -> AbstractTimerReference:
        check_callback_arg(callback, "callback")
        return _TimerHandle(self._loop, self._loop.call_later(delay, callback))

    def getaddrinfo(
        self,
        host: str | bytes | None,
        port: str | int | None,
        on_done: Callable[[GetAddrInfoResult], Any],
        family: int = 0,
        socktype: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> AbstractIOReference:
        check_callback_arg(on_done, "on_done")
        args = (host, port, family, socktype, proto, flags)
        return _AddressResolver(self._loop, args, on_done).start()

    def set_reader(self, fd: int, on_readable: Callable[[], Any]) -> None:
        check_fd_arg(fd)
        check_callback_arg(on_readable, "on_readable")
        self._set_watcher(fd, on_readable, is_reader=True)

    def remove_reader(self, fd: int) -> bool:
        check_fd_arg(fd)
        return self._remove_watcher(fd, is_reader=True)

    def set_writer(self, fd: int, on_writable: Callable[[], Any]) -> None:
        check_fd_arg(fd)
        check_callback_arg(on_writable, "on_writable")
        self._set_watcher(fd, on_writable, is_reader=False)

    def remove_writer(self, fd: int) -> bool:
        check_fd_arg(fd)
        return self._remove_watcher(fd, is_reader=False)

    def _mask(self, watchers: _FdWatchers) -> int:
        events = 0
        if watchers.reader is not None:
            events |= self._loop.READ
        if watchers.writer is not None:
            events |= self._loop.WRITE | self._loop.ERROR
        return events

    def _set_watcher(self, fd: int, callback: Callable[[], Any], is_reader: bool) -> None:
        watchers = self._watchers.get(fd)
        is_new = watchers is None
        if watchers is None:
            watchers = self._watchers[fd] = _FdWatchers()
        old_mask = self._mask(watchers)
        if is_reader:
            watchers.reader = callback
        else:
            watchers.writer = callback
        if is_new:
            self._loop.add_handler(fd, self._on_fd_events, self._mask(watchers))
        elif self._mask(watchers) != old_mask:
            self._loop.update_handler(fd, self._mask(watchers))

    def _remove_watcher(self, fd: int, is_reader: bool) -> bool:
        watchers = self._watchers.get(fd)
        if watchers is None or (watchers.reader if is_reader else watchers.writer) is None:
            return False
        if is_reader:
            watchers.reader = None
        else:
            watchers.writer = None
        if watchers.reader is None and watchers.writer is None:
            del self._watchers[fd]
            self._loop.remove_handler(fd)
        else:
            self._loop.update_handler(fd, self._mask(watchers))
        return True

    def _on_fd_events(self, fd: int, events: int) -> None:
        watchers = self._watchers.get(fd)
        if watchers is None:
            LOGGER.debug("Events %#x on fd %d that is no longer watched", events, fd)
            return
        loop = self._loop
        if watchers.writer is not None and events & (loop.WRITE | loop.ERROR):
            watchers.writer()
            # The writer may have removed or replaced the reader.
            watchers = self._watchers.get(fd)
            if watchers is None:
                return
        if watchers.reader is not None and events & (loop.READ | loop.ERROR):
            watchers.reader()
