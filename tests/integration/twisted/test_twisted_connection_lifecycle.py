"""TwistedProtocolConnection lifecycles against the real broker: open, close, loss, failures."""

from __future__ import annotations

import ssl
from typing import Any

from twisted.internet import defer, error, threads

import pika
from pika import exceptions
from pika.adapters.twisted_connection import TwistedConnection, TwistedProtocolConnection
from tests.integration.twisted.twisted_harness import Context, scenario
from tests.support.faultproxy import FaultProxy


async def _expect(ctx: Context, deferred: Any, kind: type[BaseException]) -> BaseException:
    try:
        value = await ctx.wait(deferred)
    except kind as exc:
        return exc
    raise AssertionError(f"expected {kind.__name__}, got {value!r}")


@scenario
async def test_ready_then_clean_close_reports_connection_done(ctx: Context) -> None:
    conn = await ctx.connect()
    assert isinstance(conn, TwistedProtocolConnection)
    assert conn.is_open and conn.ready is None
    assert conn.transport.getPeer().port == ctx.port
    ch = await conn.channel()
    closed = conn.close()
    assert closed is conn.closed
    reason = await ctx.wait(closed)
    assert isinstance(reason, error.ConnectionDone)
    assert conn.is_closed
    channel_reason = await ctx.wait(ch.on_closed)
    assert isinstance(channel_reason, exceptions.ChannelClosedByClient)
    assert channel_reason.args == (200, "Normal shutdown")
    assert conn.close() is None


@scenario
async def test_broker_close_reaches_closed_and_pending_deferreds(ctx: Context) -> None:
    name = ctx.name("conn")
    conn = await ctx.connect(ctx.params(client_properties={"connection_name": name}))
    ch = await conn.channel()
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    messages, _tag = await ch.basic_consume(queue)
    waiting = messages.get()
    closed = conn.closed  # `closed` becomes None once it has fired, as in pika 1.x
    assert await ctx.request("close_connections", name, "go away") == 1
    reason = await ctx.wait(closed)
    assert isinstance(reason, exceptions.ConnectionClosedByBroker)
    assert reason.reply_code == 320 and "go away" in reason.reply_text
    assert isinstance(await _expect(ctx, waiting, exceptions.ConnectionClosedByBroker), Exception)
    assert isinstance(await ctx.wait(ch.on_closed), exceptions.ConnectionClosedByBroker)
    assert isinstance(await _expect(ctx, ch.queue_declare("x"), exceptions.AMQPError), Exception)
    assert isinstance(
        await _expect(ctx, conn.channel(), exceptions.ConnectionWrongStateError), Exception
    )


@scenario
async def test_connection_loss_errbacks_everything_with_stream_lost_error(ctx: Context) -> None:
    with FaultProxy(ctx.host, ctx.port) as proxy:
        conn = await ctx.connect(host=proxy.host, port=proxy.port)
        ch = await conn.channel()
        queue = (await ch.queue_declare("", exclusive=True)).method.queue
        messages, _tag = await ch.basic_consume(queue)
        await ch.confirm_delivery()
        waiting = messages.get()
        await threads.deferToThread(proxy.stall)
        confirm = ch.basic_publish("", queue, b"never confirmed")
        declare = ch.queue_declare(ctx.name("never"))
        closed = conn.closed
        await threads.deferToThread(proxy.cut, reset=True)
        reason = await ctx.wait(closed)
    assert isinstance(reason, exceptions.StreamLostError), reason
    for pending in (confirm, declare, waiting):
        await _expect(ctx, pending, exceptions.StreamLostError)
    assert isinstance(messages.closed, exceptions.StreamLostError)
    assert isinstance(await ctx.wait(ch.on_closed), exceptions.StreamLostError)


@scenario
async def test_missed_heartbeats_close_with_heartbeat_timeout(ctx: Context) -> None:
    with FaultProxy(ctx.host, ctx.port) as proxy:
        conn = await ctx.connect(ctx.params(heartbeat=1), host=proxy.host, port=proxy.port)
        closed = conn.closed
        await threads.deferToThread(proxy.stall)
        reason = await ctx.wait(closed, 20)
    assert isinstance(reason, exceptions.AMQPHeartbeatTimeout), reason


@scenario
async def test_exception_in_a_callback_aborts_with_stream_lost_error(ctx: Context) -> None:
    conn = await ctx.connect()
    ch = await conn.channel()

    def buggy(_message: Any) -> None:
        raise ZeroDivisionError("bug in user code")

    ch.add_on_return_callback(buggy)
    closed = conn.closed
    ch.basic_publish("", ctx.name("nowhere"), b"x", mandatory=True)
    reason = await ctx.wait(closed)
    assert isinstance(reason, exceptions.StreamLostError)
    assert isinstance(reason.__cause__, ZeroDivisionError)
    assert isinstance(await ctx.wait(ch.on_closed), exceptions.StreamLostError)


@scenario
async def test_bad_credentials_errback_ready(ctx: Context) -> None:
    from twisted.internet import protocol

    params = ctx.params(credentials=pika.PlainCredentials("guest", "wrong password"))
    creator = protocol.ClientCreator(ctx.reactor, TwistedProtocolConnection, params)
    conn = await creator.connectTCP(ctx.host, ctx.port)
    exc = await _expect(ctx, conn.ready, exceptions.ProbableAuthenticationError)
    assert "ACCESS_REFUSED" in str(exc)
    assert "wrong password" not in str(exc) + repr(exc)
    assert conn.ready is None and conn.closed is None


@scenario
async def test_unknown_vhost_errbacks_ready(ctx: Context) -> None:
    from twisted.internet import protocol

    params = ctx.params(virtual_host=ctx.name("no-such-vhost"))
    creator = protocol.ClientCreator(ctx.reactor, TwistedProtocolConnection, params)
    conn = await creator.connectTCP(ctx.host, ctx.port)
    await _expect(ctx, conn.ready, exceptions.ProbableAccessDeniedError)


# -- the seed's callback style: the protocol connects by itself --------------------------


def _recorder() -> tuple[dict[str, defer.Deferred[Any]], dict[str, Any]]:
    fired: dict[str, defer.Deferred[Any]] = {
        "open": defer.Deferred(),
        "error": defer.Deferred(),
        "close": defer.Deferred(),
    }
    callbacks = {
        "on_open_callback": lambda conn: fired["open"].callback(conn),
        "on_open_error_callback": lambda conn, exc: fired["error"].callback((conn, exc)),
        "on_close_callback": lambda conn, exc: fired["close"].callback((conn, exc)),
    }
    return fired, callbacks


@scenario
async def test_callback_style_connects_by_itself(ctx: Context) -> None:
    fired, callbacks = _recorder()
    conn = TwistedConnection(ctx.params(), **callbacks)
    assert await ctx.wait(fired["open"]) is conn
    channel_opened: defer.Deferred[Any] = defer.Deferred()
    returned = conn.channel(on_open_callback=channel_opened.callback)
    ch = await ctx.wait(channel_opened)
    assert ch is await returned
    declared: defer.Deferred[Any] = defer.Deferred()
    ch.queue_declare(queue="", exclusive=True, callback=declared.callback)
    assert (await ctx.wait(declared)).method.queue.startswith("amq.gen-")
    conn.close()
    closed_conn, reason = await ctx.wait(fired["close"])
    assert closed_conn is conn and isinstance(reason, error.ConnectionDone)
    assert not fired["error"].called


@scenario
async def test_callback_style_refused_connection_calls_the_error_callback(ctx: Context) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fired, callbacks = _recorder()
    conn = TwistedProtocolConnection(
        ctx.params(port=port, retry_delay=0.1, connection_attempts=2), **callbacks
    )
    failed_conn, exc = await ctx.wait(fired["error"])
    assert failed_conn is conn
    assert type(exc) is exceptions.AMQPConnectionError
    assert (exc.host, exc.port) == (ctx.host, port)
    assert isinstance(exc.__cause__, error.ConnectionRefusedError)
    assert not fired["open"].called and not fired["close"].called


@scenario(tls=True)
async def test_callback_style_tls_uses_the_ssl_options(ctx: Context) -> None:
    fired, callbacks = _recorder()
    conn = TwistedProtocolConnection(ctx.tls_params(), **callbacks)
    await ctx.wait(fired["open"])
    ch = await conn.channel()
    queue = (await ch.queue_declare("", exclusive=True)).method.queue
    body = bytes(range(256)) * 1000
    ch.basic_publish("", queue, body)
    assert (await ch.basic_get(queue, auto_ack=True)).body == body
    conn.close()
    _conn, reason = await ctx.wait(fired["close"])
    assert isinstance(reason, error.ConnectionDone)


@scenario(tls=True)
async def test_callback_style_tls_rejects_an_untrusted_server(ctx: Context) -> None:
    fired, callbacks = _recorder()
    untrusted = pika.SSLOptions(ssl.create_default_context(), ctx.config["tls"]["server_hostname"])
    TwistedProtocolConnection(ctx.tls_params(ssl_options=untrusted), **callbacks)
    _conn, exc = await ctx.wait(fired["error"])
    assert isinstance(exc, exceptions.AMQPConnectionError)
    assert isinstance(exc.__cause__, ssl.SSLCertVerificationError), repr(exc.__cause__)
