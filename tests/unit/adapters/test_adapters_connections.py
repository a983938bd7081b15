"""Each callback-style adapter's loop glue, end to end over real sockets.

The peer is a scripted AMQP broker thread (pamqp codec), so the real connection
core runs; what is under test is the adapters: connect path and its error
mapping, stream events, timers, thread-safe callbacks, and loop control.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pika import exceptions
from pika.adapters.base_connection import BaseConnection
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.adapters.utils import connection_workflow as cw
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter
from pika.connection import ConnectionParameters, SSLOptions
from tests.unit.adapters.adapter_support import WAIT, amqp_broker, local_server, refused_port


class Driver:
    """How to build a connection on one adapter and run/stop its loop."""

    name = "select"

    def __init__(self) -> None:
        self.loop: Any = None

    def connect(self, params: ConnectionParameters, **kwargs: Any) -> BaseConnection:
        conn = SelectConnection(params, **kwargs)
        self.loop = conn.ioloop
        return conn

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        return self.loop.call_later(delay, callback)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def run(self) -> None:
        """Run until stop(); fail (after stopping) if that takes longer than WAIT."""
        expired: list[bool] = []
        guard = self.call_later(WAIT, lambda: (expired.append(True), self.stop()))
        try:
            self.start()
        finally:
            self.cancel(guard)
        assert not expired, f"{self.name} loop did not stop within {WAIT}s"

    def cancel(self, handle: Any) -> None:
        self.loop.remove_timeout(handle)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


class AsyncioDriver(Driver):
    name = "asyncio"

    def new_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()

    def connect(self, params: ConnectionParameters, **kwargs: Any) -> BaseConnection:
        from pika.adapters.asyncio_connection import AsyncioConnection

        if self.loop is None:
            self.loop = self.new_loop()
        return AsyncioConnection(params, custom_ioloop=self.loop, **kwargs)

    def start(self) -> None:
        self.loop.run_forever()

    def cancel(self, handle: Any) -> None:
        handle.cancel()


class UvloopDriver(AsyncioDriver):
    name = "uvloop"

    def new_loop(self) -> asyncio.AbstractEventLoop:
        uvloop = pytest.importorskip("uvloop")
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop


class TornadoDriver(Driver):
    name = "tornado"

    def connect(self, params: ConnectionParameters, **kwargs: Any) -> BaseConnection:
        tornado_ioloop = pytest.importorskip("tornado.ioloop")
        from pika.adapters.tornado_connection import TornadoConnection

        if self.loop is None:
            self.loop = tornado_ioloop.IOLoop(make_current=False)
        return TornadoConnection(params, custom_ioloop=self.loop, **kwargs)


class GeventDriver(Driver):
    name = "gevent"

    def connect(self, params: ConnectionParameters, **kwargs: Any) -> BaseConnection:
        pytest.importorskip("gevent")
        from pika.adapters.gevent_connection import GeventConnection

        conn = GeventConnection(params, **kwargs)
        if self.loop is None:
            self.loop = conn.ioloop
        return conn

    def close(self) -> None:
        """The hub is shared by the whole process: leave it running."""


DRIVERS = [Driver, AsyncioDriver, UvloopDriver, TornadoDriver, GeventDriver]


@pytest.fixture(params=DRIVERS, ids=lambda cls: cls.name)
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    instance: Driver = request.param()
    yield instance
    instance.close()


class Recorder:
    """The three user callbacks; each stops the loop."""

    def __init__(self, driver: Driver, close_on_open: bool = True) -> None:
        self.driver = driver
        self.close_on_open = close_on_open
        self.opened: list[BaseConnection] = []
        self.open_errors: list[BaseException] = []
        self.closed: list[BaseException] = []

    def kwargs(self) -> dict[str, Any]:
        return {
            "on_open_callback": self.on_open,
            "on_open_error_callback": self.on_open_error,
            "on_close_callback": self.on_close,
        }

    def on_open(self, conn: BaseConnection) -> None:
        self.opened.append(conn)
        if self.close_on_open:
            conn.close()

    def on_open_error(self, conn: BaseConnection, error: BaseException) -> None:
        self.open_errors.append(error)
        self.driver.stop()

    def on_close(self, conn: BaseConnection, error: BaseException) -> None:
        self.closed.append(error)
        self.driver.stop()


def local_params(port: int, **kwargs: Any) -> ConnectionParameters:
    return ConnectionParameters(host="127.0.0.1", port=port, **kwargs)


# -- every adapter ------------------------------------------------------------------------


def test_open_then_client_close(driver: Driver) -> None:
    recorder = Recorder(driver)
    with local_server(amqp_broker("open")) as server:
        conn = driver.connect(local_params(server.port), **recorder.kwargs())
        assert not (conn.is_open or conn.is_closing or conn.is_closed)
        driver.run()
    assert recorder.opened == [conn]
    assert len(recorder.closed) == 1
    assert isinstance(recorder.closed[0], exceptions.ConnectionClosedByClient)
    assert conn.is_closed and recorder.open_errors == []


def test_broker_drop_is_stream_lost_eof(driver: Driver) -> None:
    recorder = Recorder(driver, close_on_open=False)
    with local_server(amqp_broker("drop")) as server:
        driver.connect(local_params(server.port), **recorder.kwargs())
        driver.run()
    assert len(recorder.opened) == 1
    error = recorder.closed[0]
    assert isinstance(error, exceptions.StreamLostError)
    assert error.args[0] == "Transport indicated EOF"


def test_refused_port_reports_amqp_connection_error(driver: Driver) -> None:
    recorder = Recorder(driver)
    port = refused_port()
    driver.connect(local_params(port), **recorder.kwargs())
    driver.run()
    error = recorder.open_errors[0]
    assert type(error) is exceptions.AMQPConnectionError
    assert isinstance(error.args[0], cw.AMQPConnectionWorkflowFailed)
    assert isinstance(error.args[0].exceptions[-1], cw.AMQPConnectorSocketConnectError)
    assert (error.host, error.port) == ("127.0.0.1", port)
    assert recorder.closed == []


def test_auth_failure_is_reported_by_the_connection(driver: Driver) -> None:
    recorder = Recorder(driver)
    with local_server(amqp_broker("deny")) as server:
        driver.connect(local_params(server.port), **recorder.kwargs())
        driver.run()
    assert len(recorder.open_errors) == 1
    assert isinstance(recorder.open_errors[0], exceptions.ProbableAuthenticationError)


def test_stack_timeout_in_amqp_phase_aborts_with_320(driver: Driver) -> None:
    recorder = Recorder(driver)
    with local_server(amqp_broker("silent")) as server:
        driver.connect(local_params(server.port, stack_timeout=0.2), **recorder.kwargs())
        driver.run()
    error = recorder.open_errors[0]
    assert isinstance(error, exceptions.ConnectionOpenAborted)
    assert "320" in str(error) and "Timeout while setting up AMQP" in str(error)


def test_close_while_connecting_reports_open_aborted(driver: Driver) -> None:
    recorder = Recorder(driver)
    with local_server(amqp_broker("silent")) as server:
        conn = driver.connect(local_params(server.port), **recorder.kwargs())
        conn.close()  # before the connect step even ran
        assert conn.is_closing
        driver.run()
    assert len(recorder.open_errors) == 1
    assert isinstance(recorder.open_errors[0], exceptions.ConnectionOpenAborted)


def test_threadsafe_callback_and_legacy_timeouts(driver: Driver) -> None:
    recorder = Recorder(driver, close_on_open=False)
    fired: list[str] = []

    def on_open(conn: BaseConnection) -> None:
        recorder.on_open(conn)
        removed = conn.add_timeout(0, lambda: fired.append("removed"))
        conn.remove_timeout(removed)
        conn.add_timeout(0.01, lambda: fired.append("timer"))
        thread = threading.Thread(
            target=conn._adapter_add_callback_threadsafe,
            args=(lambda: (fired.append("threadsafe"), conn.close()),),
        )
        thread.start()
        thread.join(WAIT)

    with local_server(amqp_broker("open")) as server:
        kwargs = recorder.kwargs()
        kwargs["on_open_callback"] = on_open
        conn = driver.connect(local_params(server.port), **kwargs)
        driver.run()
    assert "threadsafe" in fired and "removed" not in fired
    assert isinstance(recorder.closed[0], exceptions.ConnectionClosedByClient)
    assert conn.is_closed


def test_stop_ioloop_on_close(driver: Driver) -> None:
    opened: list[BaseConnection] = []
    with local_server(amqp_broker("open")) as server:
        driver.connect(
            local_params(server.port),
            on_open_callback=lambda conn: (opened.append(conn), conn.close()),
            stop_ioloop_on_close=True,
        )
        driver.run()  # returns only because the adapter stopped the loop
    assert opened and opened[0].is_closed


def test_create_connection(driver: Driver) -> None:
    results: list[Any] = []

    def on_done(result: Any) -> None:
        results.append(result)
        if isinstance(result, BaseConnection):
            result.add_on_close_callback(lambda conn, error: driver.stop())
            result.close()
        else:
            driver.stop()

    with local_server(amqp_broker("open")) as server:
        probe = driver.connect(
            local_params(refused_port()), on_open_error_callback=lambda c, e: None
        )
        configs = [local_params(refused_port()), local_params(server.port)]
        workflow = type(probe).create_connection(configs, on_done, custom_ioloop=driver.loop)
        assert isinstance(workflow, cw.AMQPConnectionWorkflow)
        driver.run()
    assert len(results) == 1 and isinstance(results[0], type(probe))
    assert results[0].is_closed


# -- select-specific and BaseConnection details ------------------------------------------


def test_exception_in_a_frame_callback_becomes_stream_lost() -> None:
    driver = Driver()
    recorder = Recorder(driver, close_on_open=False)

    def on_open(conn: BaseConnection) -> None:
        recorder.on_open(conn)
        raise ZeroDivisionError("division by zero")

    with local_server(amqp_broker("open")) as server:
        kwargs = recorder.kwargs()
        kwargs["on_open_callback"] = on_open
        driver.connect(local_params(server.port), **kwargs)
        driver.run()
    driver.close()
    error = recorder.closed[0]
    assert isinstance(error, exceptions.StreamLostError)
    assert error.args[0] == "Stream connection lost: ZeroDivisionError('division by zero')"


def test_unhandled_open_error_escapes_the_loop() -> None:
    driver = Driver()
    driver.connect(local_params(refused_port()))
    try:
        with pytest.raises(exceptions.AMQPConnectionError):
            driver.run()
    finally:
        driver.close()


def test_dns_failure_error_class(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    driver = Driver()
    recorder = Recorder(driver)
    driver.connect(ConnectionParameters(host="nope.invalid"), **recorder.kwargs())
    driver.run()
    driver.close()
    error = recorder.open_errors[0]
    assert isinstance(error, cw.AMQPConnectionWorkflowFailed)
    assert isinstance(error, exceptions.AMQPConnectionError)


def test_tls_failure_is_the_raw_workflow_failure(
    server_ssl_context: ssl.SSLContext, client_ssl_context: ssl.SSLContext
) -> None:
    driver = Driver()
    recorder = Recorder(driver)
    options = SSLOptions(client_ssl_context, server_hostname="wrong.example")
    with local_server(amqp_broker("open"), ssl_context=server_ssl_context) as server:
        driver.connect(local_params(server.port, ssl_options=options), **recorder.kwargs())
        driver.run()
    driver.close()
    error = recorder.open_errors[0]
    assert type(error) is cw.AMQPConnectionWorkflowFailed
    assert isinstance(error.exceptions[-1], cw.AMQPConnectorTransportSetupError)


def test_tls_connection_opens(
    server_ssl_context: ssl.SSLContext, client_ssl_context: ssl.SSLContext
) -> None:
    driver = Driver()
    recorder = Recorder(driver)
    with local_server(amqp_broker("open"), ssl_context=server_ssl_context) as server:
        params = ConnectionParameters(
            host="localhost", port=server.port, ssl_options=SSLOptions(client_ssl_context)
        )
        driver.connect(params, **recorder.kwargs())
        driver.run()
    driver.close()
    assert len(recorder.opened) == 1
    assert isinstance(recorder.closed[0], exceptions.ConnectionClosedByClient)


def test_constructor_arguments(ioloop: IOLoop) -> None:
    with pytest.raises(ValueError, match="Expected instance of Parameters"):
        SelectConnection("amqp://guest:secret@localhost")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SelectConnection(custom_ioloop=ioloop, ioloop=ioloop)
    conn = SelectConnection(ioloop=ioloop, on_open_error_callback=lambda c, e: None)
    assert conn.ioloop is ioloop
    nbio = SelectorIOServicesAdapter(ioloop)
    conn2 = SelectConnection(custom_ioloop=nbio, on_open_error_callback=lambda c, e: None)
    assert conn2.ioloop is ioloop
    assert "transport=None" in repr(conn) and "INIT" in repr(conn)
    assert conn._get_write_buffer_size() == 0
    conn.close()
    conn2.close()
    ioloop.call_later(0.01, ioloop.stop)
    ioloop.start()
    assert conn.is_closed and conn2.is_closed


def test_default_select_connection_gets_its_own_ioloop() -> None:
    first = SelectConnection(on_open_error_callback=lambda c, e: None)
    second = SelectConnection(on_open_error_callback=lambda c, e: None)
    try:
        assert isinstance(first.ioloop, IOLoop) and first.ioloop is not second.ioloop
    finally:
        first.ioloop.close()
        second.ioloop.close()


def test_legacy_names() -> None:
    from pika.adapters import select_connection

    assert select_connection.AsyncoreConnection is SelectConnection


def test_tornado_on_connected_callback_alias() -> None:
    pytest.importorskip("tornado")
    from tornado.ioloop import IOLoop as TornadoIOLoop

    from pika.adapters.tornado_connection import TornadoConnection

    loop = TornadoIOLoop(make_current=False)
    try:
        with pytest.raises(TypeError):
            TornadoConnection(
                on_open_callback=print, on_connected_callback=print, custom_ioloop=loop
            )
        with pytest.raises(TypeError):
            TornadoConnection(custom_ioloop=loop, ioloop=loop)
        driver = TornadoDriver()
        driver.loop = loop
        opened: list[Any] = []
        with local_server(amqp_broker("open")) as server:
            TornadoConnection(
                local_params(server.port),
                on_connected_callback=lambda conn: (opened.append(conn), conn.close()),
                on_close_callback=lambda conn, error: loop.stop(),
                ioloop=loop,
            )
            driver.run()
        assert len(opened) == 1
    finally:
        loop.close()


def test_asyncio_uses_the_running_loop_and_loop_alias() -> None:
    from pika.adapters.asyncio_connection import AsyncioConnection

    async def build() -> tuple[Any, Any]:
        conn = AsyncioConnection(on_open_error_callback=lambda c, e: None)
        conn.close()
        return conn.ioloop, asyncio.get_running_loop()

    native, running = asyncio.run(build())
    assert native is running
    loop = asyncio.new_event_loop()
    try:
        conn = AsyncioConnection(loop=loop, on_open_error_callback=lambda c, e: None)
        assert conn.ioloop is loop
        with pytest.raises(TypeError):
            AsyncioConnection(loop=loop, custom_ioloop=loop)
        conn.close()
        loop.call_later(0.01, loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    outside = AsyncioConnection(on_open_error_callback=lambda c, e: None)
    try:
        assert isinstance(outside.ioloop, asyncio.AbstractEventLoop)
        assert not outside.ioloop.is_running()
    finally:
        outside.ioloop.close()


def test_gevent_progresses_while_the_app_only_sleeps() -> None:
    gevent = pytest.importorskip("gevent")
    from pika.adapters.gevent_connection import GeventConnection

    state: dict[str, Any] = {}
    with local_server(amqp_broker("open")) as server:
        conn = GeventConnection(
            local_params(server.port),
            on_open_callback=lambda c: state.setdefault("open", True),
            on_close_callback=lambda c, e: state.setdefault("closed", e),
        )
        for _ in range(int(WAIT / 0.01)):
            if "open" in state:
                break
            gevent.sleep(0.01)
        assert state.get("open")
        conn.close()
        for _ in range(int(WAIT / 0.01)):
            if "closed" in state:
                break
            gevent.sleep(0.01)
    assert isinstance(state["closed"], exceptions.ConnectionClosedByClient)


def test_optional_framework_import_errors_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import importlib
    import sys

    real_import = builtins.__import__

    def blocked(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("tornado", "gevent"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for module, extra in (
        ("pika.adapters.tornado_connection", "pika[tornado]"),
        ("pika.adapters.gevent_connection", "pika[gevent]"),
    ):
        saved = sys.modules.pop(module, None)
        monkeypatch.setattr(builtins, "__import__", blocked)
        try:
            with pytest.raises(
                ImportError, match=extra.replace("[", r"\[").replace("]", r"\]")
            ) as info:
                importlib.import_module(module)
            assert isinstance(info.value.__cause__, ImportError)
        finally:
            monkeypatch.setattr(builtins, "__import__", real_import)
            if saved is not None:
                sys.modules[module] = saved


def test_unhandled_amqp_failure_escapes_the_loop_and_leaves_nothing_behind() -> None:
    driver = Driver()
    try:
        with local_server(amqp_broker("deny")) as server:
            conn = driver.connect(local_params(server.port, stack_timeout=0.2))
            with pytest.raises(exceptions.ProbableAuthenticationError):
                driver.run()
        # The connector heard the failure before the default handler re-raised it,
        # so no workflow is left attached and no timer fires later.
        assert conn._connection_workflow is None
        driver.call_later(0.4, driver.stop)
        driver.run()
        assert conn._connection_workflow is None
    finally:
        driver.close()


def test_legacy_connect_reopens_a_closed_connection() -> None:
    driver = Driver()
    opened: list[BaseConnection] = []
    closed: list[BaseException] = []

    def on_close(conn: BaseConnection, error: BaseException) -> None:
        closed.append(error)
        if len(closed) == 1:
            conn.connect()
        else:
            driver.stop()

    with local_server(amqp_broker("open"), connections=2) as server:
        driver.connect(
            local_params(server.port),
            on_open_callback=lambda conn: (opened.append(conn), conn.close()),
            on_close_callback=on_close,
        )
        driver.run()
    driver.close()
    assert len(opened) == 2 and opened[0] is opened[1]
    assert all(isinstance(e, exceptions.ConnectionClosedByClient) for e in closed)


class _NeverConnects(SelectorIOServicesAdapter):
    """I/O services whose TCP connect never completes (as if SYNs were dropped)."""

    class _Ref:
        def cancel(self) -> bool:
            return True

    def connect_socket(self, sock: Any, resolved_addr: Any, on_done: Any) -> Any:
        return self._Ref()


def test_close_during_tcp_connect_reports_open_aborted(ioloop: IOLoop) -> None:
    errors: list[BaseException] = []
    conn = SelectConnection(
        local_params(1, socket_timeout=WAIT, stack_timeout=WAIT),
        on_open_error_callback=lambda c, e: (errors.append(e), ioloop.stop()),
        custom_ioloop=_NeverConnects(ioloop),
    )
    ioloop.call_later(0.05, conn.close)
    ioloop.call_later(WAIT, ioloop.stop)
    ioloop.start()
    assert len(errors) == 1 and isinstance(errors[0], exceptions.ConnectionOpenAborted)
    assert conn._connection_workflow is None


def test_close_during_tls_handshake_reports_open_aborted(
    client_ssl_context: ssl.SSLContext,
) -> None:
    driver = Driver()
    recorder = Recorder(driver)

    def silent(sock: socket.socket) -> None:
        while sock.recv(4096):  # swallows the ClientHello and never answers
            pass

    with local_server(silent) as server:
        params = ConnectionParameters(
            host="localhost", port=server.port, ssl_options=SSLOptions(client_ssl_context)
        )
        conn = driver.connect(params, **recorder.kwargs())
        driver.call_later(0.1, conn.close)
        driver.run()
    driver.close()
    assert len(recorder.open_errors) == 1
    assert isinstance(recorder.open_errors[0], exceptions.ConnectionOpenAborted)
