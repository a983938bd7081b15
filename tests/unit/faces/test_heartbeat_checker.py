"""pika.heartbeat.HeartbeatChecker, the compatibility class (connections do not use it)."""

from __future__ import annotations

import pytest

from pika import exceptions
from pika.heartbeat import HeartbeatChecker
from tests.unit.faces.test_callback_faces import opened


def test_rejects_timeouts_below_one_second() -> None:
    with pytest.raises(ValueError):
        HeartbeatChecker(opened(), 0)


def test_sends_heartbeats_and_tears_down_when_idle() -> None:
    conn = opened()
    closed: list[Exception] = []
    conn.add_on_close_callback(lambda c, e: closed.append(e))
    checker = HeartbeatChecker(conn, 10)
    send, check = sorted(conn.timers[-2:], key=lambda t: t[0])
    assert (send[0], check[0]) == (5.0, 15)
    conn.timers.remove(send)
    send[1]()
    assert conn.written[-1] == b"\x08\x00\x00\x00\x00\x00\x00\xce"
    assert not checker.connection_is_idle
    conn.timers.remove(check)
    check[1]()  # no byte arrived since the checker started
    assert checker.connection_is_idle
    assert conn.disconnects == 1
    conn._on_stream_terminated(None)
    [error] = closed
    assert isinstance(error, exceptions.AMQPHeartbeatTimeout)


def test_traffic_keeps_it_alive_and_stop_cancels() -> None:
    conn = opened()
    checker = HeartbeatChecker(conn, 2)
    check = max(conn.timers[-2:], key=lambda t: t[0])
    conn._on_data_available(b"\x08\x00\x00\x00\x00\x00\x00\xce")
    checker.received()
    conn.timers.remove(check)
    check[1]()
    assert not checker.connection_is_idle and conn.disconnects == 0
    checker.stop()
    assert all(t[1].__self__ is not checker for t in conn.timers if hasattr(t[1], "__self__"))
