"""The callback Connection/Channel faces over the engine, with an in-memory adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pamqp import body as pbody
from pamqp import commands as pc
from pamqp import frame as pframe
from pamqp import header as pheader

import pika
from pika import connection as connection_mod
from pika import exceptions, spec
from tests.support.scripted_broker import SERVER_PROPERTIES


class MemoryConnection(connection_mod.Connection):
    """A Connection whose 'stream' is a byte list and whose timers are manual."""

    def __init__(self, **kwargs: Any) -> None:
        self.written: list[bytes] = []
        self.timers: list[tuple[float, Callable[[], Any]]] = []
        self.disconnects = 0
        super().__init__(pika.ConnectionParameters(), **kwargs)

    def _adapter_call_later(self, delay: float, callback: Callable[[], Any]) -> object:
        entry = (delay, callback)
        self.timers.append(entry)
        return entry

    def _adapter_remove_timeout(self, timeout_id: object) -> None:
        if timeout_id in self.timers:
            self.timers.remove(timeout_id)  # type: ignore[arg-type]

    def _adapter_add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        self._adapter_call_later(0, callback)

    def _adapter_connect_stream(self) -> None:
        self._on_stream_connected()

    def _adapter_disconnect_stream(self) -> None:
        self.disconnects += 1

    def _adapter_emit_data(self, data: bytes) -> None:
        self.written.append(data)

    # -- test helpers ------------------------------------------------------

    def run_timers(self) -> None:
        while self.timers:
            _, callback = self.timers.pop(0)
            callback()

    def sent(self) -> list[Any]:
        data = b"".join(self.written)
        self.written.clear()
        values = []
        if data.startswith(b"AMQP"):
            data = data[8:]
        while data:
            consumed, _channel, value = pframe.unmarshal(data)
            values.append(value)
            data = data[consumed:]
        return values

    def broker(self, channel: int, *values: Any) -> None:
        self._on_data_available(b"".join(pframe.marshal(v, channel) for v in values))


def opened(**kwargs: Any) -> MemoryConnection:
    conn = MemoryConnection(**kwargs)
    conn.run_timers()  # the scheduled connect
    conn.broker(0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN"))
    conn.broker(0, pc.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=0))
    conn.broker(0, pc.Connection.OpenOk())
    conn.sent()
    return conn


def test_constructor_runs_no_callback_and_connects_later() -> None:
    calls: list[str] = []
    conn = MemoryConnection(on_open_callback=lambda c: calls.append("open"))
    assert conn.connection_state == conn.CONNECTION_INIT
    assert not (conn.is_open or conn.is_closing or conn.is_closed)
    assert conn.written == [] and calls == []
    conn.run_timers()
    assert conn.written[0] == b"AMQP\x00\x00\x09\x01"


def test_open_callbacks_and_negotiated_params() -> None:
    calls: list[Any] = []
    conn = MemoryConnection(on_open_callback=lambda c: calls.append(("first", c)))
    conn.add_on_open_callback(lambda c: calls.append(("second", c)))
    conn.run_timers()
    conn.broker(0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN"))
    conn.broker(0, pc.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=60))
    conn.broker(0, pc.Connection.OpenOk())
    assert calls == [("first", conn), ("second", conn)]
    assert (conn.params.channel_max, conn.params.heartbeat) == (2047, 60)
    assert conn.publisher_confirms and conn.basic_nack and conn.consumer_cancel_notify
    assert conn.server_properties is not None and conn.server_properties["product"] == "RabbitMQ"


def test_channel_legacy_positional_callback_and_ordering_on_close() -> None:
    order: list[str] = []
    conn = opened(on_close_callback=lambda c, e: order.append(f"conn:{type(e).__name__}"))
    opened_channels: list[Any] = []
    ch = conn.channel(opened_channels.append)  # pika 0.x positional form
    assert ch.is_opening and ch.channel_number == 1
    conn.broker(1, pc.Channel.OpenOk())
    assert opened_channels == [ch] and ch.is_open
    assert [type(v) for v in conn.sent()] == [pc.Channel.Open]
    ch.add_on_close_callback(lambda c, e: order.append(f"ch:{type(e).__name__}:{e.reply_code}"))
    conn.close()
    assert conn.is_closing
    assert [type(v) for v in conn.sent()] == [pc.Channel.Close]
    conn.broker(1, pc.Channel.CloseOk())
    assert [type(v) for v in conn.sent()] == [pc.Connection.Close]
    conn.broker(0, pc.Connection.CloseOk())
    assert conn.disconnects == 1
    conn._on_stream_terminated(None)
    assert order == ["ch:ChannelClosedByClient:200", "conn:ConnectionClosedByClient"]
    assert conn.is_closed
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()


def test_open_error_goes_to_error_callback_never_close_callback() -> None:
    seen: list[Any] = []
    conn = MemoryConnection(
        on_open_error_callback=lambda c, e: seen.append(("error", e)),
        on_close_callback=lambda c, e: seen.append(("close", e)),
    )
    conn.run_timers()
    conn.close()
    assert conn.disconnects == 1
    conn._on_stream_terminated(None)
    [(kind, error)] = seen
    assert kind == "error" and isinstance(error, exceptions.ConnectionOpenAborted)


def test_default_open_error_handler_raises() -> None:
    conn = MemoryConnection()
    conn.run_timers()
    with pytest.raises(exceptions.IncompatibleProtocolError):
        conn._on_stream_terminated(exceptions.StreamLostError("Transport indicated EOF"))


def test_rpc_callbacks_get_method_frames_and_nowait_without_callback() -> None:
    conn = opened()
    ch = conn.channel()
    conn.broker(1, pc.Channel.OpenOk())
    conn.sent()
    frames: list[Any] = []
    ch.queue_declare("", callback=frames.append)
    ch.exchange_declare("x", exchange_type=pika.exchange_type.ExchangeType.topic)
    [declare] = conn.sent()
    assert declare.queue == "" and declare.nowait is False
    conn.broker(1, pc.Queue.DeclareOk(queue="amq.gen-1", message_count=0, consumer_count=0))
    [exchange] = conn.sent()
    assert exchange.nowait is True and exchange.exchange_type == "topic"
    [frame] = frames
    assert isinstance(frame, pika.frame.Method) and frame.method.queue == "amq.gen-1"


def test_consume_legacy_form_delivery_and_cancel_notification() -> None:
    conn = opened()
    ch = conn.channel()
    conn.broker(1, pc.Channel.OpenOk())
    conn.sent()
    got: list[Any] = []
    cancelled: list[Any] = []
    ch.add_on_cancel_callback(cancelled.append)
    tag = ch.basic_consume(lambda *a: got.append(a), queue="q", no_ack=True)
    [consume] = conn.sent()
    assert consume.queue == "q" and consume.no_ack is True and consume.consumer_tag == tag
    conn.broker(1, pc.Basic.ConsumeOk(consumer_tag=tag))
    deliver = pc.Basic.Deliver(consumer_tag=tag, delivery_tag=1, exchange="", routing_key="q")
    conn._on_data_available(
        pframe.marshal(deliver, 1)
        + pframe.marshal(pheader.ContentHeader(0, 2, pc.Basic.Properties()), 1)
        + pframe.marshal(pbody.ContentBody(b"hi"), 1)
    )
    [(channel, method, properties, body)] = got
    assert channel is ch and isinstance(method, spec.Basic.Deliver) and body == b"hi"
    assert isinstance(properties, spec.BasicProperties)
    conn.broker(1, pc.Basic.Cancel(consumer_tag=tag))
    assert [type(f.method) for f in cancelled] == [spec.Basic.Cancel]
    assert ch.consumer_tags == []


def deliveries(tag: str, first: int, last: int) -> bytes:
    """One-byte messages for ``tag`` with delivery tags first..last, as one chunk."""
    chunk = b""
    for delivery_tag in range(first, last + 1):
        deliver = pc.Basic.Deliver(
            consumer_tag=tag, delivery_tag=delivery_tag, exchange="", routing_key="q"
        )
        chunk += pframe.marshal(deliver, 1)
        chunk += pframe.marshal(pheader.ContentHeader(0, 1, pc.Basic.Properties()), 1)
        chunk += pframe.marshal(pbody.ContentBody(b"m"), 1)
    return chunk


@pytest.mark.parametrize("auto_ack", [False, True])
def test_cancel_inside_a_batch_of_deliveries(auto_ack: bool) -> None:
    conn = opened()
    ch = conn.channel()
    conn.broker(1, pc.Channel.OpenOk())
    conn.sent()
    got: list[int] = []

    def cancel_on_first(channel: Any, method: Any, properties: Any, body: bytes) -> None:
        got.append(method.delivery_tag)
        if len(got) == 1:
            channel.basic_cancel(method.consumer_tag)  # nowait

    tag = ch.basic_consume("q", cancel_on_first, auto_ack=auto_ack)
    conn.broker(1, pc.Basic.ConsumeOk(consumer_tag=tag))
    conn.sent()
    conn._on_data_available(deliveries(tag, 1, 3))  # read in one go, before the cancel
    conn._on_data_available(deliveries(tag, 4, 5))  # sent before the broker saw the cancel
    sent = conn.sent()
    assert isinstance(sent[0], pc.Basic.Cancel) and sent[0].nowait
    rejects = [(f.delivery_tag, f.requeue) for f in sent if isinstance(f, pc.Basic.Reject)]
    if auto_ack:
        # Settled already: what was read before the cancel still reaches the app
        # (what arrives after it is dropped, as pika does).
        assert got == [1, 2, 3] and rejects == []
    else:
        assert got == [1]
        assert rejects == [(2, True), (3, True), (4, True), (5, True)]


def test_exception_in_callback_propagates_out_of_data_available() -> None:
    conn = opened()
    ch = conn.channel()
    conn.broker(1, pc.Channel.OpenOk())

    def boom(frame: Any) -> None:
        raise ZeroDivisionError("division by zero")

    ch.basic_qos(prefetch_count=1, callback=boom)
    conn.sent()
    with pytest.raises(ZeroDivisionError):
        conn.broker(1, pc.Basic.QosOk())


def test_closed_channel_methods_raise_wrong_state() -> None:
    conn = opened()
    ch = conn.channel()
    conn.broker(1, pc.Channel.OpenOk())
    reasons: list[Any] = []
    ch.add_on_close_callback(lambda c, e: reasons.append(e))
    conn.broker(
        1, pc.Channel.Close(reply_code=404, reply_text="NOT_FOUND - x", class_id=50, method_id=10)
    )
    [reason] = reasons
    assert isinstance(reason, exceptions.ChannelClosedByBroker) and reason.args == (
        404,
        "NOT_FOUND - x",
    )
    for call in (
        lambda: ch.basic_publish("", "q", b"x"),
        lambda: ch.basic_get("q", print),
        lambda: ch.queue_declare("q"),
        lambda: ch.close(),
    ):
        with pytest.raises(exceptions.ChannelWrongStateError, match=r"Channel is closed\."):
            call()
    assert conn.channel().channel_number == 1  # the number was freed


def test_broker_may_tune_frame_max_below_the_user_minimum() -> None:
    conn = MemoryConnection()
    conn.run_timers()
    conn.broker(0, pc.Connection.Start(server_properties=SERVER_PROPERTIES, mechanisms="PLAIN"))
    conn.broker(0, pc.Connection.Tune(channel_max=0, frame_max=4096, heartbeat=0))
    assert conn.params.frame_max == 4096
    tune_ok = conn.sent()[1]
    assert isinstance(tune_ok, pc.Connection.TuneOk) and tune_ok.frame_max == 4096
