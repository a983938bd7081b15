"""Large messages and many channels on every adapter (API.md §3.7, §3.10, §30.42)."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

import pytest

from pika import exceptions
from tests.support.adapter_driver import AdapterDriver, Recorder

if TYPE_CHECKING:
    from tests.conftest import Broker

Opened = tuple[Any, Any]

LARGE = 50 * 1024 * 1024
CHANNELS = 2000


@pytest.mark.slow
def test_a_50_mb_message_round_trips(driver: AdapterDriver, opened: Opened, qname: str) -> None:
    conn, ch = opened
    frame_max = conn.params.frame_max
    driver.rpc(ch.queue_declare, qname, exclusive=True)
    rec = Recorder()
    ch.confirm_delivery(rec.cb("confirm"))
    ch.basic_consume(qname, rec.cb("deliver"), auto_ack=True)
    body = os.urandom(LARGE)
    sent_before = conn.frames_sent
    ch.basic_publish("", qname, body)
    driver.run_until(lambda: rec.has("deliver"), timeout=120, what="the 50 MB delivery")
    driver.run_until(lambda: rec.has("confirm"), what="its confirm")

    received = rec.first("deliver")[3]
    assert type(received) is bytes and len(received) == LARGE
    assert hashlib.sha256(received).digest() == hashlib.sha256(body).digest()
    body_frames = -(-LARGE // (frame_max - 8))
    assert conn.frames_sent - sent_before == 2 + body_frames  # method, header, bodies
    assert conn.frames_received >= 2 + body_frames
    assert rec.first("confirm")[0].method.delivery_tag == 1


@pytest.mark.slow
def test_2000_channels_open_and_close_on_one_connection(
    driver: AdapterDriver, broker: Broker
) -> None:
    conn, conn_rec = driver.open_connection(broker.params())
    assert conn.params.channel_max >= CHANNELS
    opened: list[Any] = []
    channels = [conn.channel(on_open_callback=opened.append) for _ in range(CHANNELS)]
    assert [ch.channel_number for ch in channels] == list(range(1, CHANNELS + 1))
    driver.run_until(lambda: len(opened) == CHANNELS, timeout=60, what="2000 channels to open")
    assert all(ch.is_open for ch in channels)

    closed = Recorder()
    for ch in channels:
        ch.add_on_close_callback(closed.cb("closed"))
        ch.close()
    driver.run_until(lambda: closed.has("closed", CHANNELS), timeout=60, what="2000 closes")
    reasons = [args[1] for args in closed.args("closed")]
    assert all(isinstance(r, exceptions.ChannelClosedByClient) for r in reasons)
    assert all(ch.is_closed for ch in channels)

    reused = driver.open_channel(conn)  # numbers were freed
    assert reused.channel_number == 1
    assert conn.is_open and conn_rec.names() == ["open"]
