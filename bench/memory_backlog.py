"""Client memory while draining a large backlog, runnable unchanged against any pika 1.x.

The queue is filled by ``raw_ceiling`` (no pika, so the fill leaves nothing in
the client's heap), then consumed with prefetch 1000 and one basic_ack per
message, by a BlockingConnection or a SelectConnection (one per process, so
the peak RSS belongs to that consumer alone). The current RSS
(/proc/self/statm) is sampled every 10,000 messages (more often for small
backlogs); the report gives it at 10%, 50% and 100% of the backlog, so a
flat profile shows as equal numbers, plus the peak (getrusage ru_maxrss, or
the largest sample if higher).

``--consumer all`` runs each consumer in a fresh process of this interpreter
and prints one JSON object with both results.

    python bench/memory_backlog.py --url amqp://guest:guest@127.0.0.1:5672/ [--count 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pika

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_bench  # public pika API only, like this script
import raw_ceiling  # stdlib-only: the fill is identical for both packages

COUNT = 1_000_000
SAMPLE_EVERY = 10_000
CHECKPOINTS = (0.1, 0.5, 1.0)
CONSUMERS = ("blocking", "select")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def current_rss_kib() -> int:
    """Resident set size now (statm's second field, in pages)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE_KIB


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


class RssSampler:
    """Current RSS every *every* messages, and at the end of the backlog."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.every = max(1, min(SAMPLE_EVERY, count // 100))
        self.samples: list[tuple[int, int]] = [(0, current_rss_kib())]

    def tick(self, received: int) -> None:
        if received % self.every == 0 or received == self.count:
            self.samples.append((received, current_rss_kib()))

    def at(self, fraction: float) -> int:
        """RSS of the first sample taken at or after *fraction* of the backlog."""
        target = fraction * self.count
        return next(rss for seen, rss in self.samples if seen >= target)


def blocking_consume(url: str, queue: str, meter: e2e_bench.Meter, sampler: RssSampler) -> None:
    connection, channel = e2e_bench.blocking_channel(url)
    channel.basic_qos(prefetch_count=e2e_bench.PREFETCH)
    received = [0]

    def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        ch.basic_ack(method.delivery_tag)
        received[0] += 1
        sampler.tick(received[0])

    meter.start()
    channel.basic_consume(queue, on_message)
    deadline = time.monotonic() + e2e_bench.TIMEOUT
    while received[0] < meter.count:
        connection.process_data_events(time_limit=1)
        e2e_bench.check_deadline(deadline, f"{received[0]} of {meter.count} delivered")
    meter.stop()
    connection.close()


class SelectDrain(e2e_bench.AsyncRun):
    """e2e_bench's SelectConnection consumer, but acking every message and sampling RSS."""

    def __init__(self, url: str, queue: str, meter: e2e_bench.Meter, sampler: RssSampler) -> None:
        super().__init__(url, queue, meter, "consume")
        self.sampler = sampler

    def _on_message(self, channel: Any, method: Any, _props: Any, _body: bytes) -> None:
        channel.basic_ack(method.delivery_tag)
        self.received += 1
        self.sampler.tick(self.received)
        if self.received == self.meter.count:
            self._finish()


def select_consume(url: str, queue: str, meter: e2e_bench.Meter, sampler: RssSampler) -> None:
    SelectDrain(url, queue, meter, sampler).run(asyncio_loop=False)


def measure(consumer: str, url: str, count: int) -> dict[str, Any]:
    """Fill a queue with *count* 64-byte messages, drain it, report time and RSS."""
    queue = f"bench.memory.{consumer}.{os.getpid()}"
    meter = e2e_bench.Meter(count)
    try:
        fill_start = time.perf_counter()
        raw_ceiling.fill(url, queue, count, raw_ceiling.SMALL_BODY)
        fill_seconds = time.perf_counter() - fill_start
        sampler = RssSampler(count)
        run = blocking_consume if consumer == "blocking" else select_consume
        run(url, queue, meter, sampler)
    finally:
        raw_ceiling.delete_queue(url, queue)
    return report(consumer, meter, sampler, fill_seconds)


def report(
    consumer: str, meter: e2e_bench.Meter, sampler: RssSampler, fill_seconds: float
) -> dict[str, Any]:
    mib = 1 / 1024
    at = {f"rss_mib_at_{round(f * 100)}pct": sampler.at(f) * mib for f in CHECKPOINTS}
    return {
        "consumer": consumer,
        "messages": meter.count,
        "size": meter.size,
        "prefetch": e2e_bench.PREFETCH,
        "seconds": meter.seconds,
        "msgs_per_s": meter.count / meter.seconds,
        "cpu_us_per_msg": meter.cpu * 1e6 / meter.count,
        "fill_seconds": fill_seconds,
        "rss_mib_before": sampler.samples[0][1] * mib,
        **at,
        "rss_growth_mib_10_to_100pct": at["rss_mib_at_100pct"] - at["rss_mib_at_10pct"],
        # ru_maxrss lags the live counters a little: never report a peak below a sample.
        "peak_rss_mib": max(peak_rss_kib(), *(rss for _, rss in sampler.samples)) * mib,
        "samples": len(sampler.samples),
        "pika": pika.__version__,
        "pika_file": pika.__file__,
        "python": sys.version.split()[0],
    }


def run_all(url: str, count: int) -> dict[str, Any]:
    """Each consumer in a fresh process of this interpreter, same environment."""
    results = {}
    for consumer in CONSUMERS:
        command = [sys.executable, __file__, "--url", url, "--count", str(count)]
        done = subprocess.run(
            [*command, "--consumer", consumer],
            capture_output=True,
            text=True,
            check=False,
            timeout=e2e_bench.TIMEOUT * 2,
        )
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            raise RuntimeError(f"{consumer} consumer exited {done.returncode}: {tail}")
        results[consumer] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"messages": count, "pika": pika.__version__, "pika_file": pika.__file__, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PIKA_BENCH_URL"))
    parser.add_argument("--count", type=int, default=COUNT, help="messages in the backlog")
    parser.add_argument("--consumer", choices=[*CONSUMERS, "all"], default="all")
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or PIKA_BENCH_URL is required")
    if args.count < 1:
        parser.error("--count must be positive")
    if args.consumer == "all":
        print(json.dumps(run_all(args.url, args.count)))
    else:
        print(json.dumps(measure(args.consumer, args.url, args.count)))


if __name__ == "__main__":
    main()
