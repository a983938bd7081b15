"""``GeventConnection``: the callback-style connection on gevent's hub.

All I/O, timers and callbacks are hub watchers, so the connection makes progress
whenever the application yields to the hub (``gevent.sleep``), with or without
``conn.ioloop.start()``; ``start()`` merely blocks the calling greenlet until
``stop()``. Name resolution runs in a greenlet.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

try:
    import gevent
    import gevent.event
    import gevent.socket
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "GeventConnection needs gevent, which is not installed: pip install 'pika[gevent]'"
    ) from _exc

from pika import connection
from pika.adapters.base_connection import BaseConnection, check_parameters
from pika.adapters.utils.io_services_utils import check_callback_arg
from pika.adapters.utils.nbio_interface import (
    AbstractIOReference,
    AbstractIOServices,
    GetAddrInfoResult,
)
from pika.adapters.utils.selector_ioloop_adapter import (
    AbstractSelectorIOLoop,
    SelectorIOServicesAdapter,
)

__all__ = ["GeventConnection"]

LOGGER = logging.getLogger(__name__)


class GeventConnection(BaseConnection):
    """Asynchronous connection cooperating with gevent's hub."""

    def __init__(
        self,
        parameters: connection.Parameters | None = None,
        on_open_callback: Callable[..., Any] | None = None,
        on_open_error_callback: Callable[..., Any] | None = None,
        on_close_callback: Callable[..., Any] | None = None,
        custom_ioloop: Any = None,
        internal_connection_workflow: bool = True,
        *,
        stop_ioloop_on_close: bool = False,
    ) -> None:
        check_parameters(parameters)
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            self._io_services_for(custom_ioloop),
            internal_connection_workflow,
            stop_ioloop_on_close=stop_ioloop_on_close,
        )

    @staticmethod
    def _io_services_for(loop: Any) -> AbstractIOServices:
        if isinstance(loop, AbstractIOServices):
            return loop
        native = loop if loop is not None else _GeventSelectorIOLoop(gevent.get_hub())
        return _GeventSelectorIOServicesAdapter(native)


class _GeventSelectorIOLoop(AbstractSelectorIOLoop):
    """The selector-loop protocol implemented with gevent hub watchers."""

    # libev's bits; libev reports error conditions as readiness.
    READ = 1
    WRITE = 2
    ERROR = 0

    def __init__(self, gevent_hub: Any = None) -> None:
        self._hub = gevent_hub if gevent_hub is not None else gevent.get_hub()
        self._loop = self._hub.loop
        self._thread_id = threading.get_ident()
        # fd -> (libev io watcher, handler)
        self._io_watchers: dict[int, tuple[Any, Callable[[int, int], Any]]] = {}
        self._stopped = gevent.event.Event()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} hub={self._hub!r}>"

    def close(self) -> None:
        """Release the I/O watchers (the hub itself is left alone)."""
        for watcher, _ in self._io_watchers.values():
            watcher.close()
        self._io_watchers.clear()

    def start(self) -> None:
        """Block the calling greenlet until ``stop()``; other greenlets keep running."""
        self._stopped.wait()
        self._stopped.clear()

    def stop(self) -> None:
        """Release ``start()`` (or make the next one return at once)."""
        self._stopped.set()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        check_callback_arg(callback, "callback")
        timer = self._loop.timer(delay)
        timer.start(callback)
        return timer

    def remove_timeout(self, timeout_handle: Any) -> None:
        timeout_handle.close()

    def add_callback(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` in the hub soon; safe from any thread."""
        check_callback_arg(callback, "callback")
        if threading.get_ident() == self._thread_id:
            self._loop.run_callback(callback)
        else:
            self._loop.run_callback_threadsafe(callback)

    def add_handler(self, fd: int, handler: Callable[[int, int], Any], events: int) -> None:
        if fd in self._io_watchers:
            raise ValueError(f"fd {fd} is already registered; use update_handler()")
        self._watch(fd, handler, events)

    def update_handler(self, fd: int, events: int) -> None:
        # libev cannot change an active watcher's events: replace the watcher.
        watcher, handler = self._io_watchers.pop(fd)
        watcher.close()
        self._watch(fd, handler, events)

    def remove_handler(self, fd: int) -> None:
        entry = self._io_watchers.pop(fd, None)
        if entry is not None:
            entry[0].close()

    def _watch(self, fd: int, handler: Callable[[int, int], Any], events: int) -> None:
        watcher = self._loop.io(fd, events)
        watcher.start(self._on_io, fd, handler, pass_events=True)
        self._io_watchers[fd] = (watcher, handler)

    @staticmethod
    def _on_io(events: int, fd: int, handler: Callable[[int, int], Any]) -> None:
        handler(fd, events)


class _GeventAddressResolver(AbstractIOReference):
    """Resolves in a greenlet and reports from a hub callback."""

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
        self._greenlet: Any = None

    def start(self) -> AbstractIOReference:
        self._greenlet = gevent.spawn(self._resolve)
        return self

    def cancel(self) -> bool:
        if not self._pending:
            return False
        self._pending = False
        self._greenlet.kill(block=False)
        return True

    def _resolve(self) -> None:
        result: GetAddrInfoResult
        try:
            result = gevent.socket.getaddrinfo(*self._args)
        except Exception as exc:
            result = exc
        self._loop.add_callback(functools.partial(self._report, result))

    def _report(self, result: GetAddrInfoResult) -> None:
        if self._pending:
            self._pending = False
            self._on_done(result)


class _GeventSelectorIOServicesAdapter(SelectorIOServicesAdapter):
    """Selector I/O services with gevent-native name resolution."""

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
        return _GeventAddressResolver(self._loop, args, on_done).start()
