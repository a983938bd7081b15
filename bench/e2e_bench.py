"""End-to-end benchmark scenarios, runnable unchanged against any pika 1.x.

Only the public pika API is used, so the same file measures this rewrite and
pika 1.4.4 (whichever ``pika`` the interpreter imports). One scenario per
process, so peak RSS belongs to that scenario alone. Queues are filled and
deleted by ``raw_ceiling`` (no pika), identically for both packages; the
timed part starts once the connection and channel are set up.

Scenarios (64-byte bodies unless noted):

* ``blocking_publish``: BlockingChannel.basic_publish, no confirms;
* ``blocking_consume``: prefetch 1000, basic_ack per message;
* ``blocking_publish_confirm``: confirm_delivery, each publish waits;
* ``select_publish_confirm``: SelectConnection, up to 1000 confirms in flight;
* ``select_consume``: SelectConnection, prefetch 1000, multiple-ack every 100;
* ``asyncio_publish``: AsyncioConnection, no confirms;
* ``asyncio_consume``: AsyncioConnection, as select_consume;
* ``rpc_latency``: blocking request/reply round trips through a reply queue
  against a raw-socket echo server in another process (p50/p99);
* ``large_publish`` / ``large_consume``: blocking, 1 MiB bodies (prefetch 10).

Publish scenarios without confirms are timed until the broker counts every
message (a passive queue_declare poll on the same channel). Client CPU comes
from getrusage(RUSAGE_SELF) over the timed part. Prints one JSON object.

    python bench/e2e_bench.py SCENARIO --url amqp://guest:guest@127.0.0.1:5672/ [--count N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika

sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_ceiling  # stdlib-only sibling: works under either interpreter

SMALL = raw_ceiling.SMALL_BODY
LARGE = raw_ceiling.LARGE_BODY
PREFETCH = 1000
LARGE_PREFETCH = 10
CONFIRM_WINDOW = 1000
ACK_EVERY = 100
PUBLISH_BATCH = 1000
POLL_DELAY = 0.001
TIMEOUT = 600.0


@dataclass
class Meter:
    """Wall and CPU time over the timed part of a scenario."""

    count: int
    size: int = SMALL
    wall0: float = 0.0
    cpu0: float = 0.0
    seconds: float = 0.0
    cpu: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        self.cpu0, self.wall0 = raw_ceiling.cpu_seconds(), time.perf_counter()

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self.wall0
        self.cpu = raw_ceiling.cpu_seconds() - self.cpu0

    def result(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "size": self.size,
            "seconds": self.seconds,
            "msgs_per_s": self.count / self.seconds,
            "mb_per_s": self.count * self.size / self.seconds / 1e6,
            "cpu_us_per_msg": self.cpu * 1e6 / self.count,
            **self.extra,
        }


def check_deadline(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"benchmark stuck: {what}")


# --- Blocking scenarios -------------------------------------------------------


def blocking_channel(url: str) -> tuple[Any, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    return connection, connection.channel()


def wait_queue_count(channel: Any, queue: str, count: int) -> None:
    """Poll a passive declare until the broker holds *count* messages."""
    deadline = time.monotonic() + TIMEOUT
    while channel.queue_declare(queue, passive=True).method.message_count < count:
        check_deadline(deadline, f"queue {queue} never reached {count}")
        time.sleep(POLL_DELAY)


def blocking_publish(url: str, queue: str, meter: Meter, confirm: bool = False) -> None:
    connection, channel = blocking_channel(url)
    channel.queue_declare(queue)
    if confirm:
        channel.confirm_delivery()
    body = b"x" * meter.size
    meter.start()
    for _ in range(meter.count):
        channel.basic_publish("", queue, body)
    wait_queue_count(channel, queue, meter.count)
    meter.stop()
    connection.close()


def blocking_consume(url: str, queue: str, meter: Meter) -> None:
    raw_ceiling.fill(url, queue, meter.count, meter.size)
    connection, channel = blocking_channel(url)
    channel.basic_qos(prefetch_count=LARGE_PREFETCH if meter.size >= LARGE else PREFETCH)
    received = [0]

    def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        received[0] += 1
        ch.basic_ack(method.delivery_tag)

    meter.start()
    channel.basic_consume(queue, on_message)
    deadline = time.monotonic() + TIMEOUT
    while received[0] < meter.count:
        connection.process_data_events(time_limit=1)
        check_deadline(deadline, f"{received[0]} of {meter.count} delivered")
    meter.stop()
    connection.close()


def rpc_latency(url: str, queue: str, meter: Meter) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            raw_ceiling.__file__,
            "--url",
            url,
            "--mode",
            "rpc-server",
            "--queue",
            queue,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if server.stdout is None or server.stdout.readline().strip() != "ready":
            raise RuntimeError("rpc echo server did not start")
        _rpc_client(url, queue, meter)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _rpc_client(url: str, queue: str, meter: Meter) -> None:
    connection, channel = blocking_channel(url)
    reply_queue = channel.queue_declare("", exclusive=True).method.queue
    replies: list[str] = []
    channel.basic_consume(
        reply_queue, lambda _c, _m, props, _b: replies.append(props.correlation_id), auto_ack=True
    )
    body = b"x" * meter.size

    def call(correlation_id: str) -> None:
        props = pika.BasicProperties(reply_to=reply_queue, correlation_id=correlation_id)
        channel.basic_publish("", queue, body, props)
        deadline = time.monotonic() + 60
        while not replies:
            connection.process_data_events(time_limit=1)
            check_deadline(deadline, "no RPC reply")
        if replies.pop() != correlation_id:
            raise RuntimeError("RPC reply with the wrong correlation_id")

    for index in range(min(50, meter.count)):  # warm-up, not timed
        call(f"warm-{index}")
    latencies = []
    meter.start()
    for index in range(meter.count):
        t0 = time.perf_counter()
        call(str(index))
        latencies.append(time.perf_counter() - t0)
    meter.stop()
    connection.close()
    latencies.sort()
    meter.extra["p50_us"] = statistics.median(latencies) * 1e6
    meter.extra["p99_us"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6


# --- Callback (select / asyncio) scenarios ------------------------------------


class AsyncRun:
    """One callback-style scenario on SelectConnection or AsyncioConnection.

    ``mode`` is ``publish`` (no confirms, then poll the queue depth),
    ``confirm`` (a window of CONFIRM_WINDOW unconfirmed messages) or
    ``consume`` (prefetch 1000, multiple-ack every ACK_EVERY).
    """

    def __init__(self, url: str, queue: str, meter: Meter, mode: str) -> None:
        self.url, self.queue, self.meter, self.mode = url, queue, meter, mode
        self.body = b"x" * meter.size
        self.channel: Any = None
        self.connection: Any = None
        self.published = self.confirmed = self.last_tag = self.received = 0
        self.error: BaseException | str | None = None
        self.finished = False
        self._cancel_timeout: Callable[[], None] = lambda: None

    def run(self, asyncio_loop: bool) -> None:
        params = pika.URLParameters(self.url)
        callbacks: dict[str, Any] = {
            "on_open_callback": self._on_open,
            "on_open_error_callback": self._on_open_error,
            "on_close_callback": self._on_close,
        }
        if asyncio_loop:
            from pika.adapters.asyncio_connection import AsyncioConnection

            loop = asyncio.new_event_loop()
            self.connection = AsyncioConnection(params, custom_ioloop=loop, **callbacks)
            self._cancel_timeout = loop.call_later(TIMEOUT, self._stuck).cancel
            loop.run_forever()
            loop.close()
        else:
            self.connection = pika.SelectConnection(params, **callbacks)
            ioloop = self.connection.ioloop
            handle = ioloop.call_later(TIMEOUT, self._stuck)
            self._cancel_timeout = lambda: ioloop.remove_timeout(handle)
            ioloop.start()
        if self.error is not None or not self.finished:
            raise RuntimeError(f"{self.mode} scenario failed: {self.error!r}")

    def _stop_loop(self) -> None:
        self.connection.ioloop.stop()

    def _stuck(self) -> None:
        self.error = "timed out"
        self._stop_loop()

    def _on_open_error(self, _conn: Any, error: BaseException | str) -> None:
        self.error = error
        self._stop_loop()

    def _on_close(self, _conn: Any, reason: BaseException) -> None:
        if not self.finished:
            self.error = reason
        self._stop_loop()

    def _on_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        if self.mode == "consume":
            channel.basic_qos(prefetch_count=PREFETCH, callback=self._start_consume)
        elif self.mode == "confirm":
            channel.confirm_delivery(self._on_confirm, callback=self._declare)
        else:
            self._declare(None)

    def _declare(self, _frame: Any) -> None:
        self.channel.queue_declare(self.queue, callback=self._start_publish)

    def _finish(self) -> None:
        self.meter.stop()
        self.finished = True
        self._cancel_timeout()
        self.connection.close()

    # publishing
    def _start_publish(self, _frame: Any) -> None:
        self.meter.start()
        if self.mode == "confirm":
            self._publish(min(CONFIRM_WINDOW, self.meter.count))
        else:
            self._publish_batch()

    def _publish(self, number: int) -> None:
        publish, queue, body = self.channel.basic_publish, self.queue, self.body
        for _ in range(number):
            publish("", queue, body)
        self.published += number

    def _publish_batch(self) -> None:
        self._publish(min(PUBLISH_BATCH, self.meter.count - self.published))
        if self.published < self.meter.count:
            self.connection.ioloop.call_later(0, self._publish_batch)
        else:
            self._poll_depth()

    def _poll_depth(self) -> None:
        self.channel.queue_declare(self.queue, passive=True, callback=self._on_depth)

    def _on_depth(self, frame: Any) -> None:
        if frame.method.message_count >= self.meter.count:
            self._finish()
        else:
            self.connection.ioloop.call_later(POLL_DELAY, self._poll_depth)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        if method.NAME != "Basic.Ack":
            self.error = f"broker answered {method.NAME}"
            self._stop_loop()
            return
        tag = method.delivery_tag
        self.confirmed += tag - self.last_tag if method.multiple else 1
        self.last_tag = max(self.last_tag, tag)
        if self.confirmed >= self.meter.count:
            self._finish()
            return
        room = CONFIRM_WINDOW - (self.published - self.confirmed)
        self._publish(max(0, min(room, self.meter.count - self.published)))

    # consuming
    def _start_consume(self, _frame: Any) -> None:
        self.meter.start()
        self.channel.basic_consume(self.queue, self._on_message)

    def _on_message(self, channel: Any, method: Any, _props: Any, _body: bytes) -> None:
        self.received += 1
        if self.received % ACK_EVERY == 0 or self.received == self.meter.count:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if self.received == self.meter.count:
            self._finish()


def async_scenario(mode: str, asyncio_loop: bool) -> Callable[[str, str, Meter], None]:
    def scenario(url: str, queue: str, meter: Meter) -> None:
        if mode == "consume":
            raw_ceiling.fill(url, queue, meter.count, meter.size)
        AsyncRun(url, queue, meter, mode).run(asyncio_loop)

    return scenario


# --- Registry and command line -------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    run: Callable[[str, str, Meter], None]
    count: int
    size: int = SMALL


SCENARIOS: dict[str, Scenario] = {
    "blocking_publish": Scenario(blocking_publish, 50_000),
    "blocking_consume": Scenario(blocking_consume, 50_000),
    "blocking_publish_confirm": Scenario(
        lambda url, queue, meter: blocking_publish(url, queue, meter, confirm=True), 3_000
    ),
    "select_publish_confirm": Scenario(async_scenario("confirm", False), 50_000),
    "select_consume": Scenario(async_scenario("consume", False), 50_000),
    "asyncio_publish": Scenario(async_scenario("publish", True), 50_000),
    "asyncio_consume": Scenario(async_scenario("consume", True), 50_000),
    "rpc_latency": Scenario(rpc_latency, 2_000),
    "large_publish": Scenario(blocking_publish, 200, LARGE),
    "large_consume": Scenario(blocking_consume, 200, LARGE),
}


def run_scenario(name: str, url: str, count: int | None = None) -> dict[str, Any]:
    """Run one scenario and return its measurements (the JSON printed by main)."""
    scenario = SCENARIOS[name]
    meter = Meter(count or scenario.count, scenario.size)
    queue = f"bench.{name}.{os.getpid()}"
    try:
        scenario.run(url, queue, meter)
    finally:
        raw_ceiling.delete_queue(url, queue)
    return {
        "scenario": name,
        **meter.result(),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "pika": pika.__version__,
        "pika_file": pika.__file__,
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--url", default=os.environ.get("PIKA_BENCH_URL"))
    parser.add_argument("--count", type=int, default=None, help="messages (or RPC calls)")
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or PIKA_BENCH_URL is required")
    print(json.dumps(run_scenario(args.scenario, args.url, args.count)))


if __name__ == "__main__":
    main()
