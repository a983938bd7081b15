"""Smoke tests for bench/memory_backlog.py and bench/run_memory.py: tiny backlog, our package.

They check that the runs complete and report every field with sane values, never how
fast or how small the client was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.conftest import Broker

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "bench"
COUNT = 2000
RSS_FIELDS = (
    "rss_mib_before",
    "rss_mib_at_10pct",
    "rss_mib_at_50pct",
    "rss_mib_at_100pct",
    "peak_rss_mib",
)


def run_backlog(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(BENCH / "memory_backlog.py"), *args]
    done = subprocess.run(command, env=env, cwd="/", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def check_consumer(result: dict[str, Any], consumer: str) -> None:
    assert result["consumer"] == consumer
    assert (result["messages"], result["size"], result["prefetch"]) == (COUNT, 64, 1000)
    assert result["pika_file"] == str(ROOT / "pika" / "__init__.py")
    assert result["seconds"] > 0 and result["msgs_per_s"] > 0 and result["fill_seconds"] > 0
    assert all(result[key] > 0 for key in RSS_FIELDS)
    assert result["peak_rss_mib"] >= max(result[key] for key in RSS_FIELDS[:-1])
    growth = result["rss_mib_at_100pct"] - result["rss_mib_at_10pct"]
    assert result["rss_growth_mib_10_to_100pct"] == pytest.approx(growth)
    assert result["samples"] >= 101  # start + every 1% of a small backlog


@pytest.mark.parametrize("consumer", ["blocking", "select"])
def test_one_consumer_drains_the_backlog(broker: Broker, consumer: str) -> None:
    result = run_backlog("--url", broker.url, "--count", str(COUNT), "--consumer", consumer)
    check_consumer(result, consumer)


def test_all_runs_both_consumers_in_one_json(broker: Broker) -> None:
    result = run_backlog("--url", broker.url, "--count", str(COUNT))
    assert result["messages"] == COUNT
    check_consumer(result["blocking"], "blocking")
    check_consumer(result["select"], "select")


def test_sampler_picks_the_first_sample_at_each_checkpoint() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import memory_backlog
    finally:
        sys.path.remove(str(BENCH))
    sampler = memory_backlog.RssSampler(300)
    assert sampler.every == 3
    sampler.samples = [(0, 100), (30, 110), (150, 120), (300, 130)]
    assert [sampler.at(f) for f in memory_backlog.CHECKPOINTS] == [110, 120, 130]


def test_report_renders_results_and_failures() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import run_memory
    finally:
        sys.path.remove(str(BENCH))
    ok: dict[str, Any] = {"messages": 1000, "seconds": 2.0, "msgs_per_s": 500.0}
    ok |= {key: 10.0 for key in run_memory.RSS_COLUMNS}
    results: dict[tuple[str, str], dict[str, Any] | str] = {
        ("blocking", "ours"): ok,
        ("select", "pika 1.4.4"): "exit 1: boom",
    }
    text = run_memory.report(results, 1000, "3.10.8", "0.0")
    assert (
        "| blocking | ours | 1,000 | 2.0 | 500 | 10.0 | 10.0 | 10.0 | 10.0 | 10.0 | 10.0 |" in text
    )
    assert "| select | pika 1.4.4 | FAILED: exit 1: boom |" in text
    assert "--count 1000" in text
