"""The select-connection IOLoop: timers, thread-safe callbacks, fd handlers, pollers."""

from __future__ import annotations

import select
import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

from pika.adapters import select_connection
from pika.adapters.select_connection import IOLoop
from tests.unit.adapters.adapter_support import WAIT, run_until

POLLER_CLASSES = {
    "epoll": select_connection.EPollPoller,
    "kqueue": select_connection.KQueuePoller,
    "poll": select_connection.PollPoller,
    "select": select_connection.SelectPoller,
}
AVAILABLE_POLLERS = [
    name
    for name in POLLER_CLASSES
    if name == "select" or (hasattr(select, name) and select_connection._poller_available(name))
]


def run(loop: IOLoop) -> None:
    run_until(loop.start, loop.stop, loop.call_later)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    yield left, right
    left.close()
    right.close()


# -- timers -------------------------------------------------------------------------


def test_timers_fire_in_deadline_order(ioloop: IOLoop) -> None:
    fired: list[str] = []
    ioloop.call_later(0.03, lambda: (fired.append("c"), ioloop.stop()))
    ioloop.call_later(0.01, lambda: fired.append("a"))
    ioloop.call_later(0.02, lambda: fired.append("b"))
    run(ioloop)
    assert fired == ["a", "b", "c"]


def test_call_later_binds_args_and_add_timeout_is_an_alias(ioloop: IOLoop) -> None:
    got: list[object] = []
    ioloop.call_later(0, lambda *a, **k: got.append((a, k)), 1, 2, key="v")
    ioloop.add_timeout(0.001, ioloop.stop)
    run(ioloop)
    assert got == [((1, 2), {"key": "v"})]


def test_remove_timeout_cancels_and_is_idempotent(ioloop: IOLoop) -> None:
    fired: list[str] = []
    handle = ioloop.call_later(0, lambda: fired.append("removed"))
    ioloop.remove_timeout(handle)
    ioloop.remove_timeout(handle)
    done = ioloop.call_later(0.001, ioloop.stop)
    run(ioloop)
    ioloop.remove_timeout(done)  # already fired: no-op
    assert fired == []


def test_timer_removed_by_an_earlier_timer_of_the_same_batch_does_not_run(
    ioloop: IOLoop,
) -> None:
    fired: list[str] = []
    handles = {}

    def first() -> None:
        fired.append("first")
        ioloop.remove_timeout(handles["second"])

    handles["first"] = ioloop.call_later(0, first)
    handles["second"] = ioloop.call_later(0, lambda: fired.append("second"))
    ioloop.process_timeouts()
    assert fired == ["first"]


def test_timer_added_by_a_timer_waits_for_the_next_iteration(ioloop: IOLoop) -> None:
    fired: list[str] = []
    ioloop.call_later(
        0, lambda: (fired.append("a"), ioloop.call_later(0, lambda: fired.append("b")))
    )
    ioloop.process_timeouts()
    assert fired == ["a"]
    ioloop.process_timeouts()
    assert fired == ["a", "b"]


def test_call_later_validates_arguments(ioloop: IOLoop) -> None:
    with pytest.raises(ValueError):
        ioloop.call_later(-1, ioloop.stop)
    with pytest.raises(TypeError):
        ioloop.call_later(1, "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ioloop.remove_timeout("not a handle")  # type: ignore[arg-type]
    ioloop.close()
    with pytest.raises(ValueError, match="Timeout closed before call"):
        ioloop.call_later(0, ioloop.stop)


def test_many_cancelled_timers_are_compacted(ioloop: IOLoop) -> None:
    handles = [ioloop.call_later(100, ioloop.stop) for _ in range(2000)]
    for handle in handles:
        ioloop.remove_timeout(handle)
    assert len(ioloop._timers._heap) < 2000
    assert len(ioloop._timers) == 0


# -- thread-safe callbacks ----------------------------------------------------------


def test_threadsafe_callback_wakes_a_blocked_poll_promptly(ioloop: IOLoop) -> None:
    running = threading.Event()
    ioloop.call_later(0, running.set)
    stopped_at: list[float] = []

    def from_thread() -> None:
        assert running.wait(WAIT)
        # Give the loop no timers: without a wake-up it would sleep the full 5 s poll cap.
        ioloop.add_callback_threadsafe(lambda: (stopped_at.append(time.monotonic()), ioloop.stop()))

    thread = threading.Thread(target=from_thread)
    began = time.monotonic()
    thread.start()
    run(ioloop)
    thread.join(WAIT)
    assert stopped_at and stopped_at[0] - began < 2.0


def test_threadsafe_callbacks_run_fifo_before_timers(ioloop: IOLoop) -> None:
    order: list[str] = []
    ioloop.call_later(0, lambda: order.append("timer"))
    ioloop.add_callback_threadsafe(lambda: order.append("cb1"))
    ioloop.add_callback(lambda: order.append("cb2"))
    ioloop.process_timeouts()
    assert order == ["cb1", "cb2", "timer"]


def test_callbacks_from_many_threads_all_run(ioloop: IOLoop) -> None:
    count = 400
    seen: list[int] = []

    def record(i: int) -> None:
        seen.append(i)
        if len(seen) == count:
            ioloop.stop()

    def producer(base: int) -> None:
        for i in range(100):
            ioloop.add_callback_threadsafe(lambda i=base + i: record(i))

    threads = [threading.Thread(target=producer, args=(n * 100,)) for n in range(4)]
    for thread in threads:
        thread.start()
    run(ioloop)
    for thread in threads:
        thread.join(WAIT)
    assert sorted(seen) == list(range(count))


def test_add_callback_threadsafe_after_close_does_not_crash(ioloop: IOLoop) -> None:
    ioloop.close()
    ioloop.add_callback_threadsafe(ioloop.stop)
    ioloop.close()  # idempotent


def test_add_callback_threadsafe_rejects_non_callables(ioloop: IOLoop) -> None:
    with pytest.raises(TypeError):
        ioloop.add_callback_threadsafe(None)  # type: ignore[arg-type]


# -- start / stop -------------------------------------------------------------------


def test_start_is_not_reentrant(ioloop: IOLoop) -> None:
    errors: list[BaseException] = []

    def nested() -> None:
        try:
            ioloop.start()
        except RuntimeError as exc:
            errors.append(exc)
        ioloop.stop()

    ioloop.call_later(0, nested)
    run(ioloop)
    assert len(errors) == 1
    assert "not reentrant" in str(errors[0])


def test_loop_can_be_restarted(ioloop: IOLoop) -> None:
    fired: list[int] = []
    for n in range(3):
        ioloop.call_later(0, lambda n=n: (fired.append(n), ioloop.stop()))
        run(ioloop)
    assert fired == [0, 1, 2]


def test_stop_before_start_returns_at_once_without_polling(ioloop: IOLoop) -> None:
    fired: list[str] = []
    ioloop.call_later(0, lambda: fired.append("timer"))
    ioloop.stop()
    ioloop.start()
    assert fired == []
    ioloop.call_later(0, ioloop.stop)
    run(ioloop)  # the next start runs normally
    assert fired == ["timer"]


def test_exception_from_timer_escapes_start_and_loop_survives(ioloop: IOLoop) -> None:
    fired: list[str] = []
    ioloop.call_later(0, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run(ioloop)
    ioloop.call_later(0, lambda: (fired.append("after"), ioloop.stop()))
    run(ioloop)
    assert fired == ["after"]


def test_timers_of_a_failed_batch_still_run_later(ioloop: IOLoop) -> None:
    fired: list[str] = []
    ioloop.call_later(0, lambda: 1 / 0)
    ioloop.call_later(0, lambda: fired.append("other"))
    with pytest.raises(ZeroDivisionError):
        ioloop.process_timeouts()
    ioloop.process_timeouts()
    # Same-deadline order is unspecified: "other" ran either before or after the error.
    assert fired == ["other"]


def test_exception_from_threadsafe_callback_escapes_start(ioloop: IOLoop) -> None:
    ioloop.add_callback_threadsafe(lambda: {}["missing"])
    with pytest.raises(KeyError):
        run(ioloop)


# -- fd handlers and pollers --------------------------------------------------------


@pytest.mark.parametrize("poller", AVAILABLE_POLLERS)
def test_forced_poller_handles_read_write_update_and_remove(
    monkeypatch: pytest.MonkeyPatch, poller: str, pair: tuple[socket.socket, socket.socket]
) -> None:
    monkeypatch.setattr(select_connection, "SELECT_TYPE", poller)
    loop = IOLoop()
    try:
        assert type(loop._poller) is POLLER_CLASSES[poller]
        _exercise_handlers(loop, *pair)
    finally:
        loop.close()


def _exercise_handlers(loop: IOLoop, left: socket.socket, right: socket.socket) -> None:
    seen: list[int] = []

    def handler(fd: int, events: int) -> None:
        assert fd == left.fileno()
        seen.append(events)
        if events & loop.READ:
            assert left.recv(100) == b"ping"
            loop.update_handler(fd, loop.WRITE)
        elif events & loop.WRITE:
            loop.remove_handler(fd)
            loop.stop()

    loop.add_handler(left.fileno(), handler, loop.READ)
    right.send(b"ping")
    run(loop)
    assert seen[0] & loop.READ
    assert seen[-1] & loop.WRITE
    # Removed: more data does not call the handler any more.
    right.send(b"more")
    loop.call_later(0.02, loop.stop)
    count = len(seen)
    run(loop)
    assert len(seen) == count


def test_poller_type_alias_wins_over_select_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        select_connection, "SELECT_TYPE", "poll" if "poll" in AVAILABLE_POLLERS else None
    )
    monkeypatch.setattr(select_connection, "POLLER_TYPE", "select")
    loop = IOLoop()
    try:
        assert type(loop._poller) is select_connection.SelectPoller
    finally:
        loop.close()


def test_unknown_poller_type_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_connection, "SELECT_TYPE", "bogus")
    with pytest.raises(ValueError, match="bogus"):
        IOLoop()


def test_automatic_poller_prefers_epoll_then_kqueue(ioloop: IOLoop) -> None:
    expected = (
        "epoll" if hasattr(select, "epoll") else "kqueue" if hasattr(select, "kqueue") else None
    )
    if expected is not None:
        assert type(ioloop._poller) is POLLER_CLASSES[expected]


def test_handler_removed_during_dispatch_is_not_called(
    ioloop: IOLoop, pair: tuple[socket.socket, socket.socket]
) -> None:
    other_left, other_right = socket.socketpair()
    try:
        called: list[int] = []
        fds = {pair[0].fileno(): other_left.fileno(), other_left.fileno(): pair[0].fileno()}

        def handler(fd: int, events: int) -> None:
            called.append(fd)
            ioloop.remove_handler(fds[fd])  # each removes the other one
            ioloop.remove_handler(fd)

        for fd in fds:
            ioloop.add_handler(fd, handler, ioloop.READ)
        pair[1].send(b"x")
        other_right.send(b"x")
        ioloop.call_later(0.02, ioloop.stop)
        run(ioloop)
        assert len(called) == 1
    finally:
        other_left.close()
        other_right.close()


def test_peer_close_is_reported_as_readable(
    ioloop: IOLoop, pair: tuple[socket.socket, socket.socket]
) -> None:
    seen: list[int] = []

    def handler(fd: int, events: int) -> None:
        seen.append(events)
        ioloop.remove_handler(fd)
        ioloop.stop()

    ioloop.add_handler(pair[0].fileno(), handler, ioloop.READ)
    pair[1].close()
    run(ioloop)
    assert seen and seen[0] & ioloop.READ


def test_add_handler_validates(ioloop: IOLoop, pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(TypeError):
        ioloop.add_handler("3", lambda fd, ev: None, ioloop.READ)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ioloop.add_handler(pair[0].fileno(), None, ioloop.READ)  # type: ignore[arg-type]
    ioloop.add_handler(pair[0].fileno(), lambda fd, ev: None, ioloop.READ)
    with pytest.raises(ValueError):
        ioloop.add_handler(pair[0].fileno(), lambda fd, ev: None, ioloop.READ)
    ioloop.remove_handler(pair[0].fileno())
    ioloop.remove_handler(pair[0].fileno())  # not registered any more: no-op


def test_poll_waits_at_most_until_the_next_timer(ioloop: IOLoop) -> None:
    ioloop.activate_poller()
    ioloop.call_later(0.05, ioloop.stop)
    began = time.monotonic()
    ioloop.poll()
    elapsed = time.monotonic() - began
    ioloop.deactivate_poller()
    assert 0.03 <= elapsed < 2.0


def test_constants_match_poll_bits() -> None:
    assert (IOLoop.READ, IOLoop.WRITE, IOLoop.ERROR) == (1, 4, 8)
    assert select_connection.PollEvents.HANGUP == 16
    assert select_connection.PollPoller.POLL_TIMEOUT_MULT == 1000
    assert select_connection.SelectPoller._MAX_POLL_TIMEOUT == 5


class _FakeKevent:
    def __init__(self, ident: int, kq_filter: int, flags: int = 0) -> None:
        self.ident, self.filter, self.flags = ident, kq_filter, flags


class _FakeKqueue:
    def __init__(self) -> None:
        self.changes: list[tuple[int, int, int]] = []
        self.ready: list[_FakeKevent] = []
        self.closed = False

    def control(self, changes: Any, max_events: int, timeout: float | None = None) -> Any:
        if changes:
            self.changes.extend((c.ident, c.filter, c.flags) for c in changes)
            return []
        ready, self.ready = self.ready, []
        return ready

    def close(self) -> None:
        self.closed = True


def test_kqueue_poller_translates_interest_and_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """KQueuePoller against a scripted kqueue (the real one exists only on BSD/macOS)."""
    from pika.adapters import _select_pollers

    read_f, write_f, add, delete, error = -1, -2, 1, 2, 0x4000
    fake = types.SimpleNamespace(
        kqueue=_FakeKqueue,
        kevent=_FakeKevent,
        KQ_FILTER_READ=read_f,
        KQ_FILTER_WRITE=write_f,
        KQ_EV_ADD=add,
        KQ_EV_DELETE=delete,
        KQ_EV_ERROR=error,
    )
    monkeypatch.setattr(_select_pollers, "_SELECT", fake)
    poller = select_connection.KQueuePoller()
    kq = poller._kqueue
    seen: list[tuple[int, int]] = []
    poller.add_handler(5, lambda fd, ev: seen.append((fd, ev)), IOLoop.READ)
    poller.update_handler(5, IOLoop.READ | IOLoop.WRITE)
    poller.update_handler(5, IOLoop.WRITE)
    assert kq.changes == [(5, read_f, add), (5, write_f, add), (5, read_f, delete)]
    kq.ready = [_FakeKevent(5, write_f), _FakeKevent(5, read_f, error)]
    poller.poll(0)
    assert seen == [(5, IOLoop.WRITE | IOLoop.ERROR)]  # READ is masked: not watched any more
    poller.remove_handler(5)
    assert kq.changes[-1] == (5, write_f, delete)
    poller.close()
    assert kq.closed
