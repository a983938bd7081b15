"""Run bench/codec_bench.py against this package and pika 1.4.4, side by side.

Creates ``.venv-pika144`` (``pip install pika==1.4.4``) when missing, then
alternates runs of both interpreters (interleaved rounds, so machine noise
hits both alike), takes the median over rounds, prints a table and writes it
to bench/results/codec.md. When valgrind is installed it also counts the
instructions each scenario executes per message (cachegrind), a figure that
machine noise cannot move.

    .venv/bin/python bench/codec_compare.py [--rounds 7] [--number 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "codec_bench.py"
VENV = ROOT / ".venv-pika144"
RESULTS = ROOT / "bench" / "results" / "codec.md"
INSTRUCTION_COUNTS = (1000, 11000)
SCENARIOS = {
    "encode": "encode Basic.Publish + header + 64-byte body",
    "decode": "decode Basic.Deliver + header + 64-byte body",
    "decode_unique": "decode, as above, property bytes unique per message",
}


def baseline_python() -> Path:
    """The pika 1.4.4 interpreter, creating its virtualenv on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        pip = [str(python), "-m", "pip", "install", "--quiet", "pika==1.4.4"]
        subprocess.run(pip, check=True, timeout=600)
    return python


def run(python: Path | str, ours: bool, number: int, repeat: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if ours:
        env["PYTHONPATH"] = str(ROOT)
    command = [str(python), str(BENCH), "--number", str(number), "--repeat", str(repeat)]
    # cwd outside the repository so the baseline cannot import our pika by accident.
    done = subprocess.run(
        command, env=env, cwd="/", capture_output=True, text=True, check=True, timeout=1800
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def collect(
    rounds: int, number: int, repeat: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    baseline = baseline_python()
    ours_runs: list[dict[str, Any]] = []
    base_runs: list[dict[str, Any]] = []
    for index in range(rounds):
        # Alternate who goes first so slow drifts do not favour one side.
        order = [True, False] if index % 2 == 0 else [False, True]
        for is_ours in order:
            report = run(sys.executable if is_ours else baseline, is_ours, number, repeat)
            (ours_runs if is_ours else base_runs).append(report)
    return ours_runs, base_runs


def instructions(python: Path | str, ours: bool, scenario: str) -> float:
    """Instructions per call of one scenario: two valgrind runs, differenced.

    The difference between 11,000 and 1,000 calls cancels start-up and
    import costs; the hash seed is fixed so dict layouts repeat run to run.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONHASHSEED"] = "0"
    if ours:
        env["PYTHONPATH"] = str(ROOT)
    totals = []
    for count in INSTRUCTION_COUNTS:
        command = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            str(python),
            str(BENCH),
            "--loop",
            scenario,
            "--count",
            str(count),
            # The same prepared messages in both runs, so preparing them cancels out.
            "--unique",
            str(max(INSTRUCTION_COUNTS)),
        ]
        done = subprocess.run(
            command, env=env, cwd="/", capture_output=True, text=True, check=True, timeout=1800
        )
        match = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if match is None:
            raise SystemExit(f"no instruction count from valgrind:\n{done.stderr}")
        totals.append(int(match.group(1).replace(",", "")))
    return (totals[1] - totals[0]) / (INSTRUCTION_COUNTS[1] - INSTRUCTION_COUNTS[0])


def instruction_table() -> str:
    baseline = baseline_python()
    lines = [
        "| scenario | pika 1.4.4 | ours, public API | ratio | ours, fast path | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in SCENARIOS.items():
        pika144 = instructions(baseline, False, f"{key}_public")
        public = instructions(sys.executable, True, f"{key}_public")
        fast = instructions(sys.executable, True, f"{key}_fast")
        lines.append(
            f"| {label} | {pika144:,.0f} | {public:,.0f} | {pika144 / public:.2f}x "
            f"| {fast:,.0f} | {pika144 / fast:.2f}x |"
        )
    return "\n".join(lines)


def check_setup(ours: dict[str, Any], base: dict[str, Any]) -> None:
    if not ours["pika_file"].startswith(str(ROOT / "pika")):
        raise SystemExit(f"'ours' imported {ours['pika_file']}")
    if base["pika"] != "1.4.4" or base["fast_path"]:
        raise SystemExit(f"baseline is not pika 1.4.4: {base['pika_file']}")
    for key in ("publish_sha256", "deliver_sha256"):
        if ours[key] != base[key]:
            raise SystemExit(f"wire bytes differ between the two packages ({key})")


def stats(runs: list[dict[str, Any]], name: str) -> tuple[float, float, float]:
    values = [run["results"][name]["median"] for run in runs]
    return statistics.median(values), min(values), max(values)


def fmt(value: tuple[float, float, float]) -> str:
    return f"{value[0]:,.0f} ({value[1]:,.0f}-{value[2]:,.0f})"


def table(ours: list[dict[str, Any]], base: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | pika 1.4.4 ns | ours, public API ns | speed-up | ours, fast path ns | speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in SCENARIOS.items():
        pika144 = stats(base, f"{key}_public")
        public = stats(ours, f"{key}_public")
        fast = stats(ours, f"{key}_fast")
        lines.append(
            f"| {label} | {fmt(pika144)} | {fmt(public)} | {pika144[0] / public[0]:.2f}x "
            f"| {fmt(fast)} | {pika144[0] / fast[0]:.2f}x |"
        )
    return "\n".join(lines)


def instruction_text(body: str) -> str:
    if not body:
        return "Instruction counts: not measured (valgrind is not installed)."
    return "\n".join(
        [
            "Instructions per message (deterministic; `valgrind --tool=cachegrind",
            "--cache-sim=no`, the same scenario functions called 11,000 minus 1,000",
            "times, divided by 10,000; PYTHONHASHSEED=0):",
            "",
            body,
        ]
    )


def report_text(body: str, args: argparse.Namespace, ours: dict[str, Any]) -> str:
    command = (
        f".venv/bin/python bench/codec_compare.py --rounds {args.rounds} "
        f"--number {args.number} --repeat {args.repeat}"
    )
    return "\n".join(
        [
            "# Codec micro-benchmark: this rewrite vs pika 1.4.4",
            "",
            f"Measured {datetime.date.today().isoformat()} on {platform.machine()} "
            f"({os.cpu_count()} CPUs), Python {ours['python']}, with `{command}`.",
            "",
            "CPU ns per message (process CPU time, robust on a shared machine); median over",
            "interleaved rounds (min-max of the round medians).",
            "Public API: `pika.spec` objects marshalled with `pika.frame` / three",
            "`pika.frame.decode_frame` calls, the same code under both packages.",
            "Fast path: `pika._wire.publish.encode_publish` / `pika._wire.reader.FrameReader`",
            "returning one fused ContentFrame. Properties are built per message",
            "(content_type, delivery_mode, a two-entry headers table). Both packages",
            "produce byte-identical wire data (checked by SHA-256 in every run).",
            "The first two rows encode/decode the same message every iteration. On",
            "encode only short strings (exchange, routing key, content type, table keys)",
            "and the Basic.Publish method frame per (channel, exchange, routing key,",
            "mandatory) are memoised, in bounded caches; properties and the headers",
            "table are encoded for every message. On decode the reader keeps an adaptive",
            "per-connection memo of property bytes -> decoded fields (fresh objects and",
            "header dicts every time), so repeated properties skip the field-table decode;",
            "the last row makes every message's property bytes unique (the trace-id",
            "counts up), which is the memo's worst case.",
            "",
            body,
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ours, base = collect(args.rounds, args.number, args.repeat)
    check_setup(ours[0], base[0])
    counted = instruction_table() if shutil.which("valgrind") else ""
    body = table(ours, base) + "\n\n" + instruction_text(counted)
    text = report_text(body, args, ours[0])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
