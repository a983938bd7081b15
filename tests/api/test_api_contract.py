"""Our public surface against the committed dump of pika 1.4.4.

tests/api/pika-1.4.4-surface.json is produced by make_pika144_surface.py; the
rules are in surface_compare.py. A deliberate difference is listed, with its
reason, in allowed_differences.json; an entry that no longer matches any
finding fails too, so the list cannot go stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.api import surface_compare

HERE = Path(__file__).resolve().parent
REFERENCE: dict[str, Any] = json.loads((HERE / "pika-1.4.4-surface.json").read_text("utf-8"))
ALLOWED: list[dict[str, str]] = json.loads((HERE / "allowed_differences.json").read_text("utf-8"))
MODULES = sorted(REFERENCE["modules"])


def _allowed_by(where: str) -> str | None:
    """The allowed entry covering ``where`` (itself, or a class/module above it)."""
    for entry in ALLOWED:
        if where == entry["where"] or where.startswith(entry["where"] + "."):
            return entry["where"]
    return None


def _findings(modname: str) -> list[surface_compare.Finding]:
    return surface_compare.compare_module(modname, REFERENCE["modules"][modname])


def test_reference_is_pika_144_with_every_module() -> None:
    assert REFERENCE["pika_version"] == "1.4.4"
    assert all("import_error" not in mod for mod in REFERENCE["modules"].values())
    assert len(MODULES) == 30


@pytest.mark.parametrize("modname", MODULES)
def test_module_matches_pika_144(modname: str) -> None:
    problems = [f"{where}: {msg}" for where, msg in _findings(modname) if not _allowed_by(where)]
    assert not problems, "\n".join(["", *problems])


def test_allowed_differences_have_reasons_and_are_needed() -> None:
    used = {_allowed_by(where) for mod in MODULES for where, _ in _findings(mod)}
    for entry in ALLOWED:
        assert set(entry) == {"where", "reason"}, entry
        assert len(entry["reason"]) > 20, f"{entry['where']}: give a real reason"
        assert entry["where"] in used, f"{entry['where']}: no longer differs, remove the entry"


@pytest.mark.parametrize(
    ("exp", "got", "message"),
    [
        ([("a", "POSITIONAL_OR_KEYWORD")], [("b", "POSITIONAL_OR_KEYWORD")], "is 'b'"),
        ([("a", "POSITIONAL_OR_KEYWORD", "1")], [("a", "POSITIONAL_OR_KEYWORD", "2")], "is 2"),
        ([("a", "POSITIONAL_OR_KEYWORD", "1")], [("a", "POSITIONAL_OR_KEYWORD")], "lost"),
        ([], [("x", "POSITIONAL_OR_KEYWORD")], "new required positional"),
        ([], [("x", "KEYWORD_ONLY")], "new required keyword-only"),
        ([("k", "KEYWORD_ONLY")], [], "'k' missing"),
        ([("a", "VAR_KEYWORD")], [], "**kwargs"),
        ([("a", "POSITIONAL_OR_KEYWORD")], [("a", "POSITIONAL_ONLY")], "became"),
    ],
)
def test_signature_rules_catch_breakage(
    exp: list[tuple[str, ...]], got: list[tuple[str, ...]], message: str
) -> None:
    def params(spec: list[tuple[str, ...]]) -> list[dict[str, str]]:
        out = []
        for name, kind, *default in spec:
            out.append({"name": name, "kind": kind, **({"default": default[0]} if default else {})})
        return out

    findings = surface_compare.compare_signature("f", params(exp), params(got))
    assert any(message in msg for _, msg in findings), findings


def test_signature_rules_allow_additions() -> None:
    exp = [{"name": "a", "kind": "POSITIONAL_OR_KEYWORD"}]
    got = [
        {"name": "a", "kind": "POSITIONAL_OR_KEYWORD", "default": "None"},
        {"name": "b", "kind": "POSITIONAL_OR_KEYWORD", "default": "None"},
        {"name": "c", "kind": "KEYWORD_ONLY", "default": "False"},
        {"name": "kw", "kind": "VAR_KEYWORD"},
    ]
    assert surface_compare.compare_signature("f", exp, got) == []


def test_module_rules_catch_missing_names_and_changed_bases() -> None:
    reference = json.loads(json.dumps(REFERENCE["modules"]["pika.exceptions"]))
    reference["names"]["NoSuchError"] = reference["names"]["AMQPError"]
    reference["names"]["ChannelClosed"]["bases"] = ["pika.exceptions.AMQPConnectionError"]
    reference["names"]["ChannelClosed"]["members"]["gone"] = {"kind": "property"}
    found = surface_compare.compare_module("pika.exceptions", reference)
    assert ("pika.exceptions.NoSuchError", "missing class") in found
    assert any(w == "pika.exceptions.ChannelClosed" and "bases" in m for w, m in found)
    assert ("pika.exceptions.ChannelClosed.gone", surface_compare.MISSING) in found
