"""Channel-level behaviour of the sans-I/O engine, through bytes only."""

from __future__ import annotations

import re

import pytest
from pamqp import commands as pc

from pika import exceptions, spec
from pika._engine import events as ev
from pika._engine.consumers import UNANSWERED_LIMIT
from pika._engine.states import ChannelState
from tests.support.scripted_broker import ScriptedBroker, make_engine, types


@pytest.fixture(params=[None, 1], ids=["whole", "bytewise"])
def broker(request: pytest.FixtureRequest) -> ScriptedBroker:
    broker = ScriptedBroker(make_engine(), request.param)
    broker.open_connection()
    return broker


def sent_types(broker: ScriptedBroker) -> list[type]:
    return [type(v) for _, v in broker.received()]


def test_channel_numbers_are_lowest_free_and_reused(broker: ScriptedBroker) -> None:
    engine = broker.engine
    assert [broker.open_channel() for _ in range(3)] == [1, 2, 3]
    engine.channel(2).close(0, "bye")
    broker.received()
    broker.send(2, pc.Channel.CloseOk())
    assert engine.allocate_channel_number() == 4  # still reserved until released
    engine.release_channel(2)
    assert engine.allocate_channel_number() == 2


def test_no_free_channels() -> None:
    broker = ScriptedBroker(make_engine(channel_max=2))
    broker.open_connection()
    broker.open_channel()
    broker.open_channel()
    with pytest.raises(exceptions.NoFreeChannels):
        broker.engine.allocate_channel_number()


def test_synchronous_calls_are_serialised_fifo(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    first, second, third = object(), object(), object()
    channel.call(spec.Queue.Declare(queue="a"), first, nowait=False)
    channel.call(spec.Queue.Declare(queue="b"), second, nowait=False)
    channel.call(spec.Queue.Bind(queue="b", exchange="x"), third, nowait=False)
    [(_, declare)] = broker.received()
    assert declare.queue == "a"
    channel.publish("", "rk", b"overtakes", None, False)
    sent = [type(v).__name__ for _, v in broker.received()]
    assert sent == ["Publish", "ContentHeader", "ContentBody"]  # publish goes out at once
    [replied] = broker.send(
        channel.number, pc.Queue.DeclareOk(queue="a", message_count=0, consumer_count=0)
    )
    assert isinstance(replied, ev.RpcReplied) and replied.token is first
    [(_, declare_b)] = broker.received()
    assert declare_b.queue == "b"
    broker.send(channel.number, pc.Queue.DeclareOk(queue="b", message_count=0, consumer_count=0))
    assert sent_types(broker) == [pc.Queue.Bind]


def test_nowait_calls_keep_their_place_but_hold_nothing(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    channel.call(spec.Exchange.Declare(exchange="x"), None, nowait=True)
    channel.call(spec.Queue.Declare(queue="q"), None, nowait=True)
    sent = broker.received()
    assert [type(v) for _, v in sent] == [pc.Exchange.Declare, pc.Queue.Declare]
    assert all(v.nowait for _, v in sent)


def test_wrong_state_errors(broker: ScriptedBroker) -> None:
    engine = broker.engine
    channel = engine.open_channel(engine.allocate_channel_number())
    with pytest.raises(exceptions.ChannelWrongStateError, match="opening"):
        channel.call(spec.Basic.Qos(), None, nowait=False)
    broker.send(channel.number, pc.Channel.OpenOk())
    channel.close(0, "x")
    with pytest.raises(exceptions.ChannelWrongStateError, match="closing"):
        channel.publish("", "q", b"", None, False)
    with pytest.raises(exceptions.ChannelWrongStateError, match="closing"):
        channel.close(0, "again")
    broker.received()
    broker.send(channel.number, pc.Channel.CloseOk())
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"Channel is closed\."):
        channel.get("q", False, None)


def test_consumer_lifecycle(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    on_message, on_ok = object(), object()
    tag = channel.consume("q", None, False, False, None, on_message, on_ok)
    assert re.fullmatch(rf"ctag{channel.number}\.[0-9a-f]{{32}}", tag)
    [(_, consume)] = broker.received()
    assert consume.consumer_tag == tag and consume.no_ack is False
    with pytest.raises(exceptions.DuplicateConsumerTag):
        channel.consume("q", tag, False, False, None, on_message, on_ok)
    [ok] = broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    assert isinstance(ok, ev.RpcReplied) and ok.token is on_ok
    deliver = pc.Basic.Deliver(consumer_tag=tag, delivery_tag=1, exchange="", routing_key="q")
    [delivered] = broker.send_content(
        channel.number, deliver, b"hello", pc.Basic.Properties(content_type="text/plain")
    )
    assert isinstance(delivered, ev.DeliveryReceived)
    assert delivered.token is on_message and delivered.body == b"hello"
    assert delivered.method.delivery_tag == 1 and delivered.properties.content_type == "text/plain"
    assert channel.cancel(tag, None, nowait=False)
    assert sent_types(broker) == [pc.Basic.Cancel]
    deliver2 = pc.Basic.Deliver(consumer_tag=tag, delivery_tag=2, exchange="", routing_key="q")
    assert broker.send_content(channel.number, deliver2, b"late") == []
    [(_, reject)] = broker.received()
    assert isinstance(reject, pc.Basic.Reject) and reject.delivery_tag == 2 and reject.requeue
    [cancel_ok] = broker.send(channel.number, pc.Basic.CancelOk(consumer_tag=tag))
    assert isinstance(cancel_ok, ev.RpcReplied)
    assert channel.consumers.tags() == []
    assert channel.cancel(tag, None, nowait=False) is False  # unknown tag: nothing sent
    assert broker.received() == []


@pytest.mark.parametrize("auto_ack", [False, True])
def test_nowait_cancel_still_rejects_deliveries_in_flight(
    broker: ScriptedBroker, auto_ack: bool
) -> None:
    channel = broker.engine.channel(broker.open_channel())
    tag = channel.consume("q", "t1", auto_ack, False, None, object(), None)
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    broker.received()
    assert channel.cancel(tag, None, nowait=True)
    [(_, cancel)] = broker.received()
    assert isinstance(cancel, pc.Basic.Cancel) and cancel.nowait
    assert channel.consumers.tags() == []
    # Sent by the broker before it saw the Cancel: not delivered, and (manual
    # ack) handed back at once rather than left unacked until the channel closes.
    late = pc.Basic.Deliver(consumer_tag=tag, delivery_tag=7, exchange="", routing_key="q")
    assert broker.send_content(channel.number, late, b"late") == []
    rejects = [method for _, method in broker.received()]
    if auto_ack:
        assert rejects == []
    else:
        [reject] = rejects
        assert isinstance(reject, pc.Basic.Reject) and reject.delivery_tag == 7 and reject.requeue
    with pytest.raises(exceptions.DuplicateConsumerTag):  # as pika: the tag stays taken
        channel.consume("q", tag, False, False, None, object(), None)


def test_nowait_cancelled_consumers_are_remembered_within_a_bound(
    broker: ScriptedBroker,
) -> None:
    channel = broker.engine.channel(broker.open_channel())
    for index in range(UNANSWERED_LIMIT + 5):
        tag = channel.consume("q", f"t{index}", False, False, None, object(), None)
        broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
        channel.cancel(tag, None, nowait=True)
    assert len(channel.consumers.cancelling) == UNANSWERED_LIMIT
    assert "t0" not in channel.consumers.cancelling
    assert f"t{UNANSWERED_LIMIT + 4}" in channel.consumers.cancelling
    channel.consume("q", "t0", False, False, None, object(), None)  # forgotten: free again


def test_broker_cancel_notification(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    token = object()
    tag = channel.consume("q", "my-tag", True, False, None, token, None)
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    [cancelled] = broker.send(channel.number, pc.Basic.Cancel(consumer_tag=tag))
    assert isinstance(cancelled, ev.ConsumerCancelled) and cancelled.token is token
    assert channel.consumers.tags() == []


def test_basic_get_ok_and_empty(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    token = object()
    channel.get("q", False, token)
    with pytest.raises(exceptions.DuplicateGetOkCallback):
        channel.get("q", False, token)
    broker.received()
    get_ok = pc.Basic.GetOk(delivery_tag=7, exchange="", routing_key="q", message_count=3)
    [got] = broker.send_content(channel.number, get_ok, b"")
    assert isinstance(got, ev.MessageGot) and got.token is token and got.body == b""
    assert got.method.message_count == 3
    channel.get("q", False, token)
    broker.received()
    [empty] = broker.send(channel.number, pc.Basic.GetEmpty())
    assert isinstance(empty, ev.RpcReplied) and isinstance(empty.frame.method, spec.Basic.GetEmpty)


def test_publisher_confirms_and_returns(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    channel.call(spec.Confirm.Select(), None, nowait=False)
    assert sent_types(broker) == [pc.Confirm.Select]
    broker.send(channel.number, pc.Confirm.SelectOk())
    tags = [channel.publish("", "q", b"m", None, True) for _ in range(4)]
    assert tags == [1, 2, 3, 4]
    [ack] = broker.send(channel.number, pc.Basic.Ack(delivery_tag=2, multiple=True))
    assert isinstance(ack, ev.PublishConfirmed)
    assert (ack.first_tag, ack.last_tag, ack.acked, ack.returned) == (1, 2, True, None)
    ret = pc.Basic.Return(reply_code=312, reply_text="NO_ROUTE", exchange="", routing_key="q")
    events = broker.send_content(channel.number, ret, b"m")
    events += broker.send(channel.number, pc.Basic.Ack(delivery_tag=3, multiple=False))
    assert types(events) == [ev.MessageReturned, ev.PublishConfirmed]
    assert events[1].returned is events[0]  # type: ignore[union-attr]
    assert events[0].method.reply_code == 312  # type: ignore[union-attr]
    [nack] = broker.send(channel.number, pc.Basic.Nack(delivery_tag=4, multiple=False))
    assert isinstance(nack, ev.PublishConfirmed) and not nack.acked and nack.first_tag == 4
    assert channel.confirms.unsettled() == 0


def test_large_body_is_split_and_reassembled() -> None:
    broker = ScriptedBroker(make_engine(frame_max=8192), chunk=1000)
    broker.open_connection(frame_max=8192)
    channel = broker.engine.channel(broker.open_channel())
    body = bytes(range(256)) * 200  # 51200 bytes
    channel.publish("", "q", body, None, False)
    frames = broker.received()
    bodies = [v for _, v in frames if type(v).__name__ == "ContentBody"]
    assert [len(b.value) for b in bodies] == [8184] * 6 + [51200 - 6 * 8184]
    tag = channel.consume("q", "t", True, False, None, object(), None)
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    deliver = pc.Basic.Deliver(consumer_tag=tag, delivery_tag=1, exchange="", routing_key="q")
    [delivered] = broker.send_content(channel.number, deliver, body, frame_max=8192)
    assert isinstance(delivered, ev.DeliveryReceived) and delivered.body == body


def test_empty_body_publish_has_no_body_frame(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    channel.publish("", "q", b"", None, False)
    assert [type(v).__name__ for _, v in broker.received()] == ["Publish", "ContentHeader"]


def test_broker_channel_close(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    token = object()
    channel.call(spec.Queue.Declare(queue="missing", passive=True), token, nowait=False)
    channel.call(spec.Queue.Declare(queue="queued"), object(), nowait=False)
    broker.received()
    events = broker.send(
        channel.number,
        pc.Channel.Close(
            reply_code=404, reply_text="NOT_FOUND - no queue 'missing'", class_id=0, method_id=0
        ),
    )
    assert types(events) == [ev.ChannelClosed]
    error = events[0].error  # type: ignore[union-attr]
    assert isinstance(error, exceptions.ChannelClosedByBroker) and error.args[0] == 404
    assert sent_types(broker) == [pc.Channel.CloseOk]  # and the queued declare is dropped
    assert channel.state is ChannelState.CLOSED


def test_close_while_opening_swallows_open_ok(broker: ScriptedBroker) -> None:
    engine = broker.engine
    channel = engine.open_channel(engine.allocate_channel_number())
    channel.close(0, "never mind")
    assert sent_types(broker) == [pc.Channel.Open]
    assert broker.send(channel.number, pc.Channel.OpenOk()) == []
    assert sent_types(broker) == [pc.Channel.Close]
    [closed] = broker.send(channel.number, pc.Channel.CloseOk())
    assert isinstance(closed, ev.ChannelClosed)
    assert isinstance(closed.error, exceptions.ChannelClosedByClient)


def test_broker_close_while_client_close_in_flight(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    channel.close(0, "bye")
    broker.received()
    assert (
        broker.send(
            channel.number,
            pc.Channel.Close(
                reply_code=406, reply_text="PRECONDITION_FAILED", class_id=0, method_id=0
            ),
        )
        == []
    )
    assert sent_types(broker) == [pc.Channel.CloseOk]
    [closed] = broker.send(channel.number, pc.Channel.CloseOk())
    assert isinstance(closed, ev.ChannelClosed)
    assert (
        isinstance(closed.error, exceptions.ChannelClosedByBroker)
        and closed.error.reply_code == 406
    )


def test_client_close_cancels_consumers_first(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    tag = channel.consume("q", "t1", False, False, None, object(), None)
    broker.send(channel.number, pc.Basic.ConsumeOk(consumer_tag=tag))
    broker.received()
    channel.close(0, "bye")
    sent = broker.received()
    assert [type(v) for _, v in sent] == [pc.Basic.Cancel, pc.Channel.Close]
    assert sent[0][1].nowait is True


def test_broker_flow_is_answered(broker: ScriptedBroker) -> None:
    channel = broker.engine.channel(broker.open_channel())
    [flow] = broker.send(channel.number, pc.Channel.Flow(active=False))
    assert isinstance(flow, ev.FlowChanged) and channel.flow_active is False
    [(_, flow_ok)] = broker.received()
    assert isinstance(flow_ok, pc.Channel.FlowOk) and flow_ok.active is False


def test_connection_lost_closes_channels_with_connection_error(broker: ScriptedBroker) -> None:
    broker.open_channel()
    broker.open_channel()
    lost = exceptions.StreamLostError("Transport indicated EOF")
    events = broker.engine.connection_lost(lost)
    assert types(events) == [ev.ChannelClosed, ev.ChannelClosed, ev.ConnectionTerminated]
    assert all(e.error is lost for e in events)  # type: ignore[union-attr]
