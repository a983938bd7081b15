"""The thread-safe module's public surface and the checks made before connecting."""

from __future__ import annotations

import inspect
import math
import threading

import pytest

import pika
from pika import spec
from pika.adapters import thread_safe_connection as tsc
from pika.adapters._threadsafe_channel import _message_copy


def test_module_constants() -> None:
    assert tsc.DEFAULT_RPC_TIMEOUT == 10
    assert tsc.DEFAULT_WORK_QUEUE_MAXSIZE == 1000
    assert tsc.DEFAULT_WORK_QUEUE_PUT_TIMEOUT == 30.0


def test_public_classes_live_at_the_public_path() -> None:
    assert tsc.Connection.__module__ == "pika.adapters.thread_safe_connection"
    assert tsc.Channel.__module__ == "pika.adapters.thread_safe_connection"
    assert tsc.ReturnedMessage.__module__ == "pika.adapters.thread_safe_connection"


def test_constructor_signature() -> None:
    parameters = inspect.signature(tsc.Connection).parameters
    assert list(parameters) == [
        "parameters",
        "on_open_error_callback",
        "on_close_callback",
        "timeout",
        "work_queue_maxsize",
        "work_queue_put_timeout",
    ]
    assert parameters["parameters"].default is inspect.Parameter.empty
    assert parameters["timeout"].default == 10
    assert parameters["work_queue_maxsize"].default == 1000
    assert parameters["work_queue_put_timeout"].default == 30.0


@pytest.mark.parametrize("value", [None, 0, -1, math.nan, "5"])
def test_put_timeout_must_be_positive(value: object) -> None:
    threads = threading.active_count()
    with pytest.raises(ValueError, match="work_queue_put_timeout"):
        tsc.Connection(pika.ConnectionParameters(), work_queue_put_timeout=value)  # type: ignore[arg-type]
    assert threading.active_count() == threads  # rejected before any thread started


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_maxsize_must_be_a_non_negative_int(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="work_queue_maxsize"):
        tsc.Connection(pika.ConnectionParameters(), work_queue_maxsize=value)  # type: ignore[arg-type]


def test_callbacks_and_timeout_are_checked() -> None:
    params = pika.ConnectionParameters()
    with pytest.raises(TypeError, match="on_close_callback"):
        tsc.Connection(params, on_close_callback="nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_open_error_callback"):
        tsc.Connection(params, on_open_error_callback=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        tsc.Connection(params, timeout=-1)


def test_message_copy_encodes_and_snapshots() -> None:
    body = bytearray(b"abc")
    headers = {"k": 1}
    properties = spec.BasicProperties(content_type="text/plain", headers=headers)
    data, snapshot = _message_copy(body, properties)
    body[:] = b"xyz"
    headers["k"] = 2
    assert data == b"abc"
    assert snapshot.headers == {"k": 1}
    assert snapshot.content_type == "text/plain"
    assert _message_copy("é", None)[0] == "é".encode()
    assert isinstance(_message_copy(b"", None)[1], spec.BasicProperties)
    with pytest.raises(TypeError, match="body"):
        _message_copy(123, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="properties"):
        _message_copy(b"", {"content_type": "x"})  # type: ignore[arg-type]


def test_parameters_must_be_a_parameters_object() -> None:
    threads = threading.active_count()
    with pytest.raises(ValueError, match="Parameters") as info:
        tsc.Connection("amqp://guest:secret@localhost/")  # type: ignore[arg-type]
    assert "secret" not in str(info.value)
    assert threading.active_count() == threads
