"""ClosableDeferredQueue and ReceivedMessage, and the import contract of the adapter."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
from twisted.internet import defer

from pika.adapters.twisted_connection import ClosableDeferredQueue, ReceivedMessage
from tests.unit.twisted.twisted_support import Outcome, failure_of, result_of


def test_queue_is_a_deferred_queue_until_closed() -> None:
    queue: ClosableDeferredQueue[int] = ClosableDeferredQueue()
    assert isinstance(queue, defer.DeferredQueue)
    assert queue.closed is None
    assert queue.put(1) is None
    assert result_of(queue.get()) == 1
    waiting = Outcome(queue.get())
    queue.put(2)
    assert waiting.value == 2


def test_close_errbacks_waiting_gets_and_drops_pending_items() -> None:
    queue: ClosableDeferredQueue[int] = ClosableDeferredQueue()
    first, second = Outcome(queue.get()), Outcome(queue.get())
    reason = RuntimeError("gone")
    queue.close(reason)
    assert first.error is reason and second.error is reason
    assert queue.closed is reason

    other: ClosableDeferredQueue[int] = ClosableDeferredQueue()
    other.put(1)
    other.close(reason)
    assert other.pending == []


def test_get_and_put_fail_after_close() -> None:
    queue: ClosableDeferredQueue[int] = ClosableDeferredQueue()
    reason = ValueError("closed")
    queue.close(reason)
    assert failure_of(queue.get()) is reason
    put = queue.put(3)
    assert put is not None
    assert failure_of(put) is reason


def test_closing_twice_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    queue: ClosableDeferredQueue[int] = ClosableDeferredQueue()
    queue.close(RuntimeError("one"))
    with caplog.at_level(logging.WARNING, logger="pika.adapters.twisted_connection"):
        queue.close(RuntimeError("two"))
    assert "closed twice" in caplog.text
    assert str(queue.closed) == "one"


def test_size_and_backlog_are_those_of_deferred_queue() -> None:
    queue: ClosableDeferredQueue[int] = ClosableDeferredQueue(size=1, backlog=1)
    queue.put(1)
    with pytest.raises(defer.QueueOverflow):
        queue.put(2)
    queue.get()
    queue.get()
    with pytest.raises(defer.QueueUnderflow):
        queue.get()


def test_received_message_is_a_named_tuple() -> None:
    message = ReceivedMessage("ch", "method", "props", b"body")
    assert message._fields == ("channel", "method", "properties", "body")
    assert tuple(message) == ("ch", "method", "props", b"body")
    assert ReceivedMessage.__module__ == "pika.adapters.twisted_connection"


def test_import_without_twisted_names_the_extra() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["twisted"] = None  # as if Twisted were not installed
        try:
            import pika.adapters.twisted_connection
        except ImportError as exc:
            assert "pip install 'pika[twisted]'" in str(exc), exc
            assert isinstance(exc.__cause__, ImportError), exc.__cause__
            print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr
