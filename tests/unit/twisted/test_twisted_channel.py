"""TwistedChannel: every method's Deferred, confirms, consumers and close, with a scripted broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pamqp import commands as pc
from twisted.internet import defer

from pika import exceptions, spec
from pika.adapters.twisted_connection import (
    ClosableDeferredQueue,
    ReceivedMessage,
    TwistedChannel,
    TwistedProtocolConnection,
)
from tests.unit.twisted.twisted_support import FakeBroker, Outcome, failure_of, opened, result_of


@pytest.fixture
def setup() -> tuple[TwistedProtocolConnection, FakeBroker, TwistedChannel]:
    protocol, broker = opened()
    channel = broker.open_channel()
    return protocol, broker, channel


Setup = tuple[TwistedProtocolConnection, FakeBroker, TwistedChannel]

# method name, args, expected request, reply, what the Deferred fires with
RPCS: list[tuple[str, tuple[Any, ...], str, Any, Callable[[Any], Any]]] = [
    ("basic_qos", (0, 10), "Basic.Qos", pc.Basic.QosOk(), lambda f: f.method),
    ("basic_recover", (True,), "Basic.Recover", pc.Basic.RecoverOk(), lambda f: f.method),
    ("exchange_declare", ("x",), "Exchange.Declare", pc.Exchange.DeclareOk(), lambda f: f.method),
    ("exchange_delete", ("x",), "Exchange.Delete", pc.Exchange.DeleteOk(), lambda f: f.method),
    ("exchange_bind", ("a", "b"), "Exchange.Bind", pc.Exchange.BindOk(), lambda f: f.method),
    ("exchange_unbind", ("a", "b"), "Exchange.Unbind", pc.Exchange.UnbindOk(), lambda f: f.method),
    ("queue_declare", ("q",), "Queue.Declare", pc.Queue.DeclareOk("q", 3, 1), lambda f: f.method),
    ("queue_bind", ("q", "x"), "Queue.Bind", pc.Queue.BindOk(), lambda f: f.method),
    ("queue_unbind", ("q", "x"), "Queue.Unbind", pc.Queue.UnbindOk(), lambda f: f.method),
    ("queue_purge", ("q",), "Queue.Purge", pc.Queue.PurgeOk(4), lambda f: f.method),
    ("queue_delete", ("q",), "Queue.Delete", pc.Queue.DeleteOk(2), lambda f: f.method),
    ("tx_select", (), "Tx.Select", pc.Tx.SelectOk(), lambda f: f.method),
    ("tx_commit", (), "Tx.Commit", pc.Tx.CommitOk(), lambda f: f.method),
    ("tx_rollback", (), "Tx.Rollback", pc.Tx.RollbackOk(), lambda f: f.method),
    ("confirm_delivery", (), "Confirm.Select", pc.Confirm.SelectOk(), lambda f: f.method),
]


@pytest.mark.parametrize(("name", "args", "request_name", "reply", "_"), RPCS)
def test_each_rpc_fires_with_its_reply_frame(
    setup: Setup, name: str, args: tuple[Any, ...], request_name: str, reply: Any, _: Any
) -> None:
    _protocol, broker, channel = setup
    outcome = Outcome(getattr(channel, name)(*args))
    [(number, request)] = broker.received_methods()
    assert (number, request.name) == (1, request_name)
    assert not getattr(request, "nowait", False)  # the Deferred always waits for the reply
    assert not outcome.fired
    broker.send(1, reply)
    assert reply.name == outcome.value.method.NAME
    for field in ("queue", "message_count", "consumer_count"):
        if hasattr(reply, field):
            assert getattr(outcome.value.method, field) == getattr(reply, field)


@pytest.mark.parametrize(("name", "args", "request_name", "reply", "_"), RPCS)
def test_each_rpc_honours_a_legacy_callback(
    setup: Setup, name: str, args: tuple[Any, ...], request_name: str, reply: Any, _: Any
) -> None:
    _protocol, broker, channel = setup
    seen: list[Any] = []
    outcome = Outcome(getattr(channel, name)(*args, callback=seen.append))
    broker.received()
    broker.send(1, reply)
    assert seen == [outcome.value]


@pytest.mark.parametrize(("name", "args", "request_name", "reply", "_"), RPCS)
def test_each_rpc_fails_once_the_channel_is_closed(
    setup: Setup, name: str, args: tuple[Any, ...], request_name: str, reply: Any, _: Any
) -> None:
    _protocol, broker, channel = setup
    broker.send(1, pc.Channel.Close(406, "PRECONDITION_FAILED - x", 50, 10))
    error = failure_of(getattr(channel, name)(*args))
    assert isinstance(error, exceptions.ChannelClosedByBroker)
    assert error.args == (406, "PRECONDITION_FAILED - x")


def test_synchronous_errors_become_failed_deferreds(setup: Setup) -> None:
    _protocol, broker, channel = setup
    assert isinstance(failure_of(channel.queue_declare(None)), TypeError)  # type: ignore[arg-type]
    assert isinstance(failure_of(channel.basic_qos(prefetch_count=-1)), ValueError)
    assert isinstance(failure_of(channel.queue_purge("q", callback="no")), TypeError)  # type: ignore[arg-type]
    assert broker.received() == []


def test_flow_fires_with_a_bool(setup: Setup) -> None:
    _protocol, broker, channel = setup
    outcome = Outcome(channel.flow(False))
    broker.received()
    broker.send(1, pc.Channel.FlowOk(active=False))
    assert outcome.value is False
    assert channel.flow_active is False


def test_pending_calls_errback_in_order_then_confirms_then_queues_then_on_closed(
    setup: Setup,
) -> None:
    _protocol, broker, channel = setup
    order: list[str] = []
    result_of(_confirm(broker, channel))
    queue, _tag = result_of(_consume(broker, channel, "q"))
    publish = channel.basic_publish("", "q", b"body")
    first = channel.queue_declare("a")
    second = channel.queue_declare("b")
    first.addErrback(lambda f: order.append(f"declare a: {f.type.__name__}"))
    second.addErrback(lambda f: order.append(f"declare b: {f.type.__name__}"))
    publish.addErrback(lambda f: order.append(f"publish: {f.type.__name__}"))
    queue.get().addErrback(lambda f: order.append(f"get: {f.type.__name__}"))
    channel.on_closed.addCallback(
        lambda reason: order.append(f"on_closed: {type(reason).__name__}")
    )
    broker.received()
    broker.send(1, pc.Channel.Close(404, "NOT_FOUND - no queue 'a'", 50, 10))
    assert broker.names() == ["Channel.CloseOk"]
    assert order == [
        "declare a: ChannelClosedByBroker",
        "declare b: ChannelClosedByBroker",
        "publish: ChannelClosedByBroker",
        "get: ChannelClosedByBroker",
        "on_closed: ChannelClosedByBroker",
    ]
    assert isinstance(queue.closed, exceptions.ChannelClosedByBroker)
    assert channel.is_closed


def test_close_passes_through_and_fires_on_closed(setup: Setup) -> None:
    _protocol, broker, channel = setup
    on_closed = Outcome(channel.on_closed)
    assert channel.close(200, "bye") is None
    assert channel.is_closing
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.close()
    [(_, close)] = broker.received_methods()
    assert (close.reply_code, close.reply_text) == (200, "bye")
    broker.send(1, pc.Channel.CloseOk())
    assert isinstance(on_closed.value, exceptions.ChannelClosedByClient)
    assert channel.is_closed and not channel.is_open


def test_channel_properties(setup: Setup) -> None:
    _protocol, _broker, channel = setup
    assert channel.channel_number == 1
    assert channel.is_open and not channel.is_closing and not channel.is_closed
    assert channel.flow_active
    assert channel.consumer_tags == []
    assert "TwistedChannel" in repr(channel)


def test_ack_nack_reject_pass_through(setup: Setup) -> None:
    _protocol, broker, channel = setup
    assert channel.basic_ack(1) is None
    assert channel.basic_nack(2, multiple=True, requeue=False) is None
    assert channel.basic_reject(3, requeue=False) is None
    sent = [method for _, method in broker.received_methods()]
    assert [m.name for m in sent] == ["Basic.Ack", "Basic.Nack", "Basic.Reject"]
    assert (sent[1].delivery_tag, sent[1].multiple, sent[1].requeue) == (2, True, False)
    with pytest.raises(TypeError):
        channel.basic_reject("3")  # type: ignore[arg-type]


def test_callback_deferred_fires_with_the_next_matching_frame(setup: Setup) -> None:
    _protocol, broker, channel = setup
    deferred: defer.Deferred[Any] = defer.Deferred()
    outcome = Outcome(deferred)
    channel.callback_deferred(deferred, [spec.Basic.GetEmpty])
    channel.basic_get("q")
    broker.received()
    broker.send(1, pc.Basic.GetEmpty())
    assert isinstance(outcome.value.method, spec.Basic.GetEmpty)


# -- consumers -------------------------------------------------------------------------


def _consume(broker: FakeBroker, channel: TwistedChannel, queue: str, **kw: Any) -> Any:
    consumed = channel.basic_consume(queue, **kw)
    [(_, request)] = broker.received_methods()
    broker.send(1, pc.Basic.ConsumeOk(request.consumer_tag))
    return consumed


def _deliver(broker: FakeBroker, tag: str, n: int, body: bytes) -> None:
    deliver = pc.Basic.Deliver(tag, n, False, "", "q")
    broker.send_content(1, deliver, body, pc.Basic.Properties(content_type="text/plain"))


def test_basic_consume_fires_with_a_queue_of_received_messages(setup: Setup) -> None:
    _protocol, broker, channel = setup
    queue, tag = result_of(_consume(broker, channel, "q", exclusive=True))
    assert isinstance(queue, ClosableDeferredQueue)
    assert tag.startswith("ctag1.") and channel.consumer_tags == [tag]
    _deliver(broker, tag, 1, b"one")
    _deliver(broker, tag, 2, b"two")
    first = result_of(queue.get())
    assert isinstance(first, ReceivedMessage)
    assert first.channel is channel
    assert (first.method.delivery_tag, first.body) == (1, b"one")
    assert first.properties.content_type == "text/plain"
    later = Outcome(queue.get())
    assert later.value.body == b"two"
    waiting = Outcome(queue.get())
    assert not waiting.fired
    _deliver(broker, tag, 3, b"three")
    assert waiting.value.body == b"three"


def test_basic_consume_sends_the_options(setup: Setup) -> None:
    _protocol, broker, channel = setup
    channel.basic_consume("q", auto_ack=True, exclusive=True, consumer_tag="me", arguments={"a": 1})
    [(_, request)] = broker.received_methods()
    assert (request.queue, request.no_ack, request.exclusive) == ("q", True, True)
    assert (request.consumer_tag, request.arguments) == ("me", {"a": 1})


@pytest.mark.parametrize(
    "call",
    [
        lambda ch, cb: ch.basic_consume(cb, queue="q", no_ack=True),  # pika 0.x
        lambda ch, cb: ch.basic_consume(cb, "q", True),  # pika 0.x positional
        lambda ch, cb: ch.basic_consume("q", cb, auto_ack=True),  # pika 1.x Channel
        lambda ch, cb: ch.basic_consume(queue="q", on_message_callback=cb, auto_ack=True),
    ],
)
def test_basic_consume_accepts_a_message_callback(setup: Setup, call: Any) -> None:
    _protocol, broker, channel = setup
    seen: list[tuple[Any, ...]] = []
    consumed = call(channel, lambda *args: seen.append(args))
    [(_, request)] = broker.received_methods()
    assert (request.queue, request.no_ack) == ("q", True)
    broker.send(1, pc.Basic.ConsumeOk(request.consumer_tag))
    queue, tag = result_of(consumed)
    _deliver(broker, tag, 1, b"x")
    [(chan, method, _properties, body)] = seen
    assert (chan, method.delivery_tag, body) == (channel, 1, b"x")
    assert queue.pending == []


def test_basic_consume_accepts_no_ack_and_a_consume_ok_callback(setup: Setup) -> None:
    _protocol, broker, channel = setup
    seen: list[Any] = []
    consumed = channel.basic_consume("q", no_ack=True, callback=seen.append)
    [(_, request)] = broker.received_methods()
    assert request.no_ack is True
    broker.send(1, pc.Basic.ConsumeOk(request.consumer_tag))
    assert seen[0].method.consumer_tag == result_of(consumed)[1]
    assert isinstance(failure_of(channel.basic_consume("q", no_ack=1, auto_ack=1)), TypeError)


def test_basic_consume_errors_become_failed_deferreds(setup: Setup) -> None:
    _protocol, broker, channel = setup
    result_of(_consume(broker, channel, "q", consumer_tag="dup"))
    error = failure_of(channel.basic_consume("q", consumer_tag="dup"))
    assert isinstance(error, exceptions.DuplicateConsumerTag)
    assert isinstance(failure_of(channel.basic_consume(5)), TypeError)  # type: ignore[arg-type]


def test_basic_cancel_fires_with_cancel_ok_and_closes_the_queue(setup: Setup) -> None:
    _protocol, broker, channel = setup
    queue, tag = result_of(_consume(broker, channel, "q"))
    waiting = Outcome(queue.get())
    cancelled = Outcome(channel.basic_cancel(tag))
    [(_, request)] = broker.received_methods()
    assert (request.name, request.consumer_tag, request.nowait) == ("Basic.Cancel", tag, False)
    assert not waiting.fired
    broker.send(1, pc.Basic.CancelOk(tag))
    assert cancelled.value.method.consumer_tag == tag
    assert type(waiting.error) is exceptions.ConsumerCancelled
    assert isinstance(failure_of(queue.get()), exceptions.ConsumerCancelled)
    assert channel.consumer_tags == []


def test_basic_cancel_of_an_unknown_tag_fires_with_none(setup: Setup) -> None:
    _protocol, broker, channel = setup
    assert result_of(channel.basic_cancel("nobody")) is None
    assert broker.received() == []
    assert isinstance(failure_of(channel.basic_cancel(5)), TypeError)  # type: ignore[arg-type]


def test_broker_cancel_closes_the_consumer_queue(setup: Setup) -> None:
    _protocol, broker, channel = setup
    queue, tag = result_of(_consume(broker, channel, "q"))
    broker.send(1, pc.Basic.Cancel(tag))
    assert type(queue.closed) is exceptions.ConsumerCancelled
    assert channel.consumer_tags == []


def test_queue_delete_closes_the_queues_of_its_consumers(setup: Setup) -> None:
    _protocol, broker, channel = setup
    on_q, _tag = result_of(_consume(broker, channel, "q"))
    on_other, _other = result_of(_consume(broker, channel, "other"))
    deleted = Outcome(channel.queue_delete("q"))
    broker.received()
    broker.send(1, pc.Queue.DeleteOk(0))
    assert deleted.value.method.message_count == 0
    assert isinstance(on_q.closed, exceptions.ConsumerCancelled)
    assert on_q.closed.args == ("Queue q was deleted.",)
    assert on_other.closed is None


# -- basic_get ---------------------------------------------------------------------------


def test_basic_get_fires_with_a_received_message(setup: Setup) -> None:
    _protocol, broker, channel = setup
    got = Outcome(channel.basic_get("q", auto_ack=True))
    [(_, request)] = broker.received_methods()
    assert (request.queue, request.no_ack) == ("q", True)
    broker.send_content(1, pc.Basic.GetOk(7, False, "", "q", 0), b"payload")
    message = got.value
    assert isinstance(message, ReceivedMessage)
    assert (message.channel, message.method.delivery_tag, message.body) == (channel, 7, b"payload")


def test_basic_get_fires_with_none_on_an_empty_queue(setup: Setup) -> None:
    _protocol, broker, channel = setup
    for _ in range(2):
        got = Outcome(channel.basic_get("q"))
        broker.received()
        broker.send(1, pc.Basic.GetEmpty())
        assert got.fired and got.value is None


def test_basic_get_twice_raises_duplicate_get_ok_callback_synchronously(setup: Setup) -> None:
    _protocol, broker, channel = setup
    channel.basic_get("q")
    with pytest.raises(exceptions.DuplicateGetOkCallback):
        channel.basic_get("q")
    assert len(broker.received_methods()) == 1


def test_basic_get_accepts_the_channel_callback_order(setup: Setup) -> None:
    _protocol, broker, channel = setup
    seen: list[tuple[Any, ...]] = []
    got = Outcome(channel.basic_get("q", lambda *args: seen.append(args)))
    broker.received()
    broker.send_content(1, pc.Basic.GetOk(1, False, "", "q", 0), b"x")
    assert seen == [(channel, got.value.method, got.value.properties, b"x")]


def test_basic_get_errors(setup: Setup) -> None:
    _protocol, broker, channel = setup
    assert isinstance(failure_of(channel.basic_get(None)), TypeError)  # type: ignore[arg-type]
    pending = Outcome(channel.basic_get("q"))
    broker.send(1, pc.Channel.Close(404, "NOT_FOUND", 60, 70))
    assert isinstance(pending.error, exceptions.ChannelClosedByBroker)
    assert isinstance(failure_of(channel.basic_get("q")), exceptions.ChannelClosedByBroker)


# -- publishing and confirms ---------------------------------------------------------------


def _confirm(broker: FakeBroker, channel: TwistedChannel) -> Any:
    selected = channel.confirm_delivery()
    broker.received()
    broker.send(1, pc.Confirm.SelectOk())
    return selected


def test_publish_without_confirms_fires_with_none(setup: Setup) -> None:
    _protocol, broker, channel = setup
    assert result_of(channel.basic_publish("ex", "rk", "text")) is None
    frames = broker.received()
    assert [type(v).__name__ for _, v in frames] == ["Publish", "ContentHeader", "ContentBody"]
    assert frames[2][1].value == b"text"


def test_publish_on_a_closed_channel_fails_and_other_errors_raise(setup: Setup) -> None:
    _protocol, broker, channel = setup
    channel.close()
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel.basic_publish("", "q", b"x")
    broker.received()
    broker.send(1, pc.Channel.CloseOk())
    assert isinstance(failure_of(channel.basic_publish("", "q", b"x")), exceptions.ChannelClosed)


def test_confirmed_publish_fires_with_the_ack_method(setup: Setup) -> None:
    _protocol, broker, channel = setup
    assert isinstance(result_of(_confirm(broker, channel)).method, spec.Confirm.SelectOk)
    first = Outcome(channel.basic_publish("", "q", b"1"))
    second = Outcome(channel.basic_publish("", "q", b"2"))
    broker.received()
    broker.send(1, pc.Basic.Ack(2, False))
    assert not first.fired and isinstance(second.value, spec.Basic.Ack)
    broker.send(1, pc.Basic.Ack(1, False))
    assert first.value.delivery_tag == 1


def test_multiple_ack_settles_every_earlier_publish_in_order(setup: Setup) -> None:
    _protocol, broker, channel = setup
    result_of(_confirm(broker, channel))
    order: list[int] = []
    for n in range(1, 5):
        channel.basic_publish("", "q", b"x").addCallback(lambda _, n=n: order.append(n))
    broker.send(1, pc.Basic.Ack(3, True))
    assert order == [1, 2, 3]
    broker.send(1, pc.Basic.Ack(0, True))
    assert order == [1, 2, 3, 4]


def test_nack_errbacks_with_nack_error(setup: Setup) -> None:
    _protocol, broker, channel = setup
    result_of(_confirm(broker, channel))
    publishes = [Outcome(channel.basic_publish("", "q", b"x")) for _ in range(2)]
    broker.send(1, pc.Basic.Nack(2, True, False))
    for outcome in publishes:
        assert isinstance(outcome.error, exceptions.NackError)
        assert outcome.error.messages == []


def test_returned_then_acked_publish_errbacks_with_unroutable_error(setup: Setup) -> None:
    _protocol, broker, channel = setup
    result_of(_confirm(broker, channel))
    returned_to_user: list[Any] = []
    channel.add_on_return_callback(returned_to_user.append)
    routed = Outcome(channel.basic_publish("", "q", b"fine"))
    unroutable = Outcome(channel.basic_publish("", "nowhere", b"lost", mandatory=True))
    returned = pc.Basic.Return(312, "NO_ROUTE", "", "nowhere")
    broker.send_content(1, returned, b"lost")
    broker.send(1, pc.Basic.Ack(2, True))
    assert isinstance(routed.value, spec.Basic.Ack)
    error = unroutable.error
    assert isinstance(error, exceptions.UnroutableError)
    [message] = error.messages
    assert isinstance(message, ReceivedMessage)
    assert (message.channel, message.method.reply_code, message.body) == (channel, 312, b"lost")
    assert returned_to_user == [message]


def test_return_callback_gets_one_received_message(setup: Setup) -> None:
    _protocol, broker, channel = setup
    seen: list[Any] = []
    channel.add_on_return_callback(seen.append)
    broker.send_content(1, pc.Basic.Return(312, "NO_ROUTE", "ex", "rk"), b"body")
    [message] = seen
    assert isinstance(message, ReceivedMessage)
    assert (message.method.exchange, message.method.routing_key, message.body) == (
        "ex",
        "rk",
        b"body",
    )
    with pytest.raises(TypeError):
        channel.add_on_return_callback(None)  # type: ignore[arg-type]


def test_confirm_delivery_twice_fires_with_none(setup: Setup) -> None:
    _protocol, broker, channel = setup
    result_of(_confirm(broker, channel))
    assert result_of(channel.confirm_delivery()) is None
    assert broker.received() == []


def test_confirm_delivery_passes_an_ack_nack_callback(setup: Setup) -> None:
    _protocol, broker, channel = setup
    frames: list[Any] = []
    channel.confirm_delivery(frames.append)
    broker.received()
    broker.send(1, pc.Confirm.SelectOk())
    published = Outcome(channel.basic_publish("", "q", b"x"))
    broker.send(1, pc.Basic.Ack(1, False))
    assert [f.method.delivery_tag for f in frames] == [1]
    assert published.value is frames[0].method


def test_confirm_delivery_refused_by_the_broker_capabilities() -> None:
    protocol, broker = opened()
    broker_caps = protocol._impl.server_capabilities
    broker_caps["publisher_confirms"] = False
    channel = broker.open_channel()
    assert isinstance(failure_of(channel.confirm_delivery()), exceptions.MethodNotImplemented)
    assert result_of(channel.basic_publish("", "q", b"x")) is None


def test_publishes_before_select_reaches_the_wire_are_not_tracked(setup: Setup) -> None:
    _protocol, broker, channel = setup
    declared = channel.queue_declare("q")  # Confirm.Select queues behind it
    selected = channel.confirm_delivery()
    assert result_of(channel.basic_publish("", "q", b"early")) is None
    broker.received()
    broker.send(1, pc.Queue.DeclareOk("q", 0, 0))
    broker.send(1, pc.Confirm.SelectOk())
    result_of(declared), result_of(selected)
    late = Outcome(channel.basic_publish("", "q", b"late"))
    broker.send(1, pc.Basic.Ack(1, False))
    assert isinstance(late.value, spec.Basic.Ack)
