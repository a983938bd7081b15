"""Run every end-to-end scenario against this package, pika 1.4.4 and the raw ceiling.

One command: starts a private RabbitMQ node (unless ``--url`` or
``PIKA_BENCH_URL`` names a broker), creates ``.venv-pika144`` when missing,
runs each scenario of e2e_bench.py in a fresh process, interleaved (ours,
pika 1.4.4, then pika 1.4.4, ours on the next scenario...), measures the
raw-socket ceiling in every repetition, and prints medians over the
repetitions. The table is also written to bench/results/e2e.md.

    .venv/bin/python bench/run_all.py [--reps 3] [--scale 1.0] [--scenarios a,b] [--url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import e2e_bench  # noqa: E402
import raw_ceiling  # noqa: E402
from codec_compare import baseline_python  # noqa: E402

RESULTS = BENCH / "results" / "e2e.md"
OURS, PIKA144, RAW = "ours", "pika 1.4.4", "raw"
# Which raw-socket measurement bounds each scenario: (mode, body size).
CEILING_OF = {
    "blocking_publish": ("publish", raw_ceiling.SMALL_BODY),
    "asyncio_publish": ("publish", raw_ceiling.SMALL_BODY),
    "blocking_consume": ("consume_ack", raw_ceiling.SMALL_BODY),
    "select_consume": ("consume_ack", raw_ceiling.SMALL_BODY),
    "asyncio_consume": ("consume_ack", raw_ceiling.SMALL_BODY),
    "large_publish": ("publish", raw_ceiling.LARGE_BODY),
    "large_consume": ("consume_ack", raw_ceiling.LARGE_BODY),
    "blocking_publish_confirm": ("confirm_each", raw_ceiling.SMALL_BODY),
    "select_publish_confirm": ("confirm_window", raw_ceiling.SMALL_BODY),
    "rpc_latency": ("rpc_round_trip", raw_ceiling.SMALL_BODY),
}
#: Raw modes measured by raw_round_trips.py (the others by raw_ceiling.py).
ROUND_TRIP_MODES = frozenset({"confirm_each", "confirm_window", "rpc_round_trip"})
EXTRA_CEILINGS = [("consume_autoack", raw_ceiling.SMALL_BODY)]
RUN_TIMEOUT = 900


@dataclass
class Runs:
    """Every measurement of one (client, scenario) pair, and failures."""

    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [result[key] for result in self.results if key in result]
        return statistics.median(values) if values else None


def ceiling_name(mode: str, size: int) -> str:
    return f"{'large_' if size >= raw_ceiling.LARGE_BODY else ''}{mode}"


def json_run(command: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one measurement process; its last stdout line is the JSON result."""
    done = subprocess.run(
        list(command), env=env, cwd="/", capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"exit {done.returncode}: {tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def client_command(python: str, scenario: str, url: str, count: int) -> list[str]:
    script = str(BENCH / "e2e_bench.py")
    return [python, script, scenario, "--url", url, "--count", str(count)]


def client_env(ours: bool) -> dict[str, str]:
    # cwd is "/" and PYTHONPATH is set only for ours: the baseline cannot import our pika.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if ours:
        env["PYTHONPATH"] = str(ROOT)
    return env


def check_package(result: dict[str, Any], ours: bool) -> None:
    is_ours = result["pika_file"].startswith(str(ROOT / "pika"))
    if is_ours != ours:
        raise RuntimeError(f"wrong pika imported: {result['pika_file']}")


class Session:
    """The interleaved rounds of one benchmark run."""

    def __init__(self, url: str, args: argparse.Namespace, baseline: Path) -> None:
        self.url, self.args = url, args
        self.pythons = {OURS: sys.executable, PIKA144: str(baseline)}
        self.runs: dict[tuple[str, str], Runs] = {}

    def counts(self, scenario: str) -> int:
        return max(1, int(e2e_bench.SCENARIOS[scenario].count * self.args.scale))

    def record(self, key: tuple[str, str], command: list[str], env: dict[str, str]) -> None:
        runs = self.runs.setdefault(key, Runs())
        try:
            result = json_run(command, env)
            if key[0] != RAW:
                check_package(result, key[0] == OURS)
            runs.results.append(result)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
            runs.errors.append(str(exc))
        print(f"  {key[0]:>10} {key[1]:<26} {summary(runs)}", file=sys.stderr, flush=True)

    def round(self, index: int) -> None:
        for position, scenario in enumerate(self.args.scenarios):
            order = (OURS, PIKA144) if (index + position) % 2 == 0 else (PIKA144, OURS)
            for client in order:
                command = client_command(
                    self.pythons[client], scenario, self.url, self.counts(scenario)
                )
                self.record((client, scenario), command, client_env(client == OURS))
        for mode, size in self.ceilings():
            self.record(
                (RAW, ceiling_name(mode, size)), self.raw_command(mode, size), client_env(False)
            )

    def ceilings(self) -> list[tuple[str, int]]:
        wanted = [CEILING_OF[name] for name in self.args.scenarios if name in CEILING_OF]
        wanted += EXTRA_CEILINGS if any("consume" in s for s in self.args.scenarios) else []
        return sorted(set(wanted))

    def raw_command(self, mode: str, size: int) -> list[str]:
        scenario = next(
            (name for name, ceiling in CEILING_OF.items() if ceiling == (mode, size)),
            "blocking_consume",
        )
        script = "raw_round_trips.py" if mode in ROUND_TRIP_MODES else "raw_ceiling.py"
        return [
            sys.executable, str(BENCH / script), "--url", self.url, "--mode", mode,
            "--size", str(size), "--count", str(self.counts(scenario)),
        ]  # fmt: skip


def summary(runs: Runs) -> str:
    if not runs.results:
        return f"FAILED {runs.errors[-1] if runs.errors else ''}"
    last = runs.results[-1]
    return f"{last['msgs_per_s']:>12,.0f} msgs/s {last['cpu_us_per_msg']:>9,.1f} us/msg"


# --- Report --------------------------------------------------------------------


def num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(top: float | None, bottom: float | None) -> str:
    return "-" if top is None or not bottom else f"{top / bottom:.2f}"


def mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def main_table(session: Session) -> list[str]:
    lines = [
        "| scenario | ours msgs/s | pika 1.4.4 msgs/s | ours/pika | ours CPU µs/msg "
        "| pika CPU µs/msg | CPU ours/pika | raw ceiling msgs/s | ours/ceiling "
        "| peak RSS MiB ours / pika |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in session.args.scenarios:
        ours, base = session.runs[(OURS, scenario)], session.runs[(PIKA144, scenario)]
        ceiling = (
            session.runs.get((RAW, ceiling_name(*CEILING_OF[scenario])), Runs())
            if (scenario in CEILING_OF)
            else Runs()
        )
        rate, base_rate, top = (
            ours.median("msgs_per_s"), base.median("msgs_per_s"), ceiling.median("msgs_per_s")
        )  # fmt: skip
        cpu, base_cpu = ours.median("cpu_us_per_msg"), base.median("cpu_us_per_msg")
        lines.append(
            f"| {scenario} | {num(rate)} | {num(base_rate)} | {ratio(rate, base_rate)} "
            f"| {num(cpu, 1)} | {num(base_cpu, 1)} | {ratio(cpu, base_cpu)} | {num(top)} "
            f"| {ratio(rate, top)} | {mib(ours.median('peak_rss_kib'))} / "
            f"{mib(base.median('peak_rss_kib'))} |"
        )
    return lines


def detail_table(session: Session) -> list[str]:
    lines = ["| scenario | metric | ours | pika 1.4.4 | ours/pika |", "|---|---|---:|---:|---:|"]
    metrics = {"rpc_latency": ("p50_us", "p99_us"), "large_publish": ("mb_per_s",)}
    metrics["large_consume"] = ("mb_per_s",)
    for scenario in session.args.scenarios:
        for key in metrics.get(scenario, ()):
            ours = session.runs[(OURS, scenario)].median(key)
            base = session.runs[(PIKA144, scenario)].median(key)
            unit = "MB/s" if key == "mb_per_s" else key.replace("_us", " µs")
            lines.append(
                f"| {scenario} | {unit} | {num(ours, 1)} | {num(base, 1)} | {ratio(ours, base)} |"
            )
    return lines


def ceiling_table(session: Session) -> list[str]:
    lines = ["| raw-socket mode | msgs/s | CPU µs/msg | MB/s |", "|---|---:|---:|---:|"]
    for mode, size in session.ceilings():
        runs = session.runs.get((RAW, ceiling_name(mode, size)), Runs())
        lines.append(
            f"| {ceiling_name(mode, size)} | {num(runs.median('msgs_per_s'))} "
            f"| {num(runs.median('cpu_us_per_msg'), 1)} | {num(runs.median('mb_per_s'), 1)} |"
        )
    return lines


def failures(session: Session) -> list[str]:
    lines = []
    for (client, scenario), runs in sorted(session.runs.items()):
        lines += [f"- {client} {scenario}: {error}" for error in dict.fromkeys(runs.errors)]
    return ["## Failures", "", *lines, ""] if lines else []


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({model})"


def report(session: Session, broker_version: str, load: str) -> str:
    args = session.args
    command = (
        f".venv/bin/python bench/run_all.py --reps {args.reps} --scale {args.scale} "
        f"--scenarios {','.join(args.scenarios)}"
    )
    header = [
        "# End-to-end benchmark: this rewrite vs pika 1.4.4 vs the broker's ceiling",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine()}; load average at start: {load}",
        f"- Python {platform.python_version()}; RabbitMQ {broker_version} on loopback",
        f"- command: `{command}`",
        "",
        "Median of the repetitions; each scenario runs in a fresh process, ours and",
        "pika 1.4.4 interleaved. CPU is the client's getrusage(RUSAGE_SELF) user+system",
        "time over the timed part. Ratios are ours/pika (msgs/s: higher is better; CPU:",
        "lower is better) and ours/raw-socket ceiling. The machine is shared with other",
        "work and the broker shares its cores with the client: the numbers are",
        "indicative only; compare ratios from one run, not absolute values across runs.",
        "The raw ceiling is measured once per repetition, so it is as noisy as the rest:",
        "an ours/ceiling ratio near or above 1 means 'at the ceiling, within noise'.",
        "Raw consume_ack sends one multiple-ack per socket read; raw consume uses",
        "prefetch 1000 (10 for 1 MiB bodies), like the client scenarios.",
        "For the round-trip scenarios the raw client (raw_round_trips.py) sends",
        "precomputed frames and waits with one blocking recv: confirm_each and",
        "rpc_round_trip are the CPU floor of one round trip on this machine at this",
        "moment (kernel, wake-ups, shared cores), confirm_window the broker's confirm",
        "ceiling with 1000 in flight. Function calls per message, which do not move",
        "with the load: `bench/calls_per_message.py`.",
        "",
    ]
    body = [*main_table(session), "", *detail_table(session), "", *ceiling_table(session), ""]
    return "\n".join(header + body + failures(session))


# --- Entry point -----------------------------------------------------------------


@contextlib.contextmanager
def broker_url(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.support.rabbitmq_node import RabbitNode

    print("starting a private RabbitMQ node ...", file=sys.stderr, flush=True)
    with RabbitNode() as node:
        yield node.url


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("PIKA_BENCH_URL"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies message counts")
    parser.add_argument("--scenarios", default=",".join(e2e_bench.SCENARIOS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.scenarios = [name for name in args.scenarios.split(",") if name]
    unknown = set(args.scenarios) - set(e2e_bench.SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    baseline = baseline_python()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    with broker_url(args.url) as url:
        client = raw_ceiling.RawClient(url)
        version = client.broker_version()
        client.close()
        session = Session(url, args, baseline)
        for index in range(args.reps):
            print(f"repetition {index + 1}/{args.reps}", file=sys.stderr, flush=True)
            session.round(index)
    text = report(session, version, load)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
