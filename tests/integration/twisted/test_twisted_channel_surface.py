"""The whole TwistedChannel surface against the real broker, each test in its own reactor."""

from __future__ import annotations

from typing import Any

from pika import exceptions, spec
from pika.exchange_type import ExchangeType
from tests.integration.twisted.twisted_harness import Context, scenario


async def _channel(ctx: Context) -> Any:
    conn = await ctx.connect()
    return await ctx.wait(conn.channel())


@scenario
async def test_declare_bind_purge_unbind_delete(ctx: Context) -> None:
    ch = await _channel(ctx)
    exchange, source, queue = ctx.name("x"), ctx.name("src"), ctx.name("q")
    ok = await ch.exchange_declare(exchange, ExchangeType.topic, auto_delete=False)
    assert isinstance(ok.method, spec.Exchange.DeclareOk)
    await ch.exchange_declare(source, "fanout")
    assert isinstance((await ch.exchange_bind(exchange, source, "rk")).method, spec.Exchange.BindOk)
    unbound = await ch.exchange_unbind(exchange, source, "rk")
    assert isinstance(unbound.method, spec.Exchange.UnbindOk)
    declared = await ch.queue_declare(queue, durable=False, arguments={"x-max-length": 10})
    assert (declared.method.queue, declared.method.message_count) == (queue, 0)
    assert isinstance((await ch.queue_bind(queue, exchange, "a.*")).method, spec.Queue.BindOk)
    await ch.confirm_delivery()
    for n in range(3):
        await ch.basic_publish(exchange, "a.b", f"m{n}")  # acked: the queue holds it
    passive = await ch.queue_declare(queue, passive=True)
    assert passive.method.message_count == 3
    assert (await ch.queue_purge(queue)).method.message_count == 3
    assert isinstance((await ch.queue_unbind(queue, exchange, "a.*")).method, spec.Queue.UnbindOk)
    assert (await ch.queue_delete(queue)).method.message_count == 0
    assert isinstance((await ch.exchange_delete(exchange)).method, spec.Exchange.DeleteOk)
    await ch.exchange_delete(source)


@scenario
async def test_server_named_queue_and_qos_recover_flow(ctx: Context) -> None:
    ch = await _channel(ctx)
    declared = await ch.queue_declare("", exclusive=True)
    assert declared.method.queue.startswith("amq.gen-")
    assert isinstance((await ch.basic_qos(prefetch_count=5)).method, spec.Basic.QosOk)
    assert isinstance((await ch.basic_recover(requeue=True)).method, spec.Basic.RecoverOk)
    assert await ch.flow(True) is True
    assert ch.flow_active


@scenario
async def test_consume_get_ack_nack_reject_cancel(ctx: Context) -> None:
    ch = await _channel(ctx)
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    props = spec.BasicProperties(content_type="text/plain", headers={"k": "v"})
    for body in (b"one", b"two", b"three", b"four"):
        ch.basic_publish("", queue, body, props)
    got = await ch.basic_get(queue)
    assert (got.channel, got.body, got.method.delivery_tag) == (ch, b"one", 1)
    assert got.properties.headers == {"k": "v"}
    ch.basic_ack(got.method.delivery_tag)
    messages, tag = await ch.basic_consume(queue, consumer_tag="mine")
    assert tag == "mine" and ch.consumer_tags == ["mine"]
    first = await ctx.wait(messages.get())
    second = await ctx.wait(messages.get())
    third = await ctx.wait(messages.get())
    assert [m.body for m in (first, second, third)] == [b"two", b"three", b"four"]
    assert first.properties.content_type == "text/plain"
    ch.basic_ack(first.method.delivery_tag)
    ch.basic_nack(second.method.delivery_tag, requeue=False)
    ch.basic_reject(third.method.delivery_tag, requeue=True)
    redelivered = await ctx.wait(messages.get())
    assert (redelivered.body, redelivered.method.redelivered) == (b"four", True)
    ch.basic_ack(redelivered.method.delivery_tag)
    waiting = messages.get()
    cancel_ok = await ch.basic_cancel(tag)
    assert cancel_ok.method.consumer_tag == "mine"
    try:
        await waiting
    except exceptions.ConsumerCancelled:
        pass
    else:
        raise AssertionError("the consumer queue was not closed")
    assert await ch.basic_get(queue) is None  # nothing left: GetEmpty fires with None


@scenario
async def test_basic_get_twice_raises_synchronously(ctx: Context) -> None:
    ch = await _channel(ctx)
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    pending = ch.basic_get(queue)
    try:
        ch.basic_get(queue)
    except exceptions.DuplicateGetOkCallback:
        pass
    else:
        raise AssertionError("DuplicateGetOkCallback not raised")
    assert await pending is None


@scenario
async def test_large_body_round_trips(ctx: Context) -> None:
    ch = await _channel(ctx)
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    body = bytes(range(256)) * 4000  # 1 MB: many frame_max-sized body frames
    ch.basic_publish("", queue, body)
    messages, _tag = await ch.basic_consume(queue, auto_ack=True)
    assert (await ctx.wait(messages.get())).body == body


@scenario
async def test_publisher_confirms_ack_unroutable_and_returns(ctx: Context) -> None:
    ch = await _channel(ctx)
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    returned: list[Any] = []
    ch.add_on_return_callback(returned.append)
    assert isinstance((await ch.confirm_delivery()).method, spec.Confirm.SelectOk)
    assert await ch.confirm_delivery() is None
    acks = [ch.basic_publish("", queue, f"m{n}".encode()) for n in range(20)]
    for ack in acks:
        assert isinstance(await ctx.wait(ack), spec.Basic.Ack)
    try:
        await ctx.wait(ch.basic_publish("", ctx.name("nowhere"), b"lost", mandatory=True))
    except exceptions.UnroutableError as exc:
        [message] = exc.messages
        assert (message.channel, message.body, message.method.reply_code) == (ch, b"lost", 312)
    else:
        raise AssertionError("UnroutableError not raised")
    assert [m.body for m in returned] == [b"lost"]
    unconfirmed = ch.basic_publish("", queue, b"fine", mandatory=True)
    assert isinstance(await ctx.wait(unconfirmed), spec.Basic.Ack)


@scenario
async def test_publish_without_confirms_fires_with_none(ctx: Context) -> None:
    ch = await _channel(ctx)
    returned: list[Any] = []
    ch.add_on_return_callback(returned.append)
    assert await ch.basic_publish("", ctx.name("nowhere"), b"x", mandatory=True) is None
    await ch.queue_declare("", exclusive=True)  # a round trip: the Return came before DeclareOk
    [message] = returned
    assert (message.method.reply_text, message.body) == ("NO_ROUTE", b"x")


@scenario
async def test_transactions(ctx: Context) -> None:
    ch = await _channel(ctx)
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    assert isinstance((await ch.tx_select()).method, spec.Tx.SelectOk)
    ch.basic_publish("", queue, b"rolled back")
    assert isinstance((await ch.tx_rollback()).method, spec.Tx.RollbackOk)
    ch.basic_publish("", queue, b"committed")
    assert isinstance((await ch.tx_commit()).method, spec.Tx.CommitOk)
    assert (await ch.basic_get(queue, auto_ack=True)).body == b"committed"
    assert await ch.basic_get(queue) is None


@scenario
async def test_callback_deferred(ctx: Context) -> None:
    from twisted.internet import defer

    ch = await _channel(ctx)
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    empty: defer.Deferred[Any] = defer.Deferred()
    ch.callback_deferred(empty, [spec.Basic.GetEmpty])
    assert await ch.basic_get(queue) is None
    assert isinstance((await ctx.wait(empty)).method, spec.Basic.GetEmpty)


@scenario
async def test_channel_error_errbacks_pending_calls_and_fires_on_closed(ctx: Context) -> None:
    ch = await _channel(ctx)
    failing = ch.queue_declare(ctx.name("missing"), passive=True)
    queued = ch.queue_declare(ctx.name("queued"))  # waits behind the failing one
    for pending in (failing, queued):
        try:
            await ctx.wait(pending)
        except exceptions.ChannelClosedByBroker as exc:
            assert exc.reply_code == 404
        else:
            raise AssertionError("no errback")
    reason = await ctx.wait(ch.on_closed)
    assert isinstance(reason, exceptions.ChannelClosedByBroker) and reason.args[0] == 404
    assert ch.is_closed
    try:
        await ch.queue_declare("any")
    except exceptions.ChannelClosedByBroker:
        pass
    else:
        raise AssertionError("a closed channel must fail at once")


@scenario
async def test_channel_error_closes_consumer_queues_and_confirms(ctx: Context) -> None:
    ch = await _channel(ctx)
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    await ch.confirm_delivery()
    messages, _tag = await ch.basic_consume(queue)
    waiting = messages.get()
    confirm = ch.basic_publish(ctx.name("no-such-exchange"), "rk", b"x")  # 404 closes the channel
    for pending in (confirm, waiting):
        try:
            await ctx.wait(pending)
        except exceptions.ChannelClosedByBroker as exc:
            assert exc.reply_code == 404
        else:
            raise AssertionError("no errback")
    assert isinstance(messages.closed, exceptions.ChannelClosedByBroker)


@scenario
async def test_queue_delete_and_broker_cancel_close_consumer_queues(ctx: Context) -> None:
    ch = await _channel(ctx)
    queue = (await ch.queue_declare(ctx.name("q"))).method.queue
    messages, tag = await ch.basic_consume(queue)
    waiting = messages.get()
    await ch.queue_delete(queue)  # RabbitMQ sends Basic.Cancel before DeleteOk
    try:
        await ctx.wait(waiting)
    except exceptions.ConsumerCancelled:
        pass
    else:
        raise AssertionError("the consumer queue was not closed")
    assert tag not in ch.consumer_tags
    # Cancelled by the broker from another channel: the queue closes too.
    other_connection = await ctx.connect()
    other = await ctx.wait(other_connection.channel())
    queue2 = (await ch.queue_declare(ctx.name("q"))).method.queue
    messages2, _tag2 = await ch.basic_consume(queue2)
    get2 = messages2.get()
    await other.queue_delete(queue2)
    try:
        await ctx.wait(get2)
    except exceptions.ConsumerCancelled:
        pass
    else:
        raise AssertionError("broker cancel did not close the queue")


@scenario
async def test_legacy_call_forms(ctx: Context) -> None:
    from twisted.internet import defer

    ch = await _channel(ctx)
    declared: defer.Deferred[Any] = defer.Deferred()
    ch.queue_declare(queue="", exclusive=True, callback=declared.callback)
    queue = (await ctx.wait(declared)).method.queue
    delivered: defer.Deferred[Any] = defer.Deferred()

    def handle_delivery(channel: Any, method: Any, properties: Any, body: bytes) -> None:
        delivered.callback((channel, body))

    await ch.basic_consume(handle_delivery, queue=queue, no_ack=True)  # pika 0.x order
    ch.basic_publish(exchange="", routing_key=queue, body="Hello")
    channel, body = await ctx.wait(delivered)
    assert (channel, body) == (ch, b"Hello")


@scenario
async def test_channel_close_and_numbers(ctx: Context) -> None:
    conn = await ctx.connect()
    first = await conn.channel()
    second = await conn.channel()
    explicit = await conn.channel(9)
    assert (first.channel_number, second.channel_number, explicit.channel_number) == (1, 2, 9)
    assert first.connection is second.connection
    first.close()
    assert first.is_closing
    reason = await ctx.wait(first.on_closed)
    assert isinstance(reason, exceptions.ChannelClosedByClient) and reason.args == (
        0,
        "Normal shutdown",
    )
    await second.queue_declare("", exclusive=True)  # the number is freed after on_closed fired
    again = await conn.channel()
    assert again.channel_number == 1  # freed numbers are reused
