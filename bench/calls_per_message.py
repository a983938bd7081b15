"""Function calls per message for the end-to-end scenarios (a load-proof cost measure).

msgs/s and CPU µs/msg swing with the load of a shared machine; the number of
calls the client makes per message does not. This runs a scenario of
e2e_bench.py under cProfile, profiling only the timed part (between
``Meter.start`` and ``Meter.stop``), and prints calls per message: Python
function calls, built-in (C) calls, and optionally the functions that make
up most of them.

    .venv/bin/python bench/calls_per_message.py --url URL [--count N] [--top 25] [SCENARIO ...]

Without scenario names it measures the four whose targets depend on the
per-message path (blocking_publish_confirm, rpc_latency, blocking_consume,
select_publish_confirm). Runs under any pika 1.x, like e2e_bench.py.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_bench
import raw_ceiling

import pika

DEFAULT_SCENARIOS = (
    "blocking_publish_confirm",
    "rpc_latency",
    "blocking_consume",
    "select_publish_confirm",
)
DEFAULT_COUNTS = {"rpc_latency": 500, "blocking_publish_confirm": 1000}


class ProfiledMeter(e2e_bench.Meter):
    """A Meter that profiles exactly the part the benchmark times."""

    profiler: cProfile.Profile | None = None

    def start(self) -> None:
        self.profiler = cProfile.Profile()
        super().start()
        self.profiler.enable()

    def stop(self) -> None:
        if self.profiler is not None:
            self.profiler.disable()
        super().stop()


def split_calls(stats: pstats.Stats) -> tuple[int, int]:
    """(Python function calls, built-in calls) recorded in ``stats``."""
    python = builtin = 0
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_prim, calls, *_rest) in table.items():
        if filename == "~":
            builtin += calls
        else:
            python += calls
    return python, builtin


def measure(name: str, url: str, count: int, top: int) -> dict[str, float]:
    """Run ``name`` once with ``count`` messages; calls per message (and print the top)."""
    scenario = e2e_bench.SCENARIOS[name]
    meter = ProfiledMeter(count, scenario.size)
    queue = f"bench.calls.{name}.{os.getpid()}"
    try:
        scenario.run(url, queue, meter)
    finally:
        raw_ceiling.delete_queue(url, queue)
    if meter.profiler is None:
        raise RuntimeError(f"{name}: the scenario never started its meter")
    stats = pstats.Stats(meter.profiler)
    python, builtin = split_calls(stats)
    if top:
        print(f"--- {name}: top {top} functions by calls ---", file=sys.stderr)
        stats.sort_stats("ncalls").print_stats(top)
    return {"python": python / count, "builtin": builtin / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(DEFAULT_SCENARIOS))
    parser.add_argument("--url", default=os.environ.get("PIKA_BENCH_URL"))
    parser.add_argument("--count", type=int, default=None, help="messages (default per scenario)")
    parser.add_argument("--top", type=int, default=0, help="print the N most-called functions")
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or PIKA_BENCH_URL is required")
    print(f"pika {pika.__version__} from {pika.__file__}")
    print(f"{'scenario':<26} {'py calls/msg':>12} {'C calls/msg':>12}")
    for name in args.scenarios:
        count = args.count or DEFAULT_COUNTS.get(name, 5000)
        result = measure(name, args.url, count, args.top)
        print(f"{name:<26} {result['python']:>12.1f} {result['builtin']:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
