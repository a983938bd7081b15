"""One driver per asynchronous adapter, so the same scenario code runs on every loop.

A scenario builds connections with ``driver.connect(params, on_open=..., ...)``,
records what the callbacks report, and drives the loop with
``driver.run_until(predicate, timeout, what)``: the loop runs until the predicate
holds and fails the test if the bound expires first. ``call_later``,
``remove_timeout`` and ``add_callback_threadsafe`` map onto each framework's own
calls, the ones users make (``ioloop.call_later``, ``loop.call_soon_threadsafe``,
tornado's ``add_callback``...).

How ``run_until`` works: a checker timer on the loop itself evaluates the
predicate every few milliseconds and stops the loop when it holds or when the
deadline passes, so every wait is bounded and nothing sleeps on the test thread.
Exceptions raised by callbacks scheduled through the driver are recorded and
re-raised by ``run_until`` on every framework (asyncio, tornado and gevent would
otherwise only log them).

Every driver shares one native loop between its connections (passed as
``custom_ioloop``); the default-loop paths are tested separately.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
import importlib.util
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

LOG = logging.getLogger(__name__)

#: Adapter names, in the order the suite runs them.
ADAPTERS = ("select", "asyncio", "uvloop", "tornado", "gevent")

#: Default bound of one wait on the loop (seconds).
WAIT = 20.0
#: How often ``run_until`` evaluates its predicate (seconds).
TICK = 0.002

_MODULES = {
    "select": ("pika.adapters.select_connection", "SelectConnection", None),
    "asyncio": ("pika.adapters.asyncio_connection", "AsyncioConnection", None),
    "uvloop": ("pika.adapters.asyncio_connection", "AsyncioConnection", "uvloop"),
    "tornado": ("pika.adapters.tornado_connection", "TornadoConnection", "tornado"),
    "gevent": ("pika.adapters.gevent_connection", "GeventConnection", "gevent"),
}


class AdapterUnavailable(Exception):
    """The adapter cannot run here; ``framework_missing`` says whether that is a defect."""

    def __init__(self, reason: str, *, framework_missing: bool) -> None:
        super().__init__(reason)
        self.framework_missing = framework_missing


class LoopTimeout(AssertionError):
    """``run_until`` hit its bound before the predicate held."""


def in_ci() -> bool:
    """True under ``CI=true`` (where a missing framework must fail, not skip)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unique_name(prefix: str = "pika-it") -> str:
    """A queue/exchange name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Recorder:
    """Collects callback invocations in order: ``rec.cb('name')`` makes a callback."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def cb(self, name: str, then: Callable[..., Any] | None = None) -> Callable[..., None]:
        """A callback appending ``(name, args)``; ``then(*args)`` runs afterwards."""

        def record(*args: Any) -> None:
            self.calls.append((name, args))
            if then is not None:
                then(*args)

        record.__name__ = f"record_{name}"
        return record

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def args(self, name: str) -> list[tuple[Any, ...]]:
        """The argument tuples of every call named *name*."""
        return [args for n, args in self.calls if n == name]

    def first(self, name: str) -> tuple[Any, ...]:
        found = self.args(name)
        if not found:
            raise AssertionError(f"{name!r} was never called; calls: {self.names()}")
        return found[0]

    def has(self, name: str, count: int = 1) -> bool:
        return len(self.args(name)) >= count


class AdapterDriver(abc.ABC):
    """Runs scenarios on one adapter's loop; subclasses map the native calls."""

    name = ""

    def __init__(self, connection_class: type[Any]) -> None:
        self.connection_class = connection_class
        self.connections: list[Any] = []
        self._errors: list[BaseException] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- native loop mapping (per framework) ------------------------------------------

    @abc.abstractmethod
    def custom_ioloop(self) -> Any:
        """What the driver passes as ``custom_ioloop`` to connections."""

    @abc.abstractmethod
    def _run_loop(self) -> None:
        """Run the native loop until ``_stop_loop()``."""

    @abc.abstractmethod
    def _stop_loop(self) -> None:
        """Make ``_run_loop()`` return (called on the loop)."""

    @abc.abstractmethod
    def _native_call_later(self, delay: float, callback: Callable[[], Any]) -> Any: ...

    @abc.abstractmethod
    def _native_remove_timeout(self, handle: Any) -> None: ...

    @abc.abstractmethod
    def _native_threadsafe(self, callback: Callable[[], Any]) -> None: ...

    @abc.abstractmethod
    def _close_loop(self) -> None:
        """Release the native loop."""

    # -- scenario API ----------------------------------------------------------------------

    def connect(
        self,
        params: Any,
        *,
        on_open: Callable[..., Any] | None = None,
        on_open_error: Callable[..., Any] | None = None,
        on_close: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Build a connection on the driver's loop (it opens once the loop runs)."""
        kwargs.setdefault("custom_ioloop", self.custom_ioloop())
        conn = self.connection_class(
            params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=on_close,
            **kwargs,
        )
        self.connections.append(conn)
        return conn

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        """Run ``callback()`` on the loop after *delay*; exceptions fail ``run_until``."""
        return self._native_call_later(delay, self._guarded(callback))

    def remove_timeout(self, handle: Any) -> None:
        self._native_remove_timeout(handle)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the loop soon; callable from any thread."""
        self._native_threadsafe(self._guarded(callback))

    def stop(self) -> None:
        """Stop the loop now (from a callback); ``run_until`` then checks its predicate."""
        self._stop_loop()

    def run_until(
        self, predicate: Callable[[], bool], timeout: float = WAIT, what: str = "the condition"
    ) -> float:
        """Run the loop until ``predicate()``; return the seconds it took."""
        start = time.monotonic()
        deadline = start + timeout
        timed_out = self._run(predicate, deadline)
        self._raise_recorded()
        if timed_out and not predicate():
            raise LoopTimeout(f"{self.name}: timed out after {timeout:g} s waiting for {what}")
        return time.monotonic() - start

    def run_for(self, seconds: float) -> None:
        """Keep the loop running for *seconds* (to observe that something does NOT happen)."""
        self._run(lambda: False, time.monotonic() + seconds)
        self._raise_recorded()

    def open_connection(self, params: Any, **kwargs: Any) -> tuple[Any, Recorder]:
        """Connect and run until open; fail with the reported error otherwise."""
        rec = Recorder()
        conn = self.connect(
            params,
            on_open=rec.cb("open"),
            on_open_error=rec.cb("open_error"),
            on_close=rec.cb("close"),
            **kwargs,
        )
        self.run_until(lambda: bool(rec.calls), what="the connection to open")
        if not rec.has("open"):
            raise AssertionError(f"{self.name}: connection failed to open: {rec.calls}")
        return conn, rec

    def open_channel(self, conn: Any) -> Any:
        """Open a channel on *conn* and run until it is open."""
        opened: list[Any] = []
        channel = conn.channel(on_open_callback=opened.append)
        self.run_until(lambda: bool(opened) or channel.is_closed, what="the channel to open")
        if not opened:
            raise AssertionError(f"{self.name}: channel did not open: {channel!r}")
        return channel

    def rpc(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call a channel method with ``callback=`` and run until its reply frame arrives."""
        replies: list[Any] = []
        channel = getattr(method, "__self__", None)
        method(*args, callback=replies.append, **kwargs)
        closed = (lambda: channel.is_closed) if channel is not None else (lambda: False)
        self.run_until(lambda: bool(replies) or closed(), what=f"the reply to {method.__name__}")
        if not replies:
            raise AssertionError(f"{self.name}: channel closed before {method.__name__} replied")
        return replies[0]

    def shutdown(self, timeout: float = WAIT) -> None:
        """Close every connection still open (bounded), then release the loop."""
        if self._closed:
            return
        try:
            self._close_connections(timeout)
        finally:
            self._closed = True
            self._close_loop()

    # -- internals ---------------------------------------------------------------------------

    def _close_connections(self, timeout: float) -> None:
        for conn in self.connections:
            if not (conn.is_closed or conn.is_closing):
                try:
                    conn.close()
                except Exception as exc:  # already terminating: only waiting is left
                    LOG.debug("%s: close() during teardown: %r", self.name, exc)
        pending = [c for c in self.connections if not c.is_closed]
        if pending:
            self.run_until(
                lambda: all(c.is_closed for c in pending), timeout, "connections to close"
            )

    def _guarded(self, callback: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                callback()
            except BaseException as exc:
                LOG.exception("%s: scheduled callback %r failed", self.name, callback)
                self._errors.append(exc)
                self._stop_loop()

        return run

    def _raise_recorded(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            self._errors.clear()
            raise error

    def _run(self, predicate: Callable[[], bool], deadline: float) -> bool:
        """Run the loop until predicate or deadline; True if the deadline ended it."""
        # Looping guards against a stray stop() (one that came while the loop was not
        # running makes the next run return at once on every framework).
        while not predicate():
            if time.monotonic() >= deadline:
                return True
            if self._run_once(predicate, deadline) or self._errors:
                return not self._errors
        return False

    def _run_once(self, predicate: Callable[[], bool], deadline: float) -> bool:
        """One run of the native loop, stopped by predicate, deadline, error or stop()."""
        state = {"timed_out": False, "handle": None}

        def check() -> None:
            state["handle"] = None
            if predicate() or self._errors:
                self._stop_loop()
            elif time.monotonic() >= deadline:
                state["timed_out"] = True
                self._stop_loop()
            else:
                state["handle"] = self._native_call_later(TICK, guarded_check)

        guarded_check = self._guarded(check)  # a failing predicate fails run_until
        state["handle"] = self._native_call_later(0, guarded_check)
        try:
            self._run_loop()
        finally:
            if state["handle"] is not None:
                self._native_remove_timeout(state["handle"])
        return bool(state["timed_out"])


class SelectDriver(AdapterDriver):
    """pika's own IOLoop."""

    name = "select"

    def __init__(self, connection_class: type[Any]) -> None:
        super().__init__(connection_class)
        from pika.adapters.select_connection import IOLoop

        self.loop = IOLoop()

    def custom_ioloop(self) -> Any:
        return self.loop

    def _run_loop(self) -> None:
        self.loop.start()

    def _stop_loop(self) -> None:
        self.loop.stop()

    def _native_call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        return self.loop.call_later(delay, callback)

    def _native_remove_timeout(self, handle: Any) -> None:
        self.loop.remove_timeout(handle)

    def _native_threadsafe(self, callback: Callable[[], Any]) -> None:
        self.loop.add_callback_threadsafe(callback)

    def _close_loop(self) -> None:
        self.loop.close()


class AsyncioDriver(AdapterDriver):
    """An asyncio event loop (the standard one, or uvloop's)."""

    name = "asyncio"

    def __init__(self, connection_class: type[Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(connection_class)
        self.loop = loop
        loop.set_exception_handler(self._on_loop_exception)

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Errors escaping plain callbacks would otherwise only be logged by asyncio.
        loop.default_exception_handler(context)
        error = context.get("exception")
        self._errors.append(error or AssertionError(context.get("message", "asyncio error")))
        loop.stop()

    def custom_ioloop(self) -> Any:
        return self.loop

    def _run_loop(self) -> None:
        self.loop.run_forever()

    def _stop_loop(self) -> None:
        self.loop.stop()

    def _native_call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        return self.loop.call_later(delay, callback)

    def _native_remove_timeout(self, handle: Any) -> None:
        handle.cancel()

    def _native_threadsafe(self, callback: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(callback)

    def _close_loop(self) -> None:
        self.loop.close()


class UvloopDriver(AsyncioDriver):
    name = "uvloop"


class TornadoDriver(AdapterDriver):
    """A fresh tornado IOLoop, not made current (so no implicit asyncio loop is left over)."""

    name = "tornado"

    def __init__(self, connection_class: type[Any]) -> None:
        super().__init__(connection_class)
        from tornado.ioloop import IOLoop

        self.loop = IOLoop(make_current=False)
        # Tornado catches exceptions escaping callbacks and logs them; record them too.
        self._handler = _RecordErrors(self)
        logging.getLogger("tornado.application").addHandler(self._handler)

    def custom_ioloop(self) -> Any:
        return self.loop

    def _run_loop(self) -> None:
        self.loop.start()

    def _stop_loop(self) -> None:
        self.loop.stop()

    def _native_call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        return self.loop.call_later(delay, callback)

    def _native_remove_timeout(self, handle: Any) -> None:
        self.loop.remove_timeout(handle)

    def _native_threadsafe(self, callback: Callable[[], Any]) -> None:
        self.loop.add_callback(callback)

    def _close_loop(self) -> None:
        logging.getLogger("tornado.application").removeHandler(self._handler)
        self.loop.close(all_fds=False)


class _RecordErrors(logging.Handler):
    """Turns ERROR records carrying an exception into a failure of ``run_until``."""

    def __init__(self, driver: AdapterDriver) -> None:
        super().__init__(logging.ERROR)
        self._driver = driver

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self._driver._errors.append(record.exc_info[1])
            self._driver._stop_loop()


class GeventDriver(AdapterDriver):
    """gevent's hub, through the adapter's selector-loop wrapper (``conn.ioloop``)."""

    name = "gevent"

    def __init__(self, connection_class: type[Any]) -> None:
        super().__init__(connection_class)
        import gevent

        from pika.adapters.gevent_connection import _GeventSelectorIOLoop

        self.hub = gevent.get_hub()
        self.loop = _GeventSelectorIOLoop(self.hub)
        # The hub prints exceptions escaping callbacks and carries on; record them too.
        self.hub.handle_error = self._on_hub_error

    def _on_hub_error(self, context: Any, kind: Any, value: Any, tb: Any) -> None:
        type(self.hub).handle_error(self.hub, context, kind, value, tb)
        # The threadpool reports errors it also hands back to the caller (e.g. a DNS
        # failure of gevent's resolver): those are not lost, so they are not failures.
        handed_back = (
            isinstance(context, tuple)
            and bool(context)
            and type(context[0]).__module__ == "gevent.threadpool"
        )
        if isinstance(value, BaseException) and not handed_back:
            self._errors.append(value)
            self._stop_loop()

    def custom_ioloop(self) -> Any:
        return self.loop

    def _run_loop(self) -> None:
        self.loop.start()

    def _stop_loop(self) -> None:
        self.loop.stop()

    def _native_call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        return self.loop.call_later(delay, callback)

    def _native_remove_timeout(self, handle: Any) -> None:
        self.loop.remove_timeout(handle)

    def _native_threadsafe(self, callback: Callable[[], Any]) -> None:
        self.loop.add_callback(callback)

    def _close_loop(self) -> None:
        del self.hub.handle_error  # back to the class's handler
        self.loop.close()


def load_connection_class(adapter: str) -> type[Any]:
    """Import the adapter's connection class, or raise AdapterUnavailable saying why."""
    module_name, class_name, framework = _MODULES[adapter]
    if importlib.util.find_spec(module_name) is None:
        raise AdapterUnavailable(f"{module_name} does not exist yet", framework_missing=False)
    if framework is not None and importlib.util.find_spec(framework) is None:
        raise AdapterUnavailable(
            f"{framework} is not installed (pip install 'pika[{framework}]')",
            framework_missing=True,
        )
    module = importlib.import_module(module_name)
    cls: type[Any] = getattr(module, class_name)
    return cls


def make_driver(adapter: str) -> AdapterDriver:
    """A driver for *adapter* with a fresh loop."""
    cls = load_connection_class(adapter)
    if adapter == "select":
        return SelectDriver(cls)
    if adapter == "asyncio":
        return AsyncioDriver(cls, asyncio.new_event_loop())
    if adapter == "uvloop":
        import uvloop

        return UvloopDriver(cls, uvloop.new_event_loop())
    if adapter == "tornado":
        return TornadoDriver(cls)
    if adapter == "gevent":
        return GeventDriver(cls)
    raise ValueError(f"unknown adapter {adapter!r}; expected one of {ADAPTERS}")


def require_adapter(adapter: str) -> type[Any]:
    """The adapter's connection class; skip if it does not exist yet, fail in CI if its
    framework is missing (skip outside CI)."""
    import pytest

    try:
        return load_connection_class(adapter)
    except AdapterUnavailable as exc:
        if exc.framework_missing and in_ci():
            pytest.fail(f"CI=true but {adapter} cannot run: {exc}", pytrace=False)
        pytest.skip(f"{adapter}: {exc}")


def driver_fixture(adapter: str) -> Iterator[AdapterDriver]:
    """Body of the ``driver`` fixtures: a driver for *adapter*, shut down afterwards."""
    require_adapter(adapter)
    driver = make_driver(adapter)
    try:
        yield driver
    finally:
        driver.shutdown()


def in_thread(target: Callable[[], Any], name: str = "adapter-test-helper") -> threading.Thread:
    """Start a daemon thread running *target* (joined by the caller with a timeout)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
