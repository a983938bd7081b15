"""The thread-safe Channel while automatic recovery suspends and resumes its impl.

The Channel is built on stand-ins for the thread-safe Connection and the
callback-style impl channel, and driven the way the I/O thread drives it:
``_recovery_listener(error)`` on suspension, ``_recovery_listener(None)`` on
resumption, ``_outcome_listener(error)`` for unsettled confirms.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pika import exceptions, spec
from pika.adapters._threadsafe_channel import Channel, _Get

Future = concurrent.futures.Future
WAIT = 10.0


class FakeConnection:
    """What Channel needs from the thread-safe Connection."""

    def __init__(self, publish_wait_timeout: float = 0.0, on_io_thread: bool = False) -> None:
        self._maxsize = 10
        self._put_timeout = 1.0
        self._publish_wait_timeout = publish_wait_timeout
        self._io_thread = on_io_thread
        self._reason = None
        self.deferred: list[Callable[[], Any]] = []
        self.closed_channels: list[Channel] = []

    def _track(self, future: Future[Any]) -> Future[Any]:
        return future

    def _on_io_thread(self) -> bool:
        return self._io_thread

    def _defer(self, work: Callable[[], Any]) -> None:
        self.deferred.append(work)

    def _channel_closed(self, channel: Channel) -> None:
        self.closed_channels.append(channel)


class FakeImpl:
    """What Channel needs from the callback-style channel."""

    channel_number = 3

    def __init__(self) -> None:
        self._confirm_listener: Any = None
        self._recovery_listener: Any = None
        self._outcome_listener: Any = None
        self.removed: list[tuple[Any, list[Any]]] = []
        self.is_open = True
        self.closes = 0

    def add_on_close_callback(self, callback: Any) -> None:
        self.on_close = callback

    def add_on_return_callback(self, callback: Any) -> None:
        pass

    def add_on_cancel_callback(self, callback: Any) -> None:
        pass

    def remove_callback(self, callback: Any, replies: list[Any]) -> bool:
        self.removed.append((callback, replies))
        return True

    def close(self) -> None:
        self.closes += 1


def make(**connection_options: Any) -> tuple[Channel, FakeConnection, FakeImpl]:
    connection = FakeConnection(**connection_options)
    impl = FakeImpl()
    channel = Channel(connection, impl)  # type: ignore[arg-type]
    return channel, connection, impl


def test_the_channel_registers_its_recovery_listeners() -> None:
    channel, _connection, impl = make()
    assert impl._recovery_listener == channel._on_recovery
    assert impl._outcome_listener == channel._on_outcome_unknown


def test_suspension_fails_every_reply_waiter_with_recovering() -> None:
    channel, _connection, impl = make()
    rpc: Future[Any] = Future()
    queued_get: Future[Any] = Future()
    on_wire: Future[Any] = Future()
    opener: Future[Any] = Future()
    channel._rpcs = {rpc, on_wire}
    channel._gets.append(("q", False, queued_get))
    getter = _Get(channel, on_wire, False)
    channel._getter = getter
    channel._opener = opener
    loss = exceptions.StreamLostError("gone")
    impl._recovery_listener(loss)
    for future in (rpc, queued_get, on_wire, opener):
        error = future.exception(0)
        assert isinstance(error, exceptions.ConnectionRecoveringError)
        assert error.__cause__ is loss
    assert impl.removed == [(getter.empty, [spec.Basic.GetEmpty])]
    assert channel._getter is None and not channel._rpcs and not channel._gets
    assert not channel._usable.is_set()


def test_a_late_answer_to_a_dropped_get_does_not_start_the_next_one() -> None:
    channel, _connection, impl = make()
    stale = _Get(channel, Future(), False)
    channel._getter = stale
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    channel._getter = current = _Get(channel, Future(), False)
    channel._get_answered(stale)
    assert channel._getter is current


def test_outcome_unknown_fails_its_tag_range_and_refuses_publishes_first() -> None:
    channel, _connection, impl = make()
    futures = {tag: Future() for tag in (1, 2, 3)}
    for tag, future in futures.items():
        channel._confirms.track(tag, future, spec.BasicProperties(), b"x")
    seen: list[bool] = []
    futures[1].add_done_callback(lambda _f: seen.append(channel._usable.is_set()))
    error = exceptions.PublishOutcomeUnknownError(3, 1, 2)
    impl._outcome_listener(error)
    assert futures[1].exception(0) is error and futures[2].exception(0) is error
    assert seen == [False]  # a thread woken by the failure already sees the suspension
    assert not futures[3].done()
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    leftover = futures[3].exception(0)
    assert isinstance(leftover, exceptions.PublishOutcomeUnknownError)
    assert (leftover.first_tag, leftover.last_tag) == (3, 3)


def test_publishing_while_suspended_raises_at_once_without_a_wait_timeout() -> None:
    channel, _connection, impl = make()
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    with pytest.raises(exceptions.ConnectionRecoveringError, match="basic_publish refused"):
        channel.basic_publish("", "q", b"x")
    with pytest.raises(exceptions.ConnectionRecoveringError, match="publish_with_confirm"):
        channel.publish_with_confirm("", "q", b"x")


def test_the_io_thread_never_waits_for_recovery() -> None:
    channel, _connection, impl = make(publish_wait_timeout=30.0, on_io_thread=True)
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    with pytest.raises(exceptions.ConnectionRecoveringError) as info:
        channel._await_recovery("basic_publish")
    assert "waiting" not in str(info.value)


def test_the_wait_for_recovery_is_bounded() -> None:
    channel, _connection, impl = make(publish_wait_timeout=0.05)
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    with pytest.raises(exceptions.ConnectionRecoveringError, match=r"after waiting 0\.05 s"):
        channel._await_recovery("basic_publish")


def test_a_waiting_publisher_goes_on_once_resumed() -> None:
    channel, _connection, impl = make(publish_wait_timeout=WAIT)
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    outcome: list[BaseException | None] = []

    def publish() -> None:
        try:
            channel._await_recovery("basic_publish")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    impl._recovery_listener(None)
    thread.join(WAIT)
    assert outcome == [None]


def test_a_close_wakes_a_waiting_publisher() -> None:
    channel, connection, impl = make(publish_wait_timeout=WAIT)
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    impl.on_close(impl, exceptions.ChannelClosedByClient(200, "bye"))
    channel._await_recovery("basic_publish")  # returns at once: the caller raises the reason
    with pytest.raises(exceptions.ChannelWrongStateError):
        channel._check_usable()
    assert connection.closed_channels == [channel]


def test_a_channel_whose_opener_failed_is_closed_once_resumed() -> None:
    channel, connection, impl = make()
    opener: Future[Any] = Future()
    channel._opener = opener
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    assert isinstance(opener.exception(0), exceptions.ConnectionRecoveringError)
    impl._recovery_listener(None)
    assert channel._opener is None and len(connection.deferred) == 1
    connection.deferred[0]()
    assert impl.closes == 1


def test_resuming_a_claimed_channel_closes_nothing() -> None:
    channel, connection, impl = make()
    impl._recovery_listener(exceptions.StreamLostError("gone"))
    impl._recovery_listener(None)
    assert channel._usable.is_set() and connection.deferred == []
