"""Calls the lost connection left unanswered: kept at the drop, asked again after it."""

from __future__ import annotations

import logging

import pytest
from pamqp import commands as pc

from pika import spec
from pika._engine import events as ev
from pika._engine.channel import ChannelMachine
from pika._engine.ledger import TopologyLedger
from tests.support.scripted_broker import ScriptedBroker, make_engine


def connected() -> ScriptedBroker:
    engine = make_engine()
    engine.ledger = TopologyLedger()
    broker = ScriptedBroker(engine)
    broker.open_connection()
    return broker


def lose_with_calls_pending() -> tuple[ChannelMachine, dict[str, object]]:
    """A channel with a declare in flight and more queued behind it, then a drop."""
    broker = connected()
    channel = broker.engine.channel(broker.open_channel())
    tokens = {name: object() for name in ("declare", "bind", "purge", "consume", "deliver")}
    channel.call(spec.Queue.Declare(queue="q"), tokens["declare"], nowait=False)
    channel.call(spec.Queue.Bind(queue="q", exchange="x"), tokens["bind"], nowait=False)
    channel.call(spec.Queue.Purge(queue="q"), tokens["purge"], nowait=False)
    channel.consume("q", "t1", False, False, None, tokens["deliver"], tokens["consume"])
    broker.received()
    broker.engine.connection_lost(ConnectionResetError("gone"))
    return channel, tokens


def test_a_drop_keeps_the_unanswered_calls_in_order() -> None:
    channel, tokens = lose_with_calls_pending()
    assert [(type(c.method), c.token) for c in channel.interrupted] == [
        (spec.Queue.Declare, tokens["declare"]),
        (spec.Queue.Bind, tokens["bind"]),
        (spec.Queue.Purge, tokens["purge"]),
        (spec.Basic.Consume, tokens["consume"]),
    ]
    [consumer] = channel.interrupted_consumers.values()
    assert (consumer.tag, consumer.token, consumer.auto_ack) == ("t1", tokens["deliver"], False)


def test_without_recovery_nothing_is_kept() -> None:
    broker = ScriptedBroker(make_engine())
    broker.open_connection()
    channel = broker.engine.channel(broker.open_channel())
    channel.call(spec.Queue.Declare(queue="q"), object(), nowait=False)
    broker.engine.connection_lost(ConnectionResetError("gone"))
    assert channel.interrupted == [] and channel.interrupted_consumers == {}


def test_retry_asks_again_in_order_and_skips_what_may_have_happened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    old, tokens = lose_with_calls_pending()
    broker = connected()
    assert broker.engine.ledger is not None
    channel = broker.engine.channel(broker.open_channel())
    with caplog.at_level(logging.WARNING, logger="pika.channel"):
        events = channel.retry_interrupted(old.interrupted, old.interrupted_consumers)
    assert events == []
    assert "Queue.Purge on channel" in caplog.text
    assert channel.consumers.tags() == ["t1"]  # consuming from the request on, as before
    [(_, declare)] = broker.received()  # one call in flight at a time
    assert isinstance(declare, pc.Queue.Declare) and declare.queue == "q"
    [replied] = broker.send(
        channel.number, pc.Queue.DeclareOk(queue="q", message_count=0, consumer_count=0)
    )
    assert isinstance(replied, ev.RpcReplied) and replied.token is tokens["declare"]
    [(_, bind)] = broker.received()
    assert isinstance(bind, pc.Queue.Bind)
    [replied] = broker.send(channel.number, pc.Queue.BindOk())
    assert replied.token is tokens["bind"]
    [(_, consume)] = broker.received()
    assert isinstance(consume, pc.Basic.Consume) and consume.consumer_tag == "t1"
    [replied] = broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag="t1"))
    assert replied.token is tokens["consume"]
    assert [type(r).__name__ for r in broker.engine.ledger.recovery_plan()] == [
        "QueueRecord",
        "BindingRecord",
        "ConsumerRecord",
    ]


def test_retry_answers_a_channel_that_was_still_opening() -> None:
    broker = connected()
    number = broker.engine.allocate_channel_number()
    opening = broker.engine.open_channel(number)
    broker.engine.connection_lost(ConnectionResetError("gone"))
    assert [type(c.method) for c in opening.interrupted] == [spec.Channel.Open]
    again = connected()
    channel = again.engine.channel(again.open_channel())
    [opened] = channel.retry_interrupted(opening.interrupted, {})
    assert isinstance(opened, ev.ChannelOpened) and opened.channel_number == channel.number
    assert again.received() == []  # the replay opened it: nothing is sent


def test_a_cancel_unanswered_at_the_drop_leaves_the_ledger_at_once() -> None:
    broker = connected()
    ledger = broker.engine.ledger
    assert ledger is not None
    channel = broker.engine.channel(broker.open_channel())
    tag = channel.consume("q", "t1", False, False, None, object(), None)
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    assert [type(r).__name__ for r in ledger.recovery_plan()] == ["ConsumerRecord"]
    channel.cancel(tag, object(), nowait=False)
    broker.engine.connection_lost(ConnectionResetError("gone"))
    assert ledger.recovery_plan() == []  # the replay will not bring it back
