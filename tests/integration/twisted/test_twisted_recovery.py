"""Automatic recovery of TwistedProtocolConnection against the real broker (issue 10).

Each scenario runs in its own process with a real reactor (see twisted_harness).
Faults come from a FaultProxy in front of the broker (cut, stall) or from the
broker itself (``rabbitmqctl close_connection``).  With recovery enabled the
parameters name the endpoint the protocol reconnects to, so they name the
proxy whenever there is one.  Every wait is bounded.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, threads

from pika import exceptions
from pika.adapters.twisted_connection import TwistedProtocolConnection
from pika.recovery import Recovered, RecoveryPolicy, RecoveryStarted
from tests.integration.twisted.twisted_harness import Context, scenario
from tests.support.faultproxy import FaultProxy

FAST = RecoveryPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0)


class Watch:
    """The recovery events of one connection, awaitable by kind."""

    def __init__(self, conn: TwistedProtocolConnection) -> None:
        self.conn = conn
        self.events: list[Any] = []
        self._waiters: list[tuple[type, int, defer.Deferred[Any]]] = []
        conn.add_on_recovery_callback(self._on_event)

    def _on_event(self, conn: Any, event: Any) -> None:
        assert conn is self.conn
        self.events.append(event)
        for waiter in list(self._waiters):
            kind, count, deferred = waiter
            if self.count(kind) >= count:
                self._waiters.remove(waiter)
                deferred.callback(self.of(kind)[count - 1])

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    def count(self, kind: type) -> int:
        return len(self.of(kind))

    async def until(self, ctx: Context, kind: type, count: int = 1) -> Any:
        """Wait for the ``count``-th event of ``kind``; returns that event."""
        if self.count(kind) >= count:
            return self.of(kind)[count - 1]
        deferred: defer.Deferred[Any] = defer.Deferred()
        self._waiters.append((kind, count, deferred))
        return await ctx.wait(deferred, 15.0)


async def connect_recovering(
    ctx: Context, proxy: FaultProxy, policy: RecoveryPolicy = FAST, **params: Any
) -> tuple[TwistedProtocolConnection, Watch]:
    """ClientCreator to the proxy, with parameters naming the proxy too."""
    options = ctx.params(host=proxy.host, port=proxy.port, heartbeat=0, recovery=policy, **params)
    conn = await ctx.connect(options, host=proxy.host, port=proxy.port)
    return conn, Watch(conn)


async def close(ctx: Context, conn: TwistedProtocolConnection) -> None:
    """Close while the proxy still runs (its end would start a recovery)."""
    closed = conn.close()
    assert closed is not None
    await ctx.wait(closed)


async def failure(ctx: Context, deferred: Any, kind: type[BaseException]) -> Any:
    """The exception ``deferred`` fails with (it must be a ``kind``)."""
    try:
        value = await ctx.wait(deferred)
    except kind as exc:
        return exc
    raise AssertionError(f"expected {kind.__name__}, got {value!r}")


async def gone(ctx: Context, conn: TwistedProtocolConnection, queue: str) -> None:
    """``queue`` does not exist: a passive declare on a spare channel gets 404.

    (Asked over AMQP: rabbitmqctl can take many seconds on a loaded machine.)
    """
    probe = await conn.channel()
    exc = await failure(ctx, probe.queue_declare(queue, passive=True), exceptions.ChannelClosed)
    assert getattr(exc, "reply_code", None) == 404, exc


@scenario
async def test_cut_recovers_and_the_consumer_queue_keeps_receiving(ctx: Context) -> None:
    with FaultProxy(ctx.host, ctx.port, lifetime=60.0) as proxy:
        conn, watch = await connect_recovering(ctx, proxy)
        closed = conn.closed
        ch = await conn.channel()
        old_queue = (await ch.queue_declare("", exclusive=True)).method.queue
        key = ctx.name("rk")
        await ch.queue_bind(old_queue, "amq.direct", key)
        messages, tag = await ch.basic_consume(old_queue)
        ch.basic_publish("amq.direct", key, b"before")
        first = await ctx.wait(messages.get())
        assert first.body == b"before"
        ch.basic_ack(first.method.delivery_tag)

        assert await threads.deferToThread(proxy.cut) == 1
        started = await watch.until(ctx, RecoveryStarted)
        assert isinstance(started.error, exceptions.StreamLostError)
        await watch.until(ctx, Recovered)

        assert conn.is_open and ch.is_open and not conn.is_recovering
        assert conn.ready is None and closed is not None and not closed.called
        assert ch.consumer_tags == [tag] and messages.closed is None
        ch.basic_publish("amq.direct", key, b"after")
        second = await ctx.wait(messages.get())  # the same queue object
        assert second.body == b"after"
        assert second.method.delivery_tag > first.method.delivery_tag
        ch.basic_ack(second.method.delivery_tag)
        await gone(ctx, conn, old_queue)  # re-declared under a new server-given name
        await close(ctx, conn)


@scenario
async def test_pending_rpc_errbacks_with_connection_recovering_error(ctx: Context) -> None:
    with FaultProxy(ctx.host, ctx.port, lifetime=60.0) as proxy:
        conn, watch = await connect_recovering(ctx, proxy)
        ch = await conn.channel()
        await threads.deferToThread(proxy.stall)
        declare = ch.queue_declare(ctx.name("unanswered"), exclusive=True)
        await threads.deferToThread(proxy.cut, reset=True)
        await threads.deferToThread(proxy.resume)
        exc = await failure(ctx, declare, exceptions.ConnectionRecoveringError)
        assert isinstance(exc.__cause__, exceptions.StreamLostError)
        await watch.until(ctx, Recovered)
        queue = (await ch.queue_declare("", exclusive=True)).method.queue
        assert queue.startswith("amq.gen-")
        await close(ctx, conn)


@scenario
async def test_unconfirmed_publishes_errback_outcome_unknown(ctx: Context) -> None:
    with FaultProxy(ctx.host, ctx.port, lifetime=60.0) as proxy:
        conn, watch = await connect_recovering(ctx, proxy)
        ch = await conn.channel()
        queue = ctx.name("confirmed")
        await ch.queue_declare(queue, exclusive=True)
        await ch.confirm_delivery()
        await ctx.wait(ch.basic_publish("", queue, b"one"))
        await threads.deferToThread(proxy.stall)
        pending = [ch.basic_publish("", queue, body) for body in (b"two", b"three")]
        await threads.deferToThread(proxy.cut, reset=True)
        for publish in pending:
            exc = await failure(ctx, publish, exceptions.PublishOutcomeUnknownError)
            assert (exc.first_tag, exc.last_tag) == (2, 3)
        await watch.until(ctx, RecoveryStarted)
        # Still stalled, so recovery cannot finish: a publish now fails fast.
        refused = ch.basic_publish("", queue, b"too early")
        await failure(ctx, refused, exceptions.ConnectionRecoveringError)
        await threads.deferToThread(proxy.resume)
        await watch.until(ctx, Recovered)
        ack = await ctx.wait(ch.basic_publish("", queue, b"four"))
        assert ack.delivery_tag == 4  # numbering carries on across recovery
        got = await ctx.wait(ch.basic_get(queue, auto_ack=True))
        assert got is not None and got.body == b"four"  # the exclusive queue was re-created
        await close(ctx, conn)


@scenario
async def test_broker_side_close_is_recovered(ctx: Context) -> None:
    name = ctx.name("recovering-conn")
    params = ctx.params(heartbeat=0, recovery=FAST, client_properties={"connection_name": name})
    conn = await ctx.connect(params)
    watch = Watch(conn)
    ch = await conn.channel()
    queue = ctx.name("rq")
    await ch.queue_declare(queue, auto_delete=True)
    messages, _tag = await ch.basic_consume(queue)
    assert await ctx.request("close_connections", name, "recover please") == 1
    started = await watch.until(ctx, RecoveryStarted)
    assert isinstance(started.error, exceptions.ConnectionClosedByBroker)
    assert started.error.reply_code == 320
    await watch.until(ctx, Recovered)
    ch.basic_publish("", queue, b"hello again")
    message = await ctx.wait(messages.get())
    assert message.body == b"hello again"
    await close(ctx, conn)


@scenario
async def test_close_during_recovery_fires_closed_with_closed_by_client(ctx: Context) -> None:
    slow = RecoveryPolicy(initial_delay=5.0, max_delay=5.0, jitter=0.0)
    with FaultProxy(ctx.host, ctx.port, lifetime=60.0) as proxy:
        conn, watch = await connect_recovering(ctx, proxy, slow)
        ch = await conn.channel()
        closed = conn.closed
        assert closed is not None
        await threads.deferToThread(proxy.cut)
        await watch.until(ctx, RecoveryStarted)
        assert conn.is_recovering and not closed.called
        assert conn.close() is closed
        reason = await ctx.wait(closed, 5.0)
        assert isinstance(reason, exceptions.ConnectionClosedByClient), reason
        channel_reason = await ctx.wait(ch.on_closed, 5.0)
        assert isinstance(channel_reason, exceptions.ChannelClosedByClient)
        assert conn.is_closed and not conn.is_recovering
        assert proxy.accepted == 1  # no attempt was made


@scenario(tls=True)
async def test_callback_style_tls_connection_recovers_over_tls(ctx: Context) -> None:
    tls = ctx.config["tls"]
    with FaultProxy(tls["host"], tls["port"], lifetime=60.0) as proxy:
        opened: defer.Deferred[Any] = defer.Deferred()
        params = ctx.tls_params(host=proxy.host, port=proxy.port, heartbeat=0, recovery=FAST)
        conn = TwistedProtocolConnection(params, on_open_callback=opened.callback)
        await ctx.wait(opened)
        watch = Watch(conn)
        ch = await conn.channel()
        await threads.deferToThread(proxy.cut)
        await watch.until(ctx, Recovered)
        assert proxy.accepted == 2
        queue = (await ch.queue_declare("", exclusive=True)).method.queue
        ch.basic_publish("", queue, b"over tls again")
        got = await ctx.wait(ch.basic_get(queue, auto_ack=True))
        assert got.body == b"over tls again"
        await close(ctx, conn)


@scenario
async def test_stall_past_the_heartbeat_recovers(ctx: Context) -> None:
    with FaultProxy(ctx.host, ctx.port, lifetime=60.0) as proxy:
        options = ctx.params(host=proxy.host, port=proxy.port, heartbeat=1, recovery=FAST)
        conn = await ctx.connect(options, host=proxy.host, port=proxy.port)
        watch = Watch(conn)
        ch = await conn.channel()
        await threads.deferToThread(proxy.stall)
        started = await watch.until(ctx, RecoveryStarted)
        assert isinstance(started.error, exceptions.AMQPHeartbeatTimeout)
        await threads.deferToThread(proxy.resume)
        await watch.until(ctx, Recovered)
        assert ch.is_open
        queue = (await ch.queue_declare("", exclusive=True)).method.queue
        assert queue.startswith("amq.gen-")
        await close(ctx, conn)


@scenario
async def test_broker_restart_recovers_consumers_and_server_named_queues(ctx: Context) -> None:
    policy = RecoveryPolicy(initial_delay=0.2, max_delay=1.0, jitter=0.0)
    options = ctx.params(heartbeat=0, recovery=policy)
    conn = await ctx.connect(options, host=ctx.host, port=ctx.port)
    watch = Watch(conn)
    ch = await conn.channel()
    old_queue = (await ch.queue_declare("", exclusive=True)).method.queue
    key = ctx.name("rk")
    await ch.queue_bind(old_queue, "amq.direct", key)
    messages, _tag = await ch.basic_consume(old_queue)
    assert await ctx.request("restart_app") is True
    await watch.until(ctx, Recovered)
    ch.basic_publish("amq.direct", key, b"after the restart")
    message = await ctx.wait(messages.get())
    assert message.body == b"after the restart"
    await gone(ctx, conn, old_queue)
    await close(ctx, conn)


@scenario
async def test_republishing_unknown_outcomes_leaves_every_message_on_the_broker(
    ctx: Context,
) -> None:
    total = 150
    with FaultProxy(ctx.host, ctx.port, lifetime=60.0) as proxy:
        conn, watch = await connect_recovering(ctx, proxy)
        ch = await conn.channel()
        queue = ctx.name("at-least-once")
        await ch.queue_declare(queue, durable=True)
        await ch.confirm_delivery()
        unknown = 0
        for number in range(total):
            body = b"%d" % number
            if number in (50, 100):
                await threads.deferToThread(proxy.stall)  # this confirm cannot arrive
                publish = ch.basic_publish("", queue, body)
                await threads.deferToThread(proxy.cut)
                await threads.deferToThread(proxy.resume)
                await failure(ctx, publish, exceptions.PublishOutcomeUnknownError)
                unknown += 1
                await watch.until(ctx, Recovered, count=number // 50)
            await ctx.wait(ch.basic_publish("", queue, body))  # (re)published: confirmed
        seen: list[bytes] = []
        while (got := await ctx.wait(ch.basic_get(queue, auto_ack=True))) is not None:
            seen.append(got.body)
        await ch.queue_delete(queue)
        # Every message at least once; a duplicate only where an outcome was unknown.
        assert {int(body) for body in seen} == set(range(total))
        assert total <= len(seen) <= total + unknown
        assert unknown == 2
        await close(ctx, conn)
