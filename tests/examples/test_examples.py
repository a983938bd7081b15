"""Run every program in examples/ against the test broker and check what it printed.

Each example runs in a subprocess with the broker URL in ``AMQP_URL`` and
unique queue/exchange names in ``EXAMPLE_*`` variables, under a time limit.
``test_every_example_has_a_test`` fails when a file in examples/ is not run by
some test here, so a new example cannot go untested.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TypeVar

import pytest

import pika
from tests.conftest import Broker, TlsBroker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_LIMIT = 40.0  # seconds any one example may take, generous for a loaded machine
WAIT = 20.0  # seconds to wait for one expected line from a running example

_COVERED: set[str] = set()
_F = TypeVar("_F", bound=Callable[..., object])


def covers(*names: str) -> Callable[[_F], _F]:
    """Record that the decorated test runs these examples."""
    _COVERED.update(names)
    return lambda test: test


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def example_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMQP_", "EXAMPLE_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["AMQP_URL"] = url
    env.update(extra)
    return env


def run_example(name: str, url: str, **extra: str) -> str:
    """Run examples/NAME to completion; return its stdout, checked for a clean exit."""
    return run_example_expecting(0, name, url, extra)


def run_example_expecting(
    expect_rc: int, name: str, url: str, extra: dict[str, str], args: Sequence[str] = ()
) -> str:
    """Run examples/NAME with ``args``; check exit status and empty stderr; return stdout."""
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / name), *args],
            env=example_env(url, **extra),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name} ran longer than {RUN_LIMIT} s; output so far:\n{exc.stdout!r}")
    report = f"{name} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == expect_rc, report
    assert done.stderr == "", report  # no traceback, no logged warning
    return done.stdout


def assert_lines(output: str, *patterns: str) -> None:
    """Each pattern matches a whole line of ``output``, in this order."""
    lines = output.splitlines()
    position = 0
    for pattern in patterns:
        for index in range(position, len(lines)):
            if re.fullmatch(pattern, lines[index]):
                position = index + 1
                break
        else:
            pytest.fail(f"no line matching {pattern!r} (in order) in:\n{output}")


@pytest.fixture
def queues(broker: Broker) -> Iterator[list[str]]:
    """Names the test appends here are deleted from the broker afterwards."""
    names: list[str] = []
    yield names
    if names:
        with pika.BlockingConnection(broker.params()) as connection:
            channel = connection.channel()
            for name in names:
                channel.queue_delete(name)


# -- BlockingConnection ---------------------------------------------------------------------


@covers("demo.py")
def test_demo(broker: Broker) -> None:
    # demo.py takes the URL only as its argument.
    out = run_example_expecting(0, "demo.py", "amqp://nowhere.invalid", {}, [broker.url])
    assert_lines(out, r"connected to .*", r"received 5 of 5 messages; connection closed")


@covers("blocking_publish.py", "blocking_consume.py")
def test_blocking_publish_then_consume(broker: Broker, queues: list[str]) -> None:
    name = unique("example.tasks")
    queues.append(name)
    out = run_example("blocking_publish.py", broker.url, EXAMPLE_QUEUE=name, EXAMPLE_MESSAGES="3")
    assert_lines(out, *(f"published 'task {n}' to '{name}'" for n in (1, 2, 3)))
    assert_lines(out, r"done: 3 messages published")
    out = run_example("blocking_consume.py", broker.url, EXAMPLE_QUEUE=name, EXAMPLE_MESSAGES="3")
    handled = [rf"handling 'task {n}' \(delivery tag {n}\)" for n in (1, 2, 3)]
    assert_lines(out, f"waiting for messages on '{name}'", *handled, r"done: 3 messages handled")


@covers("blocking_consume.py")
def test_blocking_consume_stops_when_idle(broker: Broker, queues: list[str]) -> None:
    name = unique("example.tasks")
    queues.append(name)
    out = run_example("blocking_consume.py", broker.url, EXAMPLE_QUEUE=name, EXAMPLE_SECONDS="0.3")
    assert_lines(out, r"no message for 0.3 s, stopping", r"done: 0 messages handled")


@covers("consume_generator.py")
def test_consume_generator(broker: Broker, queues: list[str]) -> None:
    name = unique("example.generator")
    queues.append(name)
    out = run_example("consume_generator.py", broker.url, EXAMPLE_QUEUE=name)
    events = [rf"got 'event {n}' \(redelivered=False\)" for n in range(1, 6)]
    assert_lines(out, f"published 5 messages to '{name}'", *events, r"done: 5 of 5 messages read")


@covers("basic_get.py")
def test_basic_get(broker: Broker, queues: list[str]) -> None:
    name = unique("example.polled")
    queues.append(name)
    out = run_example("basic_get.py", broker.url, EXAMPLE_QUEUE=name)
    gets = [f"got 'job {n}', {3 - n} left" for n in (1, 2, 3)]
    assert_lines(out, *gets, "queue is empty", r"done: 3 fetched, 0 left in the queue")


@covers("confirms_blocking.py")
def test_confirms_blocking(broker: Broker, queues: list[str]) -> None:
    name = unique("example.confirmed")
    queues.append(name)
    out = run_example("confirms_blocking.py", broker.url, EXAMPLE_QUEUE=name)
    assert_lines(
        out,
        "'order 1': confirmed",
        "'order 3': confirmed",
        r"'one too many': rejected by the broker \(nack\)",
        r"'lost order': returned as unroutable \(NO_ROUTE\)",
        r"done: 3 of 3 messages confirmed",
    )


@covers("mandatory_returns.py")
def test_mandatory_returns(broker: Broker) -> None:
    name, exchange = unique("example.disk-alerts"), unique("example.alerts")
    env = {"EXAMPLE_QUEUE": name, "EXAMPLE_EXCHANGE": exchange}
    out = run_example("mandatory_returns.py", broker.url, **env)
    assert_lines(
        out,
        "published 'disk alert' with routing key 'disk'",
        "published 'cpu alert' with routing key 'cpu'",
        rf"returned 'cpu alert': 312 NO_ROUTE \(exchange '{exchange}', routing key 'cpu', "
        r"message id alert-2\)",
        rf"delivered to '{name}': 'disk alert'",
        "done",
    )
    assert len(re.findall(r"^returned ", out, re.MULTILINE)) == 1, out


@covers("rpc_direct_reply_to.py")
def test_rpc_direct_reply_to(broker: Broker) -> None:
    out = run_example("rpc_direct_reply_to.py", broker.url, EXAMPLE_QUEUE=unique("example.rpc"))
    answers = {10: 55, 11: 89, 12: 144, 13: 233, 14: 377}
    assert_lines(out, *(rf"client: fib\({n}\) = {f}" for n, f in answers.items()))
    assert_lines(out, r"server: stopped after 5 requests", r"done: 5 calls answered")


@covers("heartbeats_blocked.py")
def test_heartbeats_blocked(broker: Broker) -> None:
    out = run_example("heartbeats_blocked.py", broker.url, EXAMPLE_HEARTBEAT="1")
    assert_lines(
        out,
        r"broker proposed a \d+ s heartbeat; using 1 s",
        r"after 3 s of work in small steps the connection is open: True",
        r"the connection was lost: (StreamLostError|AMQPHeartbeatTimeout)",
        r"done: connection open = False",
    )


@covers("threaded_work.py")
def test_threaded_work(broker: Broker) -> None:
    out = run_example("threaded_work.py", broker.url, EXAMPLE_QUEUE=unique("example.threaded"))
    handled = re.findall(r"^(worker_\d) handled 'job (\d+)'$", out, re.MULTILINE)
    assert sorted(int(job) for _, job in handled) == list(range(1, 9)), out
    assert len({thread for thread, _ in handled}) > 1, out  # the work really was spread
    assert_lines(out, r"main thread MainThread consuming from .*", r"done: 8 of 8 .*")


@covers("threadsafe_connection.py")
def test_threadsafe_connection(broker: Broker) -> None:
    out = run_example("threadsafe_connection.py", broker.url, EXAMPLE_QUEUE=unique("ex.shared"))
    for producer in (1, 2, 3):
        assert_lines(out, f"producer-{producer} published 5 messages")
    got = [f"consumer got 5 messages from producer-{n}" for n in (1, 2, 3)]
    assert_lines(out, *got, r"done: 15 of 15 messages consumed")


@covers("url_parameters.py")
def test_url_parameters(broker: Broker) -> None:
    # The URL given as the first argument wins over AMQP_URL.
    args = [broker.url]
    out = run_example_expecting(0, "url_parameters.py", "amqp://nowhere.invalid", {}, args)
    assert_lines(
        out,
        rf"host={re.escape(broker.host)} port={broker.port} vhost='/'",
        "heartbeat=30 connection_attempts=3",
        r"retry_delay=1.0 socket_timeout=5.0",
        r"client_properties=\{'connection_name': 'url-parameters-example'\}",
        r"connected and declared 'amq\.gen-.*'",
        "done",
    )
    assert broker.password not in out.replace(f"user={broker.username}", "")


@covers("multiple_hosts.py")
def test_multiple_hosts(broker: Broker) -> None:
    out = run_example("multiple_hosts.py", broker.url)
    live = rf"{re.escape(broker.host)}:{broker.port}"
    assert_lines(
        out,
        r"candidate 1: 127\.0\.0\.1:\d+",
        f"candidate 2: {live}",
        f"connected to candidate 2: {live}",
        "done",
    )


# -- asynchronous adapters ------------------------------------------------------------------


@covers("confirms_async.py")
def test_confirms_async(broker: Broker, queues: list[str]) -> None:
    name = unique("example.fast")
    queues.append(name)  # deleted by the example itself unless it fails
    out = run_example("confirms_async.py", broker.url, EXAMPLE_QUEUE=name)
    assert_lines(
        out,
        f"publishing 1000 messages to '{name}', window 50",
        "all confirmed: 1000 acked, 0 nacked",
        r"connection closed: ConnectionClosedByClient.*",
        r"done: 1000 confirmed, at most 50 outstanding at once",
    )


@pytest.mark.parametrize(
    "example",
    ["asyncio_consumer.py", "tornado_consumer.py", "twisted_consumer.py", "gevent_consumer.py"],
)
@covers("asyncio_consumer.py", "tornado_consumer.py", "twisted_consumer.py", "gevent_consumer.py")
def test_framework_consumer(broker: Broker, example: str) -> None:
    name = unique(f"example.{example.split('_')[0]}")
    out = run_example(example, broker.url, EXAMPLE_QUEUE=name)
    received = [f"received 'message {n}'" for n in range(1, 6)]
    assert_lines(out, "connected", f"published 5 messages to '{name}'", *received)
    assert_lines(out, r"connection closed: .*", r"done: 5 of 5 messages consumed")


# -- TLS ------------------------------------------------------------------------------------


def tls_env(tls: TlsBroker, variant: str) -> dict[str, str]:
    env = {"AMQP_CA_CERT": str(tls.ca_cert)}
    if variant in ("client-cert", "external"):
        env.update(AMQP_CLIENT_CERT=str(tls.client_cert), AMQP_CLIENT_KEY=str(tls.client_key))
    if variant == "external":
        env["AMQP_TLS_EXTERNAL"] = "1"
    return env


@pytest.mark.parametrize("variant", ["server-verification", "client-cert", "external"])
@covers("tls_connect.py")
def test_tls_connect(tls_broker: TlsBroker, variant: str) -> None:
    url = f"amqps://guest:guest@{tls_broker.server_hostname}:{tls_broker.port}/%2F"
    out = run_example("tls_connect.py", url, **tls_env(tls_broker, variant))
    mechanism = "EXTERNAL" if variant == "external" else "PLAIN"
    assert ("presenting a client certificate" in out) == (variant != "server-verification")
    assert_lines(
        out,
        f"logging in with {mechanism} to {tls_broker.server_hostname}:{tls_broker.port}",
        "TLS connection open, broker certificate verified",
        "round trip over TLS: b'sent over TLS'",
        "done",
    )


@covers("tls_connect.py")
def test_tls_connect_rejects_an_untrusted_broker(tls_broker: TlsBroker) -> None:
    # Without the test CA only the system's CAs are trusted, and they did not sign the broker's.
    url = f"amqps://guest:guest@{tls_broker.server_hostname}:{tls_broker.port}/%2F"
    out = run_example_expecting(1, "tls_connect.py", url, {})
    assert_lines(out, r"certificate verification failed: .*certificate.*")


# -- the reconnecting consumer --------------------------------------------------------------


class RunningExample:
    """An example running in the background whose output lines can be awaited."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / name)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str) -> str:
        """Wait for the next line matching ``pattern``; fail after WAIT seconds."""
        deadline = time.monotonic() + WAIT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"exited before printing {pattern!r}: {self.transcript()}")
            self.seen.append(line)
            if re.fullmatch(pattern, line):
                return line
        pytest.fail(f"no line matching {pattern!r} within {WAIT} s: {self.transcript()}")

    def transcript(self) -> str:
        return "\n".join(self.seen)

    def finish(self) -> tuple[int, str]:
        """Wait for exit; return the exit status and stderr."""
        try:
            _, err = self.proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            pytest.fail(f"did not exit within {WAIT} s: {self.transcript()}\n{err}")
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def publish(broker: Broker, queue_name: str, body: str) -> None:
    with pika.BlockingConnection(broker.params()) as connection:
        connection.channel().basic_publish("", queue_name, body)


@covers("async_consumer_reconnect.py")
def test_async_consumer_reconnects_after_connection_loss(broker: Broker, queues: list[str]) -> None:
    node = broker.require_node()
    name, connection_name = unique("example.reconnect"), unique("example-consumer")
    queues.append(name)
    env = example_env(
        broker.url,
        EXAMPLE_QUEUE=name,
        EXAMPLE_MESSAGES="2",
        EXAMPLE_SECONDS="30",
        EXAMPLE_CONNECTION_NAME=connection_name,
    )
    example = RunningExample("async_consumer_reconnect.py", env)
    try:
        example.expect(r"connected \(attempt #1\)")
        example.expect(f"consuming from '{name}'")
        publish(broker, name, "first")
        example.expect(r"received 'first' \(redelivered=False\)")

        assert node.close_connection_named(connection_name, "example test") == 1
        example.expect(r"connection lost: ConnectionClosedByBroker: \(320\) .*")
        example.expect(r"reconnecting in 1\.0 s")
        example.expect(r"connected \(attempt #2\)")
        example.expect(f"consuming from '{name}'")
        publish(broker, name, "second")
        # 'first' again if its ack was lost with the connection; either proves consumption.
        example.expect(r"received '(first|second)' \(redelivered=(True|False)\)")
        example.expect(r"stopping: handled 2 messages")
        example.expect(r"done: 2 messages handled, 2 connection attempt\(s\)")
        returncode, err = example.finish()
    finally:
        example.kill()
    assert (returncode, err) == (0, ""), example.transcript()


@covers("recovering_consumer.py")
def test_recovering_consumer_carries_on_after_the_broker_closes_it(broker: Broker) -> None:
    node = broker.require_node()
    key, connection_name = unique("example.recovering"), unique("example-recovering")
    env = example_env(
        broker.url,
        EXAMPLE_ROUTING_KEY=key,
        EXAMPLE_MESSAGES="2",
        EXAMPLE_SECONDS="30",
        EXAMPLE_CONNECTION_NAME=connection_name,
    )
    example = RunningExample("recovering_consumer.py", env)
    try:
        example.expect(f"consuming: publish to amq.direct with routing key '{key}'")
        publish_to(broker, "amq.direct", key, "first")
        example.expect(r"received 'first' \(delivery tag 1\)")
        assert node.close_connection_named(connection_name, "example test") == 1
        example.expect(r"connection lost: ConnectionClosedByBroker: \(320, .*\); recovering")
        example.expect(r"recovered after 1 attempt\(s\), .* s down")
        publish_to(broker, "amq.direct", key, "second")
        # Delivery tags keep counting across the new connection.
        example.expect(r"received 'second' \(delivery tag 2\)")
        example.expect(r"done: 2 messages handled")
        returncode, err = example.finish()
    finally:
        example.kill()
    assert (returncode, err) == (0, ""), example.transcript()


def publish_to(broker: Broker, exchange: str, routing_key: str, body: str) -> None:
    with pika.BlockingConnection(broker.params()) as connection:
        connection.channel().basic_publish(exchange, routing_key, body)


# -- completeness ---------------------------------------------------------------------------


def test_every_example_has_a_test() -> None:
    present = {path.name for path in EXAMPLES.glob("*.py")}
    untested = sorted(present - _COVERED)
    assert not untested, f"examples with no test in {Path(__file__).name}: {untested}"
    assert not _COVERED - present, f"tests for missing examples: {sorted(_COVERED - present)}"


def test_every_example_says_how_to_run_it() -> None:
    for path in sorted(EXAMPLES.glob("*.py")):
        source = path.read_text()
        assert source.startswith('"""'), f"{path.name} has no module docstring"
        assert "Usage: python examples/" in source, f"{path.name} has no usage line"
