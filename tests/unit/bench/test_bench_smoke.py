"""Smoke tests for bench/: every scenario and ceiling mode runs, tiny counts, our package only.

They keep the benchmark scripts from rotting; they check that each run completes and
reports sane fields, never how fast it was.
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
SCENARIOS = [
    "blocking_publish",
    "blocking_consume",
    "blocking_publish_confirm",
    "select_publish_confirm",
    "select_consume",
    "asyncio_publish",
    "asyncio_consume",
    "rpc_latency",
    "large_publish",
    "large_consume",
]
CEILING_MODES = [("publish", 64), ("consume_ack", 64), ("consume_autoack", 64)]
CEILING_MODES += [("publish", 1 << 20), ("consume_ack", 1 << 20)]


def run_json(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd="/", capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_scenario_list_matches_the_script() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import e2e_bench
    finally:
        sys.path.remove(str(BENCH))
    assert sorted(e2e_bench.SCENARIOS) == sorted(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_e2e_scenario_runs_against_our_package(broker: Broker, scenario: str) -> None:
    count = 3 if scenario.startswith("large") else 30
    result = run_json(
        str(BENCH / "e2e_bench.py"), scenario, "--url", broker.url, "--count", str(count)
    )
    assert result["scenario"] == scenario
    assert result["count"] == count
    assert result["pika_file"] == str(ROOT / "pika" / "__init__.py")
    assert result["msgs_per_s"] > 0 and result["cpu_us_per_msg"] >= 0
    assert result["peak_rss_kib"] > 0
    if scenario == "rpc_latency":
        assert 0 < result["p50_us"] <= result["p99_us"]


@pytest.mark.parametrize(("mode", "size"), CEILING_MODES)
def test_raw_ceiling_mode_runs(broker: Broker, mode: str, size: int) -> None:
    count = 3 if size > 64 else 200
    script = str(BENCH / "raw_ceiling.py")
    result = run_json(
        script, "--url", broker.url, "--mode", mode, "--count", str(count), "--size", str(size)
    )
    assert (result["mode"], result["count"], result["size"]) == (mode, count, size)
    assert result["msgs_per_s"] > 0


def test_report_renders_failures_and_missing_values(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCH))
    args = run_all.parse_args(["--scenarios", "blocking_publish,rpc_latency", "--reps", "1"])
    session = run_all.Session("amqp://unused", args, tmp_path / "python")
    sample = {"msgs_per_s": 2000.0, "cpu_us_per_msg": 50.0, "peak_rss_kib": 20480}
    session.runs[(run_all.OURS, "blocking_publish")] = run_all.Runs([dict(sample)])
    session.runs[(run_all.PIKA144, "blocking_publish")] = run_all.Runs(
        [{**sample, "msgs_per_s": 1000.0}]
    )
    session.runs[(run_all.OURS, "rpc_latency")] = run_all.Runs([], ["exit 1: boom"])
    session.runs[(run_all.PIKA144, "rpc_latency")] = run_all.Runs(
        [dict(sample, p50_us=1.0, p99_us=2.0)]
    )
    session.runs[(run_all.RAW, "publish")] = run_all.Runs(
        [{**sample, "msgs_per_s": 4000.0, "mb_per_s": 1.0}]
    )
    text = run_all.report(session, "3.10.8", "0.0")
    assert (
        "| blocking_publish | 2,000 | 1,000 | 2.00 | 50.0 | 50.0 | 1.00 | 4,000 | 0.50 | 20 / 20 |"
        in text
    )
    assert "| rpc_latency | - | 2,000 | - |" in text
    assert "- ours rpc_latency: exit 1: boom" in text
