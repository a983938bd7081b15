"""Smoke tests for bench/codec_bench.py: every scenario runs and checks its output (tiny counts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODEC_BENCH = ROOT / "bench" / "codec_bench.py"
SCENARIOS = [
    "encode_public",
    "decode_public",
    "decode_unique_public",
    "encode_fast",
    "decode_fast",
    "decode_unique_fast",
]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(CODEC_BENCH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_codec_bench_reports_every_scenario() -> None:
    report = json.loads(run_bench("--number", "20", "--repeat", "1").stdout)
    assert report["fast_path"] is True
    assert set(report["results"]) == set(SCENARIOS)
    assert all(result["median"] > 0 for result in report["results"].values())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_codec_bench_loop_mode_checks_its_output(scenario: str) -> None:
    assert run_bench("--loop", scenario, "--count", "5").stdout == ""
