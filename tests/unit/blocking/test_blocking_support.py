"""Pure-logic pieces of the blocking face: error unwrapping, holders, queue surgery."""

from __future__ import annotations

import collections
import socket
import ssl

import pytest

import pika
from pika import exceptions, spec
from pika.adapters import _blocking_support as support
from pika.adapters.blocking_connection import ReturnedMessage, _config_list
from pika.adapters.utils import connection_workflow as cw


def _failed(*errors: BaseException) -> cw.AMQPConnectionWorkflowFailed:
    return cw.AMQPConnectionWorkflowFailed(list(errors))


def test_socket_connect_error_is_wrapped_in_amqp_connection_error() -> None:
    inner = cw.AMQPConnectorSocketConnectError(ConnectionRefusedError(111), host="h", port=1)
    error = support.connect_error(_failed(ValueError("first"), inner))
    assert type(error) is exceptions.AMQPConnectionError
    assert error.args == (inner,)
    assert (error.host, error.port) == ("h", 1)


@pytest.mark.parametrize(
    "inner",
    [
        exceptions.ProbableAuthenticationError("403"),
        exceptions.ProbableAccessDeniedError("530"),
        exceptions.ConnectionClosedByBroker(320, "forced"),
        cw.AMQPConnectorStackTimeout("too slow"),
    ],
)
def test_amqp_phase_errors_are_unwrapped(inner: BaseException) -> None:
    wrapped = cw.AMQPConnectorAMQPHandshakeError(inner, host="h", port=1)
    assert support.connect_error(_failed(wrapped)) is inner


def test_tls_errors_keep_their_ssl_class_and_say_where() -> None:
    inner = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
    wrapped = cw.AMQPConnectorTransportSetupError(inner, host="h", port=5671)
    error = support.connect_error(_failed(wrapped))
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert error.args == inner.args and error.__cause__ is inner
    assert "h:5671" in str(error) and "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert "trusts the CA" in str(error)
    assert repr(error).endswith("(host='h', port=5671)")
    plain = support.connect_error(
        _failed(cw.AMQPConnectorTransportSetupError(ssl.SSLError(1, "x")))
    )
    assert type(plain) is support.TLSHandshakeError and isinstance(plain, ssl.SSLError)


def test_other_ssl_error_classes_are_unwrapped_unchanged() -> None:
    inner = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    wrapped = cw.AMQPConnectorTransportSetupError(inner, host="h", port=5671)
    assert support.connect_error(_failed(wrapped)) is inner


def test_dns_failure_is_a_gaierror_and_an_amqp_connection_error() -> None:
    raw = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    failure = cw.AMQPConnectionWorkflowDNSFailed([raw], host="nowhere", port=5672)
    error = support.connect_error(failure)
    assert isinstance(error, socket.gaierror)
    assert isinstance(error, exceptions.AMQPConnectionError)
    assert error.args == raw.args and error.errno == socket.EAI_NONAME
    assert str(raw) in str(error) and "'nowhere' (port 5672)" in str(error)
    assert "check the host" in str(error)
    assert error.__cause__ is raw
    assert repr(error).endswith("(host='nowhere', port=5672)")


def test_other_failures_become_amqp_connection_errors() -> None:
    aborted = cw.AMQPConnectionWorkflowAborted()
    assert support.connect_error(aborted).args == (aborted,)
    empty = _failed()
    assert support.connect_error(empty).args == (empty,)


def test_timeout_closed_error_is_both_value_error_and_wrong_state() -> None:
    error = support.TimeoutClosedError("Timeout closed before call")
    assert isinstance(error, ValueError)
    assert isinstance(error, exceptions.ConnectionWrongStateError)
    assert str(error) == "Timeout closed before call"


def test_config_list() -> None:
    params = pika.ConnectionParameters()
    assert _config_list(params) == [params]
    assert _config_list([params, params]) == [params, params]
    assert _config_list((params,)) == [params]
    [default] = _config_list(None)
    assert (default.host, default.port) == ("localhost", 5672)
    with pytest.raises(ValueError):
        _config_list([])
    with pytest.raises(TypeError):
        _config_list("amqp://localhost")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _config_list([params, "x"])  # type: ignore[list-item]


def test_returned_message_is_a_plain_slotted_class() -> None:
    method = spec.Basic.Return(312, "NO_ROUTE", "", "rk")
    properties = spec.BasicProperties()
    message = ReturnedMessage(method, properties, b"body")
    assert (message.method, message.properties, message.body) == (method, properties, b"body")
    assert ReturnedMessage.__slots__ == ("body", "method", "properties")
    assert ReturnedMessage.__module__ == "pika.adapters.blocking_connection"
    with pytest.raises(AttributeError):
        message.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        _a, _b, _c = message  # type: ignore[misc]
    assert "4 bytes" in repr(message)


def test_reply_keeps_the_first_value_even_a_falsy_one() -> None:
    reply = support.Reply()
    assert not reply.done
    reply(False)
    reply(True)
    assert reply.done and reply.value is False


def test_get_reply() -> None:
    reply = support.GetReply()
    assert not reply.done
    reply.on_empty(None)  # type: ignore[arg-type]
    assert reply.done and reply.message is None
    full = support.GetReply()
    method, properties = spec.Basic.GetOk(), spec.BasicProperties()
    full.on_message(None, method, properties, b"x")
    assert full.done and full.message == (method, properties, b"x")


def test_user_timer_runs_once_and_not_after_removal() -> None:
    calls: list[int] = []
    timer = support.UserTimer(lambda: calls.append(1))
    timer.fire(None, None, None)
    timer.fire(None, None, None)
    assert calls == [1]
    removed = support.UserTimer(lambda: calls.append(2))
    removed.callback = None
    removed.fire(None, None, None)
    assert calls == [1]
    assert "done" in repr(timer)


def test_generator_consumer_buffers_and_counts_without_the_cancel_marker() -> None:
    consumer = support.GeneratorConsumer(None, ("q", False, False))  # type: ignore[arg-type]
    assert consumer.waiting_count() == 0
    method, properties = spec.Basic.Deliver(), spec.BasicProperties()
    consumer.deliver(None, method, properties, b"1")
    consumer.deliver(None, method, properties, b"2")
    assert consumer.waiting_count() == 2
    consumer.pending.append(None)
    assert consumer.waiting_count() == 2
    assert consumer.auto_ack is False


def test_consumer_queues_itself_with_the_delivery() -> None:
    queue: collections.deque[support.Entry] = collections.deque()
    consumer = support.Consumer(None, print, True, queue.append)  # type: ignore[arg-type]
    method, properties = spec.Basic.Deliver(), spec.BasicProperties()
    consumer.deliver(None, method, properties, b"x")
    assert list(queue) == [(consumer, method, properties, b"x")]


def test_remove_entries_keeps_order_and_identity_of_the_queue() -> None:
    queue = collections.deque([1, 2, 3, 4, 5])
    same = queue
    assert support.remove_entries(queue, lambda n: n % 2 == 0) == [2, 4]
    assert queue is same and list(queue) == [1, 3, 5]
    assert support.remove_entries(queue, lambda n: n > 10) == []
    assert list(queue) == [1, 3, 5]


def test_owner_of_sinks() -> None:
    class Owner:
        def sink(self, a: object, b: object, c: object) -> None:
            pass

    owner = Owner()
    consumer = support.Consumer(owner, print, True, print)  # type: ignore[arg-type]
    assert support.owner_of(consumer) is owner
    assert support.owner_of(owner.sink) is owner
    assert support.owner_of(support.call_now) is None
