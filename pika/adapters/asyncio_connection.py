"""``AsyncioConnection``: the callback-style connection on an asyncio event loop.

Callbacks are plain functions (not coroutines), exactly as with SelectConnection.
Any loop offering ``add_reader``/``add_writer`` works, uvloop included.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from pika import connection
from pika.adapters.base_connection import (
    BaseConnection,
    check_parameters,
    resolve_loop_alias,
)
from pika.adapters.utils import io_services_utils
from pika.adapters.utils.io_services_utils import check_callback_arg, check_fd_arg
from pika.adapters.utils.nbio_interface import (
    AbstractFileDescriptorIOServices,
    AbstractIOReference,
    AbstractIOServices,
    AbstractTimerReference,
    GetAddrInfoResult,
)

__all__ = ["AsyncioConnection"]

LOGGER = logging.getLogger(__name__)


class AsyncioConnection(BaseConnection):
    """Asynchronous connection on an asyncio loop.

    By default it uses the running loop (when built inside a coroutine), else a new
    loop that is not installed as the current one; run it with
    ``conn.ioloop.run_forever()``. ``loop=`` is an alias of ``custom_ioloop``.
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
        loop: Any = None,
        stop_ioloop_on_close: bool = False,
    ) -> None:
        check_parameters(parameters)  # before building a loop that would leak
        native = resolve_loop_alias(custom_ioloop, loop, "loop")
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            on_close_callback,
            self._io_services_for(native),
            internal_connection_workflow,
            stop_ioloop_on_close=stop_ioloop_on_close,
        )

    @staticmethod
    def _io_services_for(loop: Any) -> AbstractIOServices:
        if isinstance(loop, AbstractIOServices):
            return loop
        return _AsyncioIOServicesAdapter(loop)


def _default_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.new_event_loop()


class _AsyncioTimerHandle(AbstractTimerReference):
    def __init__(self, handle: asyncio.TimerHandle) -> None:
        self._handle = handle

    def cancel(self) -> None:
        self._handle.cancel()


class _AsyncioIOReference(AbstractIOReference):
    """Wraps the future of an asyncio operation; reports unless cancelled."""

    def __init__(
        self, future: asyncio.Future[Any], on_done: Callable[[GetAddrInfoResult], Any]
    ) -> None:
        self._future = future
        self._on_done = on_done
        future.add_done_callback(self._report)

    def cancel(self) -> bool:
        return self._future.cancel()

    def _report(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        self._on_done(error if error is not None else future.result())


class _AsyncioIOServicesAdapter(
    io_services_utils.SocketConnectionMixin,
    io_services_utils.StreamingConnectionMixin,
    AbstractFileDescriptorIOServices,
):
    """I/O services over an asyncio event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        loop = loop if loop is not None else _default_loop()
        if sys.platform == "win32" and not isinstance(loop, asyncio.SelectorEventLoop):
            raise TypeError(
                "AsyncioConnection needs a SelectorEventLoop on Windows (it uses add_reader)"
            )
        self._loop = loop

    def get_native_ioloop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def close(self) -> None:
        self._loop.close()

    def run(self) -> None:
        self._loop.run_forever()

    def stop(self) -> None:
        self._loop.stop()

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        check_callback_arg(callback, "callback")
        self._loop.call_soon_threadsafe(callback)

    def call_later(self, delay: float, callback: Callable[[], Any]) -> AbstractTimerReference:
        check_callback_arg(callback, "callback")
        return _AsyncioTimerHandle(self._loop.call_later(delay, callback))

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
        coro = self._loop.getaddrinfo(
            host, port, family=family, type=socktype, proto=proto, flags=flags
        )
        return _AsyncioIOReference(self._loop.create_task(coro), on_done)

    def set_reader(self, fd: int, on_readable: Callable[[], Any]) -> None:
        check_fd_arg(fd)
        check_callback_arg(on_readable, "on_readable")
        self._loop.add_reader(fd, on_readable)

    def remove_reader(self, fd: int) -> bool:
        check_fd_arg(fd)
        return self._loop.remove_reader(fd)

    def set_writer(self, fd: int, on_writable: Callable[[], Any]) -> None:
        check_fd_arg(fd)
        check_callback_arg(on_writable, "on_writable")
        self._loop.add_writer(fd, on_writable)

    def remove_writer(self, fd: int) -> bool:
        check_fd_arg(fd)
        return self._loop.remove_writer(fd)
