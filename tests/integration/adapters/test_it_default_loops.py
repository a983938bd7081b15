"""Each adapter on its default loop, driven the way users drive it (API.md §15, §17, §18, §20).

The parametrised suite hands every connection a loop explicitly; these tests let the
adapter choose its loop and run it with the framework's own calls.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from pika import exceptions
from tests.support.adapter_driver import WAIT, Recorder, require_adapter

if TYPE_CHECKING:
    from tests.conftest import Broker


def closing_recorder(stop: Any) -> tuple[Recorder, dict[str, Any]]:
    """Callbacks that close the connection once open and call ``stop()`` when it is done."""
    rec = Recorder()
    callbacks = {
        "on_open_callback": rec.cb("open", lambda conn: conn.close()),
        "on_open_error_callback": rec.cb("open_error", lambda *_: stop()),
        "on_close_callback": rec.cb("close", lambda *_: stop()),
    }
    return rec, callbacks


def assert_opened_and_closed(rec: Recorder) -> None:
    assert rec.names() == ["open", "close"], rec.calls
    assert isinstance(rec.first("close")[1], exceptions.ConnectionClosedByClient)


# -- SelectConnection -----------------------------------------------------------------------


def test_select_creates_an_ioloop_per_connection(broker: Broker) -> None:
    cls = require_adapter("select")
    from pika.adapters.select_connection import IOLoop

    loops: list[Any] = []
    rec, callbacks = closing_recorder(lambda: loops[0].stop())
    conn = cls(broker.params(), **callbacks)
    other = cls(broker.params())
    loops.append(conn.ioloop)
    assert isinstance(conn.ioloop, IOLoop) and conn.ioloop is not other.ioloop
    other.close()  # aborted before its loop ever ran
    conn.ioloop.call_later(WAIT, conn.ioloop.stop)  # watchdog
    try:
        conn.ioloop.start()
    finally:
        conn.ioloop.close()
        other.ioloop.close()
    assert_opened_and_closed(rec)


def test_select_timer_exceptions_escape_ioloop_start(broker: Broker) -> None:
    cls = require_adapter("select")
    rec = Recorder()
    conn = cls(broker.params(), on_open_callback=rec.cb("open", lambda *_: explode()))
    loop = conn.ioloop

    def explode() -> None:
        loop.call_later(0, fail)

    def fail() -> None:
        raise RuntimeError("from a timer")

    watchdog = loop.call_later(WAIT, loop.stop)
    try:
        with pytest.raises(RuntimeError, match="from a timer"):
            loop.start()
        assert rec.names() == ["open"] and conn.is_open  # a timer failure leaves it alone
        conn.close()
        conn.add_on_close_callback(lambda *_: loop.stop())
        loop.start()
        assert conn.is_closed
    finally:
        loop.remove_timeout(watchdog)
        loop.close()


def test_select_stop_ioloop_on_close_and_the_ioloop_alias(broker: Broker) -> None:
    cls = require_adapter("select")
    from pika.adapters.select_connection import IOLoop

    loop = IOLoop()
    rec = Recorder()
    conn = cls(
        broker.params(),
        on_open_callback=rec.cb("open", lambda c: c.close()),
        on_close_callback=rec.cb("close"),
        ioloop=loop,
        stop_ioloop_on_close=True,
    )
    assert conn.ioloop is loop
    watchdog = loop.call_later(WAIT, loop.stop)
    loop.start()  # returns because the connection stops it once closed
    loop.remove_timeout(watchdog)
    assert_opened_and_closed(rec)
    loop.close()


# -- AsyncioConnection ----------------------------------------------------------------------


def test_asyncio_outside_a_coroutine_gets_a_new_loop(broker: Broker) -> None:
    cls = require_adapter("asyncio")
    loops: list[asyncio.AbstractEventLoop] = []
    rec, callbacks = closing_recorder(lambda: loops[0].stop())
    conn = cls(broker.params(), **callbacks)
    loop = conn.ioloop
    loops.append(loop)
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running()
        watchdog = loop.call_later(WAIT, loop.stop)
        loop.run_forever()
        watchdog.cancel()
    finally:
        loop.close()
    assert_opened_and_closed(rec)


async def _open_and_close_on_running_loop(cls: type[Any], broker: Broker) -> Recorder:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    rec, callbacks = closing_recorder(lambda: done.done() or done.set_result(None))
    conn = cls(broker.params(), **callbacks)
    assert conn.ioloop is loop
    await asyncio.wait_for(done, WAIT)
    return rec


def test_asyncio_inside_a_coroutine_uses_the_running_loop(broker: Broker) -> None:
    cls = require_adapter("asyncio")
    assert_opened_and_closed(asyncio.run(_open_and_close_on_running_loop(cls, broker)))


def test_uvloop_inside_a_coroutine_uses_the_running_loop(broker: Broker) -> None:
    cls = require_adapter("uvloop")
    import uvloop

    loop = uvloop.new_event_loop()
    try:
        rec = loop.run_until_complete(_open_and_close_on_running_loop(cls, broker))
    finally:
        loop.close()
    assert_opened_and_closed(rec)


# -- TornadoConnection ----------------------------------------------------------------------


def test_tornado_uses_the_current_ioloop(broker: Broker) -> None:
    cls = require_adapter("tornado")
    from tornado.ioloop import IOLoop

    async def main() -> Recorder:
        current = IOLoop.current()
        done = asyncio.get_running_loop().create_future()
        rec, callbacks = closing_recorder(lambda: done.done() or done.set_result(None))
        conn = cls(broker.params(), **callbacks)
        assert conn.ioloop is current
        await asyncio.wait_for(done, WAIT)
        return rec

    assert_opened_and_closed(asyncio.run(main()))


def test_tornado_legacy_keywords(broker: Broker) -> None:
    cls = require_adapter("tornado")
    from tornado.ioloop import IOLoop

    loop = IOLoop(make_current=False)
    rec = Recorder()
    conn = cls(
        broker.params(),
        on_connected_callback=rec.cb("open", lambda c: c.close()),  # pika 0.9 name (seed 004)
        on_close_callback=rec.cb("close"),
        ioloop=loop,  # seed 002 name of custom_ioloop
        stop_ioloop_on_close=True,  # pika 0.x keyword (seed 000)
    )
    assert conn.ioloop is loop
    watchdog = loop.call_later(WAIT, loop.stop)
    loop.start()
    loop.remove_timeout(watchdog)
    loop.close()
    assert_opened_and_closed(rec)


# -- GeventConnection -----------------------------------------------------------------------


def test_gevent_ioloop_start_blocks_until_stop(broker: Broker) -> None:
    cls = require_adapter("gevent")
    loops: list[Any] = []
    rec, callbacks = closing_recorder(lambda: loops[0].stop())
    conn = cls(broker.params(), **callbacks)
    loops.append(conn.ioloop)
    watchdog = conn.ioloop.call_later(WAIT, conn.ioloop.stop)
    conn.ioloop.start()
    conn.ioloop.remove_timeout(watchdog)
    assert_opened_and_closed(rec)


def test_gevent_progresses_while_the_application_yields_to_the_hub(broker: Broker) -> None:
    cls = require_adapter("gevent")
    import gevent.event

    finished = gevent.event.Event()
    rec, callbacks = closing_recorder(finished.set)
    cls(broker.params(), **callbacks)
    assert finished.wait(WAIT), "the connection made no progress while the hub ran"
    assert_opened_and_closed(rec)
