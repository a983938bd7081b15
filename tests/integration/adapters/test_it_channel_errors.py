"""Error paths a user can hit on a channel, on every adapter (API.md §4.6, §26.4, §30)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

import pika
from pika import exceptions, spec
from tests.support.adapter_driver import AdapterDriver, Recorder, unique_name

if TYPE_CHECKING:
    from tests.conftest import Broker

Opened = tuple[Any, Any]


@dataclass(frozen=True)
class RestrictedUser:
    """A vhost where ``user`` has no permissions at all and ``reader`` may only read."""

    vhost: str
    user: str
    reader: str
    password: str


@pytest.fixture(scope="module")
def restricted(broker: Broker) -> Iterator[RestrictedUser]:
    node = broker.require_node()
    suffix = secrets.token_hex(4)
    made = RestrictedUser(
        f"pika-it-vhost-{suffix}", f"pika-it-none-{suffix}", f"pika-it-ro-{suffix}", "pw"
    )
    node.add_vhost(made.vhost)
    node.add_user(made.user, made.password)
    node.add_user(made.reader, made.password)
    node.set_permissions(made.reader, made.vhost, configure="^$", write="^$", read=".*")
    try:
        yield made
    finally:
        node.delete_vhost(made.vhost)
        node.delete_user(made.user)
        node.delete_user(made.reader)


def closed_by_broker(driver: AdapterDriver, ch: Any, rec: Recorder) -> exceptions.ChannelClosed:
    """Run until the channel's close callback reports; return its reason."""
    driver.run_until(lambda: rec.has("closed"), what="the channel close callback")
    channel, reason = rec.first("closed")
    assert channel is ch and ch.is_closed
    assert isinstance(reason, exceptions.ChannelClosedByBroker)
    return reason


def test_passive_declare_of_a_missing_queue_closes_the_channel_with_404(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    conn, ch = opened
    rec = Recorder()
    ch.add_on_close_callback(rec.cb("closed"))
    ch.queue_declare(qname, passive=True, callback=rec.cb("declared"))
    ch.queue_declare(unique_name(), exclusive=True, callback=rec.cb("queued behind"))
    reason = closed_by_broker(driver, ch, rec)
    assert reason.args[0] == 404 and reason.reply_code == 404
    assert reason.reply_text.startswith("NOT_FOUND") and qname in reason.reply_text
    assert reason.args == (reason.reply_code, reason.reply_text)
    driver.run_for(0.2)
    assert rec.names() == ["closed"]  # pending RPC callbacks are dropped silently

    again = driver.open_channel(conn)  # the connection is still usable; the number is reused
    assert again.channel_number == ch.channel_number
    assert conn.is_open


def test_publish_to_a_missing_exchange_closes_the_channel_with_404(
    driver: AdapterDriver, opened: Opened
) -> None:
    _, ch = opened
    rec = Recorder()
    ch.add_on_close_callback(rec.cb("closed"))
    exchange = unique_name("pika-it-missing-x")
    ch.basic_publish(exchange, "rk", b"lost")
    reason = closed_by_broker(driver, ch, rec)
    assert reason.reply_code == 404 and exchange in reason.reply_text


def test_user_without_permissions_on_the_vhost_is_denied_access(
    driver: AdapterDriver, broker: Broker, restricted: RestrictedUser
) -> None:
    params = broker.params(
        virtual_host=restricted.vhost,
        credentials=pika.PlainCredentials(restricted.user, restricted.password),
    )
    rec = Recorder()
    driver.connect(params, on_open_error=rec.cb("open_error"), on_close=rec.cb("close"))
    driver.run_until(lambda: bool(rec.calls))
    assert rec.names() == ["open_error"]
    error = rec.first("open_error")[1]
    assert isinstance(error, exceptions.ProbableAccessDeniedError)
    assert "530" in repr(error) and restricted.vhost in repr(error)


def test_declare_without_configure_permission_closes_the_channel_with_403(
    driver: AdapterDriver, broker: Broker, restricted: RestrictedUser, qname: str
) -> None:
    params = broker.params(
        virtual_host=restricted.vhost,
        credentials=pika.PlainCredentials(restricted.reader, restricted.password),
    )
    conn, _ = driver.open_connection(params)
    ch = driver.open_channel(conn)
    rec = Recorder()
    ch.add_on_close_callback(rec.cb("closed"))
    ch.queue_declare(qname, callback=rec.cb("declared"))
    reason = closed_by_broker(driver, ch, rec)
    assert reason.args[0] == 403
    assert reason.reply_text.startswith("ACCESS_REFUSED")
    assert not rec.has("declared") and conn.is_open


def test_unroutable_mandatory_publish_is_returned_before_its_ack(
    driver: AdapterDriver, opened: Opened
) -> None:
    _, ch = opened
    rec = Recorder()
    ch.add_on_return_callback(rec.cb("returned"))
    driver.rpc(ch.confirm_delivery, rec.cb("confirm"))
    routing_key = unique_name("pika-it-nowhere")
    props = spec.BasicProperties(correlation_id="c-1")
    ch.basic_publish("", routing_key, b"nobody wants me", properties=props, mandatory=True)
    ch.basic_publish("", routing_key, b"silently dropped")  # not mandatory: no return
    driver.run_until(lambda: _acked(rec) >= {1, 2}, what="both publishes confirmed")

    assert rec.names()[0] == "returned"  # the Return comes before the first Ack
    assert len(rec.args("returned")) == 1
    channel, method, properties, body = rec.first("returned")
    assert channel is ch
    assert isinstance(method, spec.Basic.Return)
    assert (method.reply_code, method.reply_text) == (312, "NO_ROUTE")
    assert (method.exchange, method.routing_key) == ("", routing_key)
    assert properties.correlation_id == "c-1" and body == b"nobody wants me"


def _acked(rec: Recorder) -> set[int]:
    acked: set[int] = set()
    for (frame,) in rec.args("confirm"):
        assert isinstance(frame.method, spec.Basic.Ack), frame
        tag = frame.method.delivery_tag
        acked.update(range(1, tag + 1) if frame.method.multiple else {tag})
    return acked


def test_deleting_the_queue_under_a_consumer_notifies_the_cancel_callback(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    conn, ch = opened
    driver.rpc(ch.queue_declare, qname, auto_delete=False, arguments={"x-expires": 60000})
    rec = Recorder()
    ch.add_on_cancel_callback(rec.cb("cancelled"))
    tag = ch.basic_consume(qname, rec.cb("deliver"), callback=rec.cb("consuming"))
    driver.run_until(lambda: rec.has("consuming"))

    other = driver.open_channel(conn)
    driver.rpc(other.queue_delete, qname)
    driver.run_until(lambda: rec.has("cancelled"), what="the broker's Basic.Cancel")
    (frame,) = rec.first("cancelled")
    assert isinstance(frame.method, spec.Basic.Cancel)
    assert frame.method.consumer_tag == tag
    assert tag not in ch.consumer_tags
    assert ch.is_open  # only the consumer is gone


def test_reject_publish_overflow_nacks_the_publish(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    arguments = {"x-max-length": 1, "x-overflow": "reject-publish"}
    driver.rpc(ch.queue_declare, qname, exclusive=True, arguments=arguments)
    rec = Recorder()
    driver.rpc(ch.confirm_delivery, rec.cb("confirm"))
    ch.basic_publish("", qname, b"fits")
    ch.basic_publish("", qname, b"overflows")
    driver.run_until(lambda: len(rec.calls) >= 2, what="two confirms")
    outcome = {frame.method.delivery_tag: type(frame.method) for (frame,) in rec.args("confirm")}
    assert outcome == {1: spec.Basic.Ack, 2: spec.Basic.Nack}


def test_methods_on_a_closed_channel_raise_channel_wrong_state(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    rec = Recorder()
    ch.add_on_close_callback(rec.cb("closed"))
    ch.close()
    assert ch.is_closing
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"^Channel is closing\.$"):
        ch.queue_declare(qname)
    driver.run_until(lambda: rec.has("closed"))
    channel, reason = rec.first("closed")
    assert channel is ch and isinstance(reason, exceptions.ChannelClosedByClient)
    assert reason.args == (0, "Normal shutdown")  # Channel.close() defaults to 0

    calls = [
        lambda: ch.basic_publish("", qname, b"x"),
        lambda: ch.queue_declare(qname),
        lambda: ch.basic_consume(qname, print),
        lambda: ch.basic_ack(1),
        lambda: ch.basic_qos(prefetch_count=1),
        lambda: ch.confirm_delivery(print),
        lambda: ch.basic_get(qname, print),
        lambda: ch.close(),
    ]
    for call in calls:
        with pytest.raises(exceptions.ChannelWrongStateError, match=r"^Channel is closed\.$"):
            call()


def test_channel_methods_after_the_connection_closed_raise(
    driver: AdapterDriver, opened: Opened
) -> None:
    conn, ch = opened
    rec = Recorder()
    conn.add_on_close_callback(rec.cb("closed"))
    conn.close()
    driver.run_until(lambda: rec.has("closed"))
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"^Channel is closed\.$"):
        ch.basic_publish("", "rk", b"too late")
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()


def test_closing_a_channel_while_it_opens_swallows_the_open(
    driver: AdapterDriver, opened: Opened
) -> None:
    conn, _ = opened
    rec = Recorder()
    ch = conn.channel(on_open_callback=rec.cb("opened"))
    assert ch.is_opening
    ch.add_on_close_callback(rec.cb("closed"))
    ch.close()
    driver.run_until(lambda: rec.has("closed"))
    driver.run_for(0.1)
    assert rec.names() == ["closed"]
    assert isinstance(rec.first("closed")[1], exceptions.ChannelClosedByClient)
    assert ch.is_closed and conn.is_open


def test_duplicate_consumer_tag_and_duplicate_get(
    driver: AdapterDriver, opened: Opened, qname: str
) -> None:
    _, ch = opened
    driver.rpc(ch.queue_declare, qname, exclusive=True)
    ch.basic_consume(qname, print, consumer_tag="taken")
    with pytest.raises(exceptions.DuplicateConsumerTag) as info:
        ch.basic_consume(qname, print, consumer_tag="taken")
    assert info.value.args[0] == "taken"

    answered: list[Any] = []
    ch.add_callback(answered.append, [spec.Basic.GetEmpty])
    ch.basic_get(qname, print)
    with pytest.raises(exceptions.DuplicateGetOkCallback):
        ch.basic_get(qname, print)
    driver.run_until(lambda: bool(answered))
    assert ch.is_open
