"""Faults caused by the peer: the engine closes cleanly and never raises."""

from __future__ import annotations

import struct

from pamqp import commands as pc

from pika import exceptions, spec
from pika._engine import events as ev
from tests.support.scripted_broker import ScriptedBroker, make_engine, types


def opened() -> ScriptedBroker:
    broker = ScriptedBroker(make_engine())
    broker.open_connection()
    return broker


def expect_close(broker: ScriptedBroker, events: list[ev.Event], code: int) -> Exception:
    assert types(events) == [ev.TransportCloseRequested]
    [(channel, close)] = broker.received()
    assert channel == 0 and isinstance(close, pc.Connection.Close)
    assert close.reply_code == code
    error = events[0].error  # type: ignore[union-attr]
    assert isinstance(error, exceptions.StreamLostError)
    assert broker.engine.receive_data(b"\x01\x00") == []  # further input is ignored
    return error


def test_bad_frame_end_is_frame_error() -> None:
    broker = opened()
    data = bytearray(broker.encode(0, pc.Connection.Blocked(reason="x")))
    data[-1] = 0x00
    error = expect_close(broker, broker.feed(bytes(data)), spec.FRAME_ERROR)
    assert error.__cause__ is not None


def test_unknown_frame_type_is_frame_error() -> None:
    broker = opened()
    events = broker.feed(struct.pack(">BHI", 9, 0, 0) + b"\xce")
    expect_close(broker, events, spec.FRAME_ERROR)


def test_oversized_frame_rejected_at_the_header() -> None:
    broker = opened()
    events = broker.feed(struct.pack(">BHI", 1, 0, 0x7FFFFFFF))
    expect_close(broker, events, spec.FRAME_ERROR)


def test_frame_for_unknown_channel_is_channel_error() -> None:
    broker = opened()
    events = broker.send(9, pc.Basic.QosOk())
    expect_close(broker, events, spec.CHANNEL_ERROR)


def test_unexpected_reply_is_unexpected_frame() -> None:
    broker = opened()
    number = broker.open_channel()
    events = broker.send(number, pc.Queue.DeclareOk(queue="q", message_count=0, consumer_count=0))
    expect_close(broker, events, spec.UNEXPECTED_FRAME)


def test_connection_method_in_wrong_state_is_command_invalid() -> None:
    broker = opened()
    events = broker.send(0, pc.Connection.Tune(channel_max=0, frame_max=0, heartbeat=0))
    expect_close(broker, events, spec.COMMAND_INVALID)


def test_body_longer_than_declared() -> None:
    broker = opened()
    channel = broker.engine.channel(broker.open_channel())
    tag = channel.consume("q", "t", True, False, None, object(), None)
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    broker.received()
    from pamqp import body as pbody
    from pamqp import header as pheader

    deliver = pc.Basic.Deliver(consumer_tag=tag, delivery_tag=1, exchange="", routing_key="q")
    events = broker.send(
        channel.number,
        deliver,
        pheader.ContentHeader(0, 3, pc.Basic.Properties()),
        pbody.ContentBody(b"abcdef"),
    )
    expect_close(broker, events, spec.UNEXPECTED_FRAME)


def test_method_in_the_middle_of_content() -> None:
    broker = opened()
    channel = broker.engine.channel(broker.open_channel())
    deliver = pc.Basic.Deliver(consumer_tag="t", delivery_tag=1, exchange="", routing_key="q")
    events = broker.send(channel.number, deliver, pc.Basic.QosOk())
    expect_close(broker, events, spec.UNEXPECTED_FRAME)


def test_random_garbage_never_raises() -> None:
    import random

    rng = random.Random(1234)
    for _ in range(300):
        broker = opened()
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        events = broker.feed(garbage)
        assert all(isinstance(e, ev.TransportCloseRequested) for e in events)
