"""Every channel method of API.md §4.3 with its callback forms, on every adapter."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from pika import spec
from pika.exchange_type import ExchangeType
from tests.support.adapter_driver import WAIT, AdapterDriver, Recorder, unique_name

if TYPE_CHECKING:
    from tests.conftest import Broker

Opened = tuple[Any, Any]

TAG_FORMAT = re.compile(r"ctag(\d+)\.[0-9a-f]{32}")


def declare(driver: AdapterDriver, channel: Any, queue: str, **kwargs: Any) -> Any:
    """Declare a queue (exclusive unless told otherwise) and return DeclareOk."""
    kwargs.setdefault("exclusive", True)
    return driver.rpc(channel.queue_declare, queue, **kwargs).method


def message_count(driver: AdapterDriver, channel: Any, queue: str) -> int:
    count: int = declare(driver, channel, queue, passive=True, exclusive=False).message_count
    return count


def wait_count(driver: AdapterDriver, channel: Any, queue: str, expected: int) -> None:
    """Ask until the queue holds *expected* ready messages (the broker's count lags publishes)."""
    deadline = time.monotonic() + WAIT
    counts = [message_count(driver, channel, queue)]
    while counts[-1] != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{queue} never held {expected} messages; saw {counts[-5:]}")
        driver.run_for(0.01)  # let the broker catch up between questions
        counts.append(message_count(driver, channel, queue))


def get_one(driver: AdapterDriver, channel: Any, queue: str, auto_ack: bool = True) -> Any:
    """basic_get one message: (channel, GetOk, properties, body), or 'empty'."""
    got: list[Any] = []
    empty: list[Any] = []
    channel.add_callback(empty.append, [spec.Basic.GetEmpty], one_shot=True)
    channel.basic_get(queue, lambda *args: got.append(args), auto_ack=auto_ack)
    driver.run_until(lambda: bool(got or empty), what="basic_get's answer")
    if got:
        assert channel.remove_callback(empty.append, [spec.Basic.GetEmpty])
        return got[0]
    assert isinstance(empty[0].method, spec.Basic.GetEmpty)
    return "empty"


def _noop(*_args: Any) -> None:
    """A consumer that ignores its deliveries."""


def test_exchange_declare_bind_unbind_delete(driver: AdapterDriver, opened: Opened) -> None:
    _, ch = opened
    source, dest, queue = unique_name("pika-it-src"), unique_name("pika-it-dst"), unique_name()
    ok = driver.rpc(ch.exchange_declare, source, ExchangeType.fanout, auto_delete=False)
    assert isinstance(ok.method, spec.Exchange.DeclareOk)
    assert isinstance(
        driver.rpc(ch.exchange_declare, dest, "direct").method, spec.Exchange.DeclareOk
    )
    declare(driver, ch, queue)
    driver.rpc(ch.queue_bind, queue, dest, routing_key="rk")
    bind = driver.rpc(ch.exchange_bind, dest, source, routing_key="rk")
    assert isinstance(bind.method, spec.Exchange.BindOk)

    ch.basic_publish(source, "rk", b"through the binding")
    assert get_one(driver, ch, queue)[3] == b"through the binding"

    unbind = driver.rpc(ch.exchange_unbind, dest, source, routing_key="rk")
    assert isinstance(unbind.method, spec.Exchange.UnbindOk)
    ch.basic_publish(source, "rk", b"no longer routed")
    assert get_one(driver, ch, queue) == "empty"

    for name in (source, dest):
        assert isinstance(driver.rpc(ch.exchange_delete, name).method, spec.Exchange.DeleteOk)
    assert isinstance(
        driver.rpc(ch.exchange_delete, source, if_unused=True).method, spec.Exchange.DeleteOk
    )


def test_server_named_queue_bind_unbind_purge_delete(driver: AdapterDriver, opened: Opened) -> None:
    _, ch = opened
    ok = declare(driver, ch, "")
    queue = ok.queue
    assert isinstance(queue, str) and queue.startswith("amq.gen-")
    assert (ok.message_count, ok.consumer_count) == (0, 0)

    bound = driver.rpc(ch.queue_bind, queue, "amq.direct")  # routing key: the queue name
    assert isinstance(bound.method, spec.Queue.BindOk)
    for n in range(3):
        ch.basic_publish("amq.direct", queue, f"m{n}")
    purged = driver.rpc(ch.queue_purge, queue)
    assert isinstance(purged.method, spec.Queue.PurgeOk)
    assert purged.method.message_count == 3

    unbound = driver.rpc(ch.queue_unbind, queue, "amq.direct")
    assert isinstance(unbound.method, spec.Queue.UnbindOk)
    ch.basic_publish("amq.direct", queue, b"unrouted now")
    ch.basic_publish("", queue, b"direct to the queue")
    ch.basic_publish("", queue, b"second")
    wait_count(driver, ch, queue, 2)
    assert get_one(driver, ch, queue)[3] == b"direct to the queue"

    deleted = driver.rpc(ch.queue_delete, queue)
    assert isinstance(deleted.method, spec.Queue.DeleteOk)
    assert deleted.method.message_count == 1


def test_basic_qos_and_recover(driver: AdapterDriver, opened: Opened, qname: str) -> None:
    _, ch = opened
    qos = driver.rpc(ch.basic_qos, prefetch_count=5, global_qos=False)
    assert isinstance(qos.method, spec.Basic.QosOk)
    declare(driver, ch, qname)
    ch.basic_publish("", qname, b"to be recovered")
    first = get_one(driver, ch, qname, auto_ack=False)
    assert first[1].redelivered is False
    recovered = driver.rpc(ch.basic_recover, requeue=True)
    assert isinstance(recovered.method, spec.Basic.RecoverOk)
    again = get_one(driver, ch, qname, auto_ack=True)
    assert again[1].redelivered is True and again[3] == b"to be recovered"


def test_basic_consume_delivers_and_cancel_stops(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    rec = Recorder()
    tag = ch.basic_consume(qname, rec.cb("deliver"), auto_ack=True, callback=rec.cb("consume_ok"))
    match = TAG_FORMAT.fullmatch(tag)
    assert match and int(match.group(1)) == ch.channel_number
    assert tag in ch.consumer_tags
    driver.run_until(lambda: rec.has("consume_ok"))
    assert rec.first("consume_ok")[0].method.consumer_tag == tag

    props = spec.BasicProperties(content_type="text/plain", headers={"k": "v"}, delivery_mode=2)
    ch.basic_publish("", qname, "héllo", properties=props)
    ch.basic_publish("", qname, b"")
    driver.run_until(lambda: rec.has("deliver", 2))
    (channel, method, properties, body), (_, _, _, empty_body) = rec.args("deliver")
    assert channel is ch
    assert isinstance(method, spec.Basic.Deliver)
    assert (method.consumer_tag, method.routing_key, method.exchange) == (tag, qname, "")
    assert method.delivery_tag == 1 and method.redelivered is False
    assert isinstance(properties, spec.BasicProperties)
    assert properties.content_type == "text/plain" and properties.delivery_mode == 2
    assert properties.headers == {"k": "v"}
    assert body == "héllo".encode() and type(body) is bytes
    assert empty_body == b"" and type(empty_body) is bytes

    cancel = driver.rpc(ch.basic_cancel, tag)
    assert isinstance(cancel.method, spec.Basic.CancelOk)
    assert cancel.method.consumer_tag == tag
    assert ch.consumer_tags == []


def test_basic_consume_with_caller_tag_and_legacy_argument_order(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    rec, oks = Recorder(), Recorder()
    assert ch.basic_consume(qname, rec.cb("a"), consumer_tag="mine") == "mine"
    # The pika 0.x argument order of the seeds; publishes overtake the queued ConsumeOk wait.
    legacy = ch.basic_consume(rec.cb("b"), queue=qname, no_ack=True, callback=oks.cb("ok"))
    assert TAG_FORMAT.fullmatch(legacy)
    assert sorted(ch.consumer_tags) == sorted(["mine", legacy])
    driver.run_until(lambda: oks.has("ok"))
    for n in range(4):
        ch.basic_publish("", qname, f"m{n}")
    driver.run_until(lambda: len(rec.calls) == 4, what="4 deliveries over two consumers")
    assert set(rec.names()) == {"a", "b"}  # round-robin over both consumers


def test_basic_get_ok_and_empty(driver: AdapterDriver, opened: Opened, qname: str) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    assert get_one(driver, ch, qname) == "empty"
    ch.basic_publish("", qname, b"one", properties=spec.BasicProperties(message_id="id-1"))
    channel, method, properties, body = get_one(driver, ch, qname, auto_ack=False)
    assert channel is ch
    assert isinstance(method, spec.Basic.GetOk)
    assert method.message_count == 0 and method.routing_key == qname
    assert properties.message_id == "id-1" and body == b"one"
    ch.basic_ack(method.delivery_tag)
    assert get_one(driver, ch, qname) == "empty"


def test_ack_nack_reject(driver: AdapterDriver, opened: Opened, qname: str) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    rec = Recorder()
    ch.basic_consume(qname, rec.cb("deliver"))
    for body in (b"ack me", b"nack me", b"reject me", b"nack many 1", b"nack many 2"):
        ch.basic_publish("", qname, body)
    driver.run_until(lambda: rec.has("deliver", 5))
    tags = {args[3]: args[1].delivery_tag for args in rec.args("deliver")}
    ch.basic_ack(tags[b"ack me"])
    ch.basic_nack(tags[b"nack me"], requeue=False)  # dropped
    ch.basic_reject(tags[b"reject me"], requeue=True)  # redelivered
    driver.run_until(lambda: rec.has("deliver", 6), what="the rejected message again")
    _, method, _, body = rec.args("deliver")[5]
    assert (body, method.redelivered) == (b"reject me", True)
    ch.basic_nack(method.delivery_tag, multiple=True, requeue=False)  # covers the rest
    with pytest.raises(TypeError):
        ch.basic_reject("1")
    ch.basic_publish("", qname, b"marker")
    driver.run_until(lambda: rec.has("deliver", 7), what="the marker message")
    assert [args[3] for args in rec.args("deliver")[6:]] == [b"marker"]  # nothing requeued


def test_confirm_delivery_acks_every_publish(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    rec = Recorder()
    select_ok = driver.rpc(ch.confirm_delivery, rec.cb("ack_nack"))
    assert isinstance(select_ok.method, spec.Confirm.SelectOk)
    acked: set[int] = set()

    def confirmed() -> bool:
        for (frame,) in rec.args("ack_nack"):
            assert isinstance(frame.method, spec.Basic.Ack), frame
            tag = frame.method.delivery_tag
            acked.update(range(1, tag + 1) if frame.method.multiple else {tag})
        return acked >= {1, 2, 3, 4, 5}

    for n in range(5):
        ch.basic_publish("", qname, f"m{n}")
    driver.run_until(confirmed, what="5 publisher confirms")
    assert acked == {1, 2, 3, 4, 5}
    wait_count(driver, ch, qname, 5)


def test_flow_callback_gets_a_bool(driver: AdapterDriver, opened: Opened) -> None:
    _, ch = opened
    results: list[Any] = []
    ch.flow(True, callback=results.append)
    driver.run_until(lambda: bool(results))
    assert results == [True]
    assert ch.flow_active is True


def test_tx_select_commit_rollback(driver: AdapterDriver, opened: Opened, qname: str) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    assert isinstance(driver.rpc(ch.tx_select).method, spec.Tx.SelectOk)
    ch.basic_publish("", qname, b"rolled back")
    assert isinstance(driver.rpc(ch.tx_rollback).method, spec.Tx.RollbackOk)
    ch.basic_publish("", qname, b"committed")
    assert isinstance(driver.rpc(ch.tx_commit).method, spec.Tx.CommitOk)
    wait_count(driver, ch, qname, 1)
    assert get_one(driver, ch, qname)[3] == b"committed"  # not the rolled back one


def test_synchronous_rpcs_are_answered_in_request_order(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    rec = Recorder()
    ch.queue_declare(qname, exclusive=True, callback=rec.cb("declare"))
    ch.queue_bind(qname, "amq.fanout", callback=rec.cb("bind"))
    ch.basic_qos(prefetch_count=3, callback=rec.cb("qos"))
    ch.queue_purge(qname, callback=rec.cb("purge"))
    ch.queue_unbind(qname, "amq.fanout", callback=rec.cb("unbind"))
    driver.run_until(lambda: len(rec.calls) == 5)
    assert rec.names() == ["declare", "bind", "qos", "purge", "unbind"]
    assert rec.first("declare")[0].method.queue == qname


def test_callback_none_sends_nowait(driver: AdapterDriver, broker: Broker, qname: str) -> None:
    """With callback=None nothing is expected back: only the explicit RPCs are answered."""
    conn, _ = driver.open_connection(broker.params(heartbeat=0))
    ch = driver.open_channel(conn)
    exchange = unique_name("pika-it-x")
    before = conn.frames_received
    ch.exchange_declare(exchange, "fanout")
    ch.queue_declare(qname, exclusive=True)
    ch.queue_bind(qname, exchange)
    ch.confirm_delivery(lambda frame: None)
    ok = driver.rpc(ch.queue_declare, qname, passive=True)
    assert conn.frames_received == before + 1  # the passive DeclareOk and nothing else
    assert ok.method.queue == qname

    ch.basic_publish(exchange, "", b"routed through the nowait binding")
    assert get_one(driver, ch, qname)[3] == b"routed through the nowait binding"
    ch.queue_delete(qname)
    ch.exchange_delete(exchange)
    driver.rpc(ch.basic_qos, prefetch_count=1)
    assert conn.is_open and ch.is_open


def test_basic_cancel_without_callback_forgets_the_consumer_at_once(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    consumed = Recorder()
    tag = ch.basic_consume(qname, consumed.cb("deliver"), callback=consumed.cb("ok"))
    driver.run_until(lambda: consumed.has("ok"))
    ch.basic_cancel(tag)
    assert tag not in ch.consumer_tags
    ch.basic_publish("", qname, b"nobody listens")
    wait_count(driver, ch, qname, 1)
    assert not consumed.has("deliver")


def test_a_nowait_cancel_hands_back_what_is_already_on_the_way(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    for index in range(200):
        ch.basic_publish("", qname, b"%d" % index)
    wait_count(driver, ch, qname, 200)
    delivered: list[Any] = []

    def cancel_on_first(channel: Any, method: Any, properties: Any, body: bytes) -> None:
        delivered.append(method)
        if len(delivered) == 1:
            channel.basic_cancel(method.consumer_tag)  # no callback: nowait

    ch.basic_consume(qname, cancel_on_first)
    driver.run_until(lambda: len(delivered) >= 1)
    # The broker pushed all 200 before it saw the Cancel. The first stays with
    # the application (unacked); the rest go straight back to the queue rather
    # than sit unacked until the channel closes.
    wait_count(driver, ch, qname, 199)
    assert len(delivered) == 1


def test_consumer_tags_lists_active_consumers(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    tags = [ch.basic_consume(qname, _noop) for _ in range(3)]
    assert sorted(ch.consumer_tags) == sorted(tags)
    copy = ch.consumer_tags
    copy.clear()
    assert len(ch.consumer_tags) == 3  # a copy, not the live list
    driver.rpc(ch.basic_cancel, tags[1])
    assert sorted(ch.consumer_tags) == sorted([tags[0], tags[2]])


def test_a_second_confirm_delivery_replaces_the_ack_nack_callback(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    declare(driver, ch, qname)
    first, second = Recorder(), Recorder()
    driver.rpc(ch.confirm_delivery, first.cb("ack"))
    driver.rpc(ch.confirm_delivery, second.cb("ack"))
    ch.basic_publish("", qname, b"confirmed once")
    driver.run_until(lambda: second.has("ack"))
    driver.run_for(0.1)
    assert not first.calls  # pika 1.4: replaced, not added (API.md §28)
    assert second.first("ack")[0].method.delivery_tag == 1
