"""Typed user programs must pass ``mypy --strict`` against pika's annotations.

Each module in ``fixtures/`` is ordinary user code; ``assert_type`` calls pin
the types the public API hands out (so an ``Any`` leaking through fails too).
``must_fail.py`` carries known errors marked ``# E: <code>``: mypy has to
report exactly those, which proves the check can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MUST_FAIL = FIXTURES / "must_fail.py"
PASSING = sorted(p for p in FIXTURES.glob("*.py") if p != MUST_FAIL)
ERROR_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")
EXPECTED_MARK = re.compile(r"#\s*E:\s*(?P<code>[a-z-]+)")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def run_mypy(paths: list[Path], cache_dir: Path) -> tuple[str, int]:
    # The project config (pyproject.toml, found from ROOT) adds warn_unused_ignores;
    # paths on the command line replace its ``files`` list.
    args = ["--strict", "--show-error-codes", "--no-error-summary", "--no-pretty"]
    args += ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache_dir)]
    stdout, stderr, status = mypy_api.run([*args, *map(str, paths)])
    return stdout + stderr, status


def reported_errors(output: str) -> set[tuple[str, int, str]]:
    errors = set()
    for line in output.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            errors.add((Path(match["path"]).name, int(match["line"]), match["code"]))
    return errors


def expected_errors(path: Path) -> set[tuple[str, int, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {
        (path.name, number, match["code"])
        for number, text in enumerate(lines, start=1)
        for match in EXPECTED_MARK.finditer(text)
    }


def test_fixtures_exist() -> None:
    assert len(PASSING) >= 4
    assert expected_errors(MUST_FAIL)


def test_typed_user_code_passes_strict(cache_dir: Path) -> None:
    output, status = run_mypy(PASSING, cache_dir)
    assert status == 0, output


def test_known_errors_are_reported(cache_dir: Path) -> None:
    output, status = run_mypy([MUST_FAIL], cache_dir)
    assert status == 1, output
    assert reported_errors(output) == expected_errors(MUST_FAIL), output
