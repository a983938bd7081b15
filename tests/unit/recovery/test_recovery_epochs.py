"""Delivery- and confirm-tag epochs across a recovered channel, through bytes."""

from __future__ import annotations

import logging

import pytest
from pamqp import commands as pc

from pika import exceptions, spec
from pika._engine import events as ev
from pika._engine.channel import ChannelMachine
from pika._engine.confirms import ConfirmTracker
from pika._engine.ledger import TopologyLedger
from tests.support.scripted_broker import ScriptedBroker, make_engine, types

CHUNKS = [None, 1]


def connect(ledger: TopologyLedger | None, chunk: int | None) -> ScriptedBroker:
    engine = make_engine()
    engine.ledger = ledger
    broker = ScriptedBroker(engine, chunk)
    broker.open_connection()
    return broker


def deliver(broker: ScriptedBroker, channel: int, tag: int, ctag: str = "c") -> ev.DeliveryReceived:
    method = pc.Basic.Deliver(consumer_tag=ctag, delivery_tag=tag, exchange="", routing_key="q")
    [event] = broker.send_content(channel, method, b"m")
    assert isinstance(event, ev.DeliveryReceived)
    return event


def confirm_and_consume(broker: ScriptedBroker, channel: ChannelMachine) -> None:
    channel.call(spec.Confirm.Select(), None, nowait=False)
    broker.received()
    broker.send(channel.number, pc.Confirm.SelectOk())
    channel.consume("q", "c", False, False, None, object(), None)
    broker.received()
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag="c"))


def wire_acks(broker: ScriptedBroker) -> list[tuple[str, int, bool]]:
    return [
        (type(v).__name__, v.delivery_tag, getattr(v, "multiple", False))
        for _, v in broker.received()
    ]


def first_epoch(chunk: int | None) -> tuple[ScriptedBroker, ChannelMachine, list[ev.Event]]:
    """Three deliveries and three publishes (one acked), then the connection drops."""
    broker = connect(TopologyLedger(), chunk)
    channel = broker.engine.channel(broker.open_channel())
    confirm_and_consume(broker, channel)
    assert [deliver(broker, channel.number, t).method.delivery_tag for t in (1, 2, 3)] == [1, 2, 3]
    assert [channel.publish("", "q", b"p", None, False) for _ in range(3)] == [1, 2, 3]
    broker.received()
    broker.send(channel.number, pc.Basic.Ack(delivery_tag=1))
    lost = broker.engine.connection_lost(exceptions.StreamLostError("reset"))
    return broker, channel, lost


def second_epoch(
    old: ChannelMachine, ledger: TopologyLedger, chunk: int | None
) -> tuple[ScriptedBroker, ChannelMachine]:
    broker = connect(ledger, chunk)
    channel = broker.engine.reopen_channel(old)
    assert channel.number == old.number
    broker.received()
    broker.send(channel.number, pc.Channel.OpenOk())
    confirm_and_consume(broker, channel)
    return broker, channel


@pytest.mark.parametrize("chunk", CHUNKS, ids=["whole", "bytewise"])
def test_drop_reports_unsettled_publishes_as_outcome_unknown(chunk: int | None) -> None:
    _, channel, lost = first_epoch(chunk)
    assert types(lost) == [ev.PublishOutcomeUnknown, ev.ChannelClosed, ev.ConnectionTerminated]
    assert lost[0] == ev.PublishOutcomeUnknown(channel.number, 2, 3)


@pytest.mark.parametrize("chunk", CHUNKS, ids=["whole", "bytewise"])
def test_tags_continue_and_stale_acks_are_dropped(
    chunk: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    old_broker, old, _ = first_epoch(chunk)
    assert old_broker.engine.ledger is not None
    broker, channel = second_epoch(old, old_broker.engine.ledger, chunk)
    assert deliver(broker, channel.number, 1).method.delivery_tag == 4
    assert deliver(broker, channel.number, 2).method.delivery_tag == 5
    with caplog.at_level(logging.WARNING, logger="pika.channel"):
        channel.send(spec.Basic.Ack(delivery_tag=2))
        channel.send(spec.Basic.Nack(delivery_tag=3, multiple=True))
        channel.send(spec.Basic.Reject(delivery_tag=1))
    assert wire_acks(broker) == []  # nothing stale reaches the wire
    assert caplog.text.count("before the connection was recovered") == 3
    assert "Basic.Nack for delivery tag 3 on channel 1" in caplog.text
    channel.send(spec.Basic.Ack(delivery_tag=4))
    channel.send(spec.Basic.Nack(delivery_tag=5, multiple=True))
    channel.send(spec.Basic.Ack(delivery_tag=0, multiple=True))
    assert wire_acks(broker) == [("Ack", 1, False), ("Nack", 2, True), ("Ack", 0, True)]


@pytest.mark.parametrize("chunk", CHUNKS, ids=["whole", "bytewise"])
def test_confirm_tags_continue_after_recovery(chunk: int | None) -> None:
    old_broker, old, _ = first_epoch(chunk)
    assert old_broker.engine.ledger is not None
    broker, channel = second_epoch(old, old_broker.engine.ledger, chunk)
    assert [channel.publish("", "q", b"p", None, False) for _ in range(3)] == [4, 5, 6]
    broker.received()
    [first] = broker.send(channel.number, pc.Basic.Ack(delivery_tag=2, multiple=True))
    assert isinstance(first, ev.PublishConfirmed) and (first.first_tag, first.last_tag) == (4, 5)
    assert first.frame.method.delivery_tag == 5  # the application's numbering, not the wire's
    [nack] = broker.send(channel.number, pc.Basic.Nack(delivery_tag=3))
    assert isinstance(nack, ev.PublishConfirmed) and (nack.first_tag, nack.acked) == (6, False)
    assert channel.confirms.unsettled() == 0


@pytest.mark.parametrize("chunk", CHUNKS, ids=["whole", "bytewise"])
def test_basic_get_tags_are_rebased_and_epochs_stack(chunk: int | None) -> None:
    old_broker, old, _ = first_epoch(chunk)
    ledger = old_broker.engine.ledger
    assert ledger is not None
    broker, channel = second_epoch(old, ledger, chunk)
    channel.get("q", False, None)
    broker.received()
    get_ok = pc.Basic.GetOk(delivery_tag=1, exchange="", routing_key="q", message_count=0)
    [got] = broker.send_content(channel.number, get_ok, b"g")
    assert isinstance(got, ev.MessageGot) and got.method.delivery_tag == 4
    lost = broker.engine.connection_lost(None)
    assert ev.PublishOutcomeUnknown not in types(lost)  # nothing was unsettled
    third, channel3 = second_epoch(channel, ledger, chunk)
    assert deliver(third, channel3.number, 1).method.delivery_tag == 5
    channel3.send(spec.Basic.Ack(delivery_tag=4))  # the GetOk of the second epoch: stale
    channel3.send(spec.Basic.Ack(delivery_tag=5))
    assert wire_acks(third) == [("Ack", 1, False)]


def test_orphan_delivery_is_rejected_with_its_wire_tag() -> None:
    old_broker, old, _ = first_epoch(None)
    assert old_broker.engine.ledger is not None
    broker, channel = second_epoch(old, old_broker.engine.ledger, None)
    channel.cancel("c", None, nowait=False)
    broker.received()
    method = pc.Basic.Deliver(consumer_tag="c", delivery_tag=1, exchange="", routing_key="q")
    assert broker.send_content(channel.number, method, b"late") == []
    assert wire_acks(broker) == [("Reject", 1, False)]


def test_without_recovery_tags_and_events_are_unchanged() -> None:
    broker = connect(None, None)
    channel = broker.engine.channel(broker.open_channel())
    confirm_and_consume(broker, channel)
    assert deliver(broker, channel.number, 7).method.delivery_tag == 7
    channel.send(spec.Basic.Ack(delivery_tag=7))
    assert wire_acks(broker) == [("Ack", 7, False)]
    channel.publish("", "q", b"p", None, False)
    lost = broker.engine.connection_lost(None)
    assert types(lost) == [ev.ChannelClosed, ev.ConnectionTerminated]


def test_unsettled_ranges_skip_out_of_order_settlements() -> None:
    tracker = ConfirmTracker()
    assert tracker.unsettled_ranges() == []
    tracker.enable()
    for _ in range(8):
        tracker.on_publish()
    tracker.settle(1, False)
    tracker.settle(3, False)
    tracker.settle(4, False)
    tracker.settle(7, False)
    assert tracker.unsettled_ranges() == [(2, 2), (5, 6), (8, 8)]
    follower = ConfirmTracker()
    follower.continue_from(tracker)
    assert follower.unsettled_ranges() == [] and follower.on_publish() == 0  # not enabled yet
    follower.enable()
    assert follower.on_publish() == 9 and follower.wire_to_local(1) == 9
    assert follower.settle(follower.wire_to_local(1), False) == (9, 9)
    assert follower.wire_to_local(0) == 0  # 'everything so far' keeps its meaning
