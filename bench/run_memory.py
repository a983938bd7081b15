"""Run bench/memory_backlog.py against this package and pika 1.4.4; write the table.

Starts a private RabbitMQ node (unless ``--url`` or ``PIKA_BENCH_URL`` names a
broker), creates ``.venv-pika144`` when missing, runs each consumer
(blocking, select) once per package in a fresh process, interleaved, and
writes bench/results/memory.md.

    .venv/bin/python bench/run_memory.py [--count 1000000] [--url URL]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import memory_backlog  # noqa: E402
import raw_ceiling  # noqa: E402
import run_all  # noqa: E402
from codec_compare import baseline_python  # noqa: E402

RESULTS = BENCH / "results" / "memory.md"
RSS_COLUMNS = (
    "rss_mib_before",
    "rss_mib_at_10pct",
    "rss_mib_at_50pct",
    "rss_mib_at_100pct",
    "rss_growth_mib_10_to_100pct",
    "peak_rss_mib",
)
Results = dict[tuple[str, str], dict[str, Any] | str]


def measure(url: str, count: int, baseline: Path) -> Results:
    """Every (consumer, client) pair once; a failure is kept as its message."""
    pythons = {run_all.OURS: sys.executable, run_all.PIKA144: str(baseline)}
    results: Results = {}
    for index, consumer in enumerate(memory_backlog.CONSUMERS):
        order = (run_all.OURS, run_all.PIKA144)
        for client in order if index % 2 == 0 else order[::-1]:
            command = [
                pythons[client], str(BENCH / "memory_backlog.py"), "--url", url,
                "--count", str(count), "--consumer", consumer,
            ]  # fmt: skip
            try:
                result = run_all.json_run(command, run_all.client_env(client == run_all.OURS))
                run_all.check_package(result, client == run_all.OURS)
                results[(consumer, client)] = result
            except (RuntimeError, ValueError, IndexError, OSError) as exc:
                results[(consumer, client)] = str(exc)
            print(f"  {client:>10} {consumer:<8} {results[(consumer, client)]}", file=sys.stderr)
    return results


def row(consumer: str, client: str, result: dict[str, Any] | str) -> str:
    if isinstance(result, str):
        return f"| {consumer} | {client} | FAILED: {result} |" + " |" * 8
    cells = [f"{result['messages']:,}", f"{result['seconds']:.1f}", f"{result['msgs_per_s']:,.0f}"]
    cells += [f"{result[key]:.1f}" for key in RSS_COLUMNS]
    return f"| {consumer} | {client} | {' | '.join(cells)} |"


def report(results: Results, count: int, broker_version: str, load: str) -> str:
    header = [
        "# Client memory draining a backlog: this rewrite vs pika 1.4.4",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {run_all.machine()}; load average at start: {load}",
        f"- Python {platform.python_version()}; RabbitMQ {broker_version} on loopback",
        f"- command: `.venv/bin/python bench/run_memory.py --count {count}`",
        "",
        "A queue is filled with 64-byte messages by the raw-socket client (no pika),",
        "then drained with basic_qos(prefetch_count=1000) and one basic_ack per",
        "message; one consumer per fresh process. RSS is the process's current",
        "resident set (/proc/self/statm) when 10%, 50% and 100% of the backlog has",
        "been delivered; 'before' is after the fill, before the consumer connects;",
        "growth is RSS at 100% minus RSS at 10% (flat means about 0); peak is",
        "getrusage ru_maxrss over the whole process. MiB throughout.",
        "Most of the step from 'before' to 10% is modules imported on first connect:",
        "this package imports its engine and adapters lazily, pika 1.4.4 on `import pika`.",
        "",
        "| consumer | client | messages | seconds | msgs/s | RSS before | RSS 10% "
        "| RSS 50% | RSS 100% | growth 10→100% | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [row(consumer, client, result) for (consumer, client), result in results.items()]
    return "\n".join([*header, *rows, ""])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PIKA_BENCH_URL"))
    parser.add_argument("--count", type=int, default=memory_backlog.COUNT)
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    baseline = baseline_python()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    with run_all.broker_url(args.url) as url:
        client = raw_ceiling.RawClient(url)
        version = client.broker_version()
        client.close()
        results = measure(url, args.count, baseline)
    text = report(results, args.count, version, load)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
