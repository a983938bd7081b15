"""The user's async-adapter examples (seeds 002 and 004) run as written against the broker.

Each snippet in ``snippets/`` is the seed's code with its indentation restored, Python 2
``print`` statements turned into calls, and, where the printed code cannot run, one
marked change (see the ``CHANGED FOR THE TEST`` comments). ``seed_runner.py`` points the
default port at the test broker and runs the snippet in a subprocess; the test checks
what it printed and what reached the broker. The queue names are the seeds' own, so
each test deletes its queue before and after.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pika import spec
from tests.support.adapter_driver import AdapterDriver, make_driver, require_adapter

if TYPE_CHECKING:
    from tests.conftest import Broker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
RUNNER = HERE / "seed_runner.py"
SNIPPETS = HERE / "snippets"

#: Bound for a seed to print something or finish (seconds).
WAIT = 30.0


class SeedProcess:
    """One seed running in a subprocess; its output lines are collected by a thread."""

    def __init__(self, snippet: str, port: int, epilogue: str | None = None) -> None:
        argv = [sys.executable, str(RUNNER), str(port), str(SNIPPETS / snippet)]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [*argv, *([epilogue] if epilogue else [])],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _drain(self, timeout: float) -> bool:
        """Collect one line (or EOF) within *timeout*; False on EOF."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            return True
        if line is None:
            self._queue.put(None)  # stay at EOF for later calls
            return False
        self.lines.append(line)
        return True

    def wait_for(self, text: str, timeout: float = WAIT) -> None:
        """Wait until a line containing *text* was printed."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._drain(remaining):
                raise AssertionError(f"the seed never printed {text!r}; output:\n{self.output}")

    def finish(self, timeout: float = WAIT) -> int:
        """Wait for the process to end by itself; return its exit status."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            message = f"the seed did not finish in {timeout:g} s:\n{self.output}"
            raise AssertionError(message) from None
        self._reader.join(5)
        while self._drain(0):
            pass
        return status

    def interrupt(self) -> None:
        """Ctrl-C."""
        self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def run_seed(broker: Broker) -> Iterator[Any]:
    started: list[SeedProcess] = []

    def start(snippet: str, epilogue: str | None = None) -> SeedProcess:
        seed = SeedProcess(snippet, broker.port, epilogue)
        started.append(seed)
        return seed

    yield start
    for seed in started:
        seed.kill()


class Harness:
    """The test's own connection to the broker, to prepare and inspect the seeds' queues."""

    def __init__(self, broker: Broker) -> None:
        self.driver: AdapterDriver = make_driver("select")
        name = {"connection_name": "seed-harness"}
        self.conn, _ = self.driver.open_connection(broker.params(client_properties=name))
        self.channel = self.driver.open_channel(self.conn)

    def fresh_queue(self, name: str, **kwargs: Any) -> None:
        """Delete *name*, then (if kwargs or declare=True) declare it as the seed does."""
        self.driver.rpc(self.channel.queue_delete, name)
        self.driver.rpc(self.channel.queue_declare, name, **kwargs)

    def delete(self, name: str) -> None:
        self.driver.rpc(self.channel.queue_delete, name)

    def bodies(self, name: str) -> list[bytes]:
        """Take every message out of *name*."""
        got: list[bytes] = []
        while (message := self._get(name)) is not None:
            got.append(message[3])
        return got

    def _get(self, name: str) -> tuple[Any, ...] | None:
        """basic_get: (channel, method, properties, body), or None when empty."""
        answers: list[Any] = []
        self.channel.add_callback(answers.append, [spec.Basic.GetEmpty], one_shot=True)
        self.channel.basic_get(name, lambda *args: answers.append(args), auto_ack=True)
        self.driver.run_until(lambda: bool(answers), what=f"basic_get on {name}")
        if not isinstance(answers[0], tuple):
            return None
        self.channel.remove_callback(answers.append, [spec.Basic.GetEmpty])
        message: tuple[Any, ...] = answers[0]
        return message

    def consumers(self, name: str) -> int:
        """Consumers on *name*, 0 if it does not exist (asked on a throwaway channel)."""
        probe = self.driver.open_channel(self.conn)
        replies: list[Any] = []
        probe.queue_declare(name, passive=True, callback=replies.append)
        self.driver.run_until(lambda: bool(replies) or probe.is_closed, what="passive declare")
        if not replies:
            return 0  # 404: the example has not declared it yet
        probe.close()
        count: int = replies[0].method.consumer_count
        return count

    def wait_for_consumer(self, name: str) -> None:
        deadline = time.monotonic() + WAIT
        while self.consumers(name) < 1:
            assert time.monotonic() < deadline, f"no consumer on {name} within {WAIT} s"
            self.driver.run_for(0.05)

    def publish(self, name: str, body: bytes) -> None:
        self.channel.basic_publish("", name, body)
        self.driver.rpc(self.channel.basic_qos, prefetch_count=0)  # flushed and processed

    def close(self) -> None:
        self.driver.shutdown()


@pytest.fixture
def harness(broker: Broker) -> Iterator[Harness]:
    made = Harness(broker)
    try:
        yield made
    finally:
        made.close()


def test_002_asyncio_example(run_seed: Any, harness: Harness) -> None:
    require_adapter("asyncio")
    harness.delete("asyncio_test")
    try:
        seed = run_seed("002_asyncio.py.txt")
        assert seed.finish() == 0, seed.output
        assert seed.lines[:3] == ["Connection opened", "Channel opened", "Queue declared"]
        assert harness.bodies("asyncio_test") == [b"Hello AsyncIO!"]
    finally:
        harness.delete("asyncio_test")


def test_002_tornado_example(run_seed: Any, harness: Harness) -> None:
    require_adapter("tornado")
    harness.fresh_queue("tornado_test")
    try:
        seed = run_seed("002_tornado.py.txt")
        seed.wait_for("Channel opened")
        harness.wait_for_consumer("tornado_test")
        harness.publish("tornado_test", b"Hello Tornado!")
        seed.wait_for("Received: Hello Tornado!")
        assert seed.lines == ["Connection opened", "Channel opened", "Received: Hello Tornado!"]
        # As written, the example closes its channel and keeps the loop running.
        assert seed.proc.poll() is None
    finally:
        harness.delete("tornado_test")


def test_002_gevent_example(run_seed: Any, harness: Harness) -> None:
    require_adapter("gevent")
    harness.fresh_queue("gevent_test")  # the example publishes to it without declaring it
    try:
        seed = run_seed("002_gevent.py.txt")
        assert seed.finish() == 0, seed.output
        published = [f"Published: Message {i}" for i in range(5)]
        assert seed.lines == ["Connection opened", "Channel opened", *published]
        assert harness.bodies("gevent_test") == [f"Message {i}".encode() for i in range(5)]
    finally:
        harness.delete("gevent_test")


@pytest.mark.slow
def test_002_select_with_custom_ioloop_example(run_seed: Any, harness: Harness) -> None:
    harness.fresh_queue("select_test")  # published to every 2 s, never declared by the example
    try:
        seed = run_seed("002_select_custom_ioloop.py.txt")
        assert seed.finish() == 0, seed.output  # on_connection_closed stops the loop at 10 s
        assert seed.lines[:2] == ["Connection opened", "Channel opened"]
        assert seed.lines[2:] == ["Connection closed: (200, 'Normal shutdown')"]
        bodies = harness.bodies("select_test")
        assert 5 <= len(bodies) <= 6 and set(bodies) == {b"Hello Select!"}
    finally:
        harness.delete("select_test")


def test_002_adapter_comparison_factory(run_seed: Any) -> None:
    for adapter in ("select", "asyncio", "tornado"):
        require_adapter(adapter)
    seed = run_seed("002_adapter_factory.py.txt", "factory")
    assert seed.finish() == 0, seed.output
    assert seed.lines[:7] == [
        "Available adapters:",
        "- blocking: Synchronous operations",
        "- select: Event-driven with select/poll",
        "- asyncio: Python 3 async/await",
        "- tornado: Tornado web framework",
        "- twisted: Twisted framework",
        "- gevent: Gevent cooperative multitasking",
    ]
    # The epilogue then builds one connection of each kind with the seed's factory.
    assert seed.lines[7:13] == [
        "Select connection opened",
        "SelectConnection closed: True",
        "AsyncIO connection opened",
        "AsyncioConnection closed: True",
        "Tornado connection opened",
        "TornadoConnection closed: True",
    ]
    assert seed.lines[13:] in (
        ["BlockingConnection open: True"],
        ["blocking adapter not available"],
    )


def test_004_poller_type_override(run_seed: Any) -> None:
    seed = run_seed("004_poller_type.py.txt", "poller")
    assert seed.finish() == 0, seed.output
    assert seed.lines == [
        "ioloop: <IOLoop idle poller=EPollPoller>",
        "opened",
        "SelectConnection closed: True",
    ]


def _connection_names(broker: Broker) -> set[str]:
    return {row["name"] for row in broker.require_node().list_connections()}


def _wait_for_names(broker: Broker, done: Any, what: str) -> set[str]:
    """Poll the broker's connection list (a CLI call each time) until ``done(names)``."""
    deadline = time.monotonic() + WAIT
    while True:
        names = _connection_names(broker)
        if done(names):
            return names
        assert time.monotonic() < deadline, f"the broker never showed {what}"


def test_004_ctrl_c_closes_the_connection_gracefully(run_seed: Any, broker: Broker) -> None:
    before = _connection_names(broker)
    seed = run_seed("004_select_minimal.py.txt")
    mine = _wait_for_names(broker, lambda names: names - before, "the seed's connection") - before
    seed.interrupt()  # the seed then calls connection.close() and starts the loop again
    _wait_for_names(broker, lambda names: not names & mine, "the seed's connection closed")
    assert seed.finish(timeout=10) == 0, seed.output  # close() raised nothing


def test_004_after_ctrl_c_the_loop_stops_on_its_own(run_seed: Any, broker: Broker) -> None:
    before = _connection_names(broker)
    seed = run_seed("004_select_minimal.py.txt")
    _wait_for_names(broker, lambda names: names - before, "the seed's connection")
    seed.interrupt()
    assert seed.finish(timeout=5) == 0, seed.output


def test_004_continuation_passing_style_example(
    run_seed: Any, broker: Broker, harness: Harness
) -> None:
    harness.delete("test")
    seed = run_seed("004_select_cps.py.txt")
    try:
        harness.wait_for_consumer("test")
        harness.publish("test", b"Hello from the test")
        seed.wait_for("b'Hello from the test'")
        assert seed.lines == ["b'Hello from the test'"]
    finally:
        seed.kill()
        harness.delete("test")
