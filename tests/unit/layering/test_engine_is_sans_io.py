"""The engine and codec do no I/O and read no clock (DESIGN.md rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3] / "pika"
FORBIDDEN = {
    "socket",
    "select",
    "selectors",
    "ssl",
    "asyncio",
    "threading",
    "time",
    "os",
    "subprocess",
}
SANS_IO = sorted(
    [*ROOT.joinpath("_engine").glob("*.py"), *ROOT.joinpath("_wire").glob("*.py")]
    + [ROOT / name for name in ("spec.py", "data.py", "frame.py", "amqp_object.py")]
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", SANS_IO, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_io_or_clock_imports(path: Path) -> None:
    assert not imported_modules(path) & FORBIDDEN


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom socket import socket\n")
    assert imported_modules(bad) & FORBIDDEN == {"time", "socket"}
