"""IOStepper: the blocking face's I/O step, over real sockets and a real IOLoop.

Every wait is bounded: steps are given a deadline or a timer bounds them, and
loops of steps stop after a fixed number of iterations or WAIT seconds.
"""

from __future__ import annotations

import socket
import threading
import time
import types
from collections.abc import Callable, Iterator

import pytest

from pika.adapters import select_connection
from pika.adapters._blocking_io import IOStepper
from pika.adapters.select_connection import IOLoop
from pika.adapters.utils._stream_transports import _AsyncPlaintextTransport
from pika.adapters.utils.selector_ioloop_adapter import SelectorIOServicesAdapter
from tests.unit.adapters.adapter_support import WAIT, RecordingProtocol


class Stream:
    """A plaintext transport on one end of a socket pair; ``peer`` is the other end."""

    def __init__(self, loop: IOLoop) -> None:
        self.loop = loop
        self.nbio = SelectorIOServicesAdapter(loop)
        ours, self.peer = socket.socketpair()
        ours.setblocking(False)
        self.peer.settimeout(WAIT)
        self.protocol = RecordingProtocol()
        self.transport = _AsyncPlaintextTransport(ours, self.protocol, self.nbio)
        self.transport.start_reading()
        self.impl = types.SimpleNamespace(_transport=self.transport)
        self.stepper = IOStepper(loop)

    def step_until(self, condition: Callable[[], bool], max_steps: int = 50) -> int:
        """Step (each bounded by WAIT) until ``condition()``; return the number of steps."""
        deadline = time.monotonic() + WAIT
        for count in range(1, max_steps + 1):
            self.stepper.step(self.impl, deadline)
            if condition():
                return count
        raise AssertionError(f"condition not reached in {max_steps} steps")


@pytest.fixture
def stream() -> Iterator[Stream]:
    loop = IOLoop()
    loop.activate_poller()
    made = Stream(loop)
    yield made
    made.transport.abort()
    made.peer.close()
    loop.close()


def test_readable_socket_is_read_straight_into_the_protocol(stream: Stream) -> None:
    stream.peer.sendall(b"abc")
    assert stream.step_until(lambda: bytes(stream.protocol.data) == b"abc") == 1
    assert stream.stepper._fast  # the shortcut was taken: epoll and a plaintext transport


def test_a_step_with_nothing_to_do_returns_at_its_deadline(stream: Stream) -> None:
    stream.loop.call_later(WAIT, lambda: None)  # without the deadline, the wait would be long
    deadline = time.monotonic() + 0.02
    stream.stepper.step(stream.impl, deadline)
    assert deadline <= time.monotonic() < deadline + WAIT / 4
    assert stream.protocol.data == bytearray()


def test_a_past_deadline_means_no_waiting(stream: Stream) -> None:
    stream.loop.call_later(WAIT, lambda: None)  # without the deadline, the wait would be long
    start = time.monotonic()
    stream.stepper.step(stream.impl, 0.0)
    assert time.monotonic() - start < WAIT / 4


def test_timers_run_while_waiting_without_a_deadline(stream: Stream) -> None:
    fired: list[float] = []
    stream.loop.call_later(0.01, lambda: fired.append(time.monotonic()))
    stream.step_until(lambda: bool(fired))
    assert stream.protocol.data == bytearray()


def test_a_thread_safe_callback_ends_the_wait_and_runs(stream: Stream) -> None:
    ran = threading.Event()
    worker = threading.Thread(
        target=stream.loop.add_callback_threadsafe, args=(ran.set,), daemon=True
    )
    worker.start()
    stream.step_until(ran.is_set)
    worker.join(WAIT)


def test_other_readiness_is_dispatched_the_general_way(stream: Stream) -> None:
    other, other_peer = socket.socketpair()
    seen: list[bytes] = []
    try:
        other.setblocking(False)
        stream.nbio.set_reader(other.fileno(), lambda: seen.append(other.recv(100)))
        other_peer.sendall(b"other")
        stream.peer.sendall(b"ours")
        stream.step_until(lambda: bool(seen) and bool(stream.protocol.data))
        assert seen == [b"other"]
        assert bytes(stream.protocol.data) == b"ours"
    finally:
        stream.nbio.remove_reader(other.fileno())
        other.close()
        other_peer.close()


def test_peer_eof_loses_the_connection(stream: Stream) -> None:
    stream.peer.sendall(b"last")
    stream.peer.shutdown(socket.SHUT_WR)
    stream.step_until(lambda: bool(stream.protocol.lost))
    assert bytes(stream.protocol.data) == b"last"
    assert stream.protocol.events[-2:] == ["eof", "lost"]


def test_an_error_in_data_received_aborts_the_transport(
    stream: Stream, caplog: pytest.LogCaptureFixture
) -> None:
    failure = RuntimeError("boom")
    stream.protocol.fail_on_data = failure
    stream.peer.sendall(b"x")
    with caplog.at_level("CRITICAL"):
        stream.step_until(lambda: bool(stream.protocol.lost))
    assert stream.protocol.lost == [failure]


def test_pending_output_takes_the_general_path_and_is_flushed(stream: Stream) -> None:
    stream.peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    payload = b"y" * (8 * 1024 * 1024)
    stream.transport.write(payload)
    assert stream.transport.get_write_buffer_size() > 0  # the kernel took only part of it
    received = bytearray()

    def drain() -> None:
        while len(received) < len(payload):
            received.extend(stream.peer.recv(1 << 20))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stream.step_until(lambda: stream.transport.get_write_buffer_size() == 0, max_steps=10_000)
    reader.join(WAIT)
    assert bytes(received) == payload


def test_without_a_transport_steps_still_run_timers() -> None:
    loop = IOLoop()
    try:
        loop.activate_poller()
        fired: list[bool] = []
        loop.call_later(0.0, lambda: fired.append(True))
        IOStepper(loop).step(types.SimpleNamespace(_transport=None), time.monotonic() + WAIT)
        assert fired == [True]
    finally:
        loop.close()


@pytest.mark.parametrize("poller", ["poll", "select"])
def test_other_pollers_use_the_general_step(poller: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select_connection, "SELECT_TYPE", poller)
    loop = IOLoop()
    loop.activate_poller()
    made = Stream(loop)
    try:
        made.peer.sendall(b"abc")
        made.step_until(lambda: bytes(made.protocol.data) == b"abc")
        assert not made.stepper._fast
    finally:
        made.transport.abort()
        made.peer.close()
        loop.close()


def test_a_new_transport_is_picked_up(stream: Stream) -> None:
    stream.peer.sendall(b"one")
    stream.step_until(lambda: bytes(stream.protocol.data) == b"one")
    second = Stream(stream.loop)
    try:
        second.impl = stream.impl
        stream.impl._transport = second.transport
        second.stepper = stream.stepper
        second.peer.sendall(b"two")
        second.step_until(lambda: bytes(second.protocol.data) == b"two")
    finally:
        second.transport.abort()
        second.peer.close()
    assert bytes(stream.protocol.data) == b"one"
