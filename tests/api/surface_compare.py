"""Compare a dumped pika surface (JSON from dump_surface.py) with live objects.

The rules, for the contract test:
- every module, name, method, property and nested class of the reference
  exists in ours, with a compatible kind;
- parameters keep their names, order, kinds and defaults; ours may add
  optional parameters after the existing positional ones, keyword-only
  parameters with defaults, or accept more (a default where there was none);
- classes keep every pika class of the reference MRO; exceptions keep exactly
  the same bases;
- scalar constants keep their value, enums their members;
- re-exports (``pika.BlockingConnection``...) are the very object at the
  target path. In leaf modules, names a module merely imported (another pika
  module, a pika class used internally, a stdlib helper) are not API; they are
  checked only in the packages and in pika.compat, whose job is re-exporting.

Each finding is ``(where, message)``; ``where`` is the dotted path that
allowed_differences.json entries name.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from tests.api import dump_surface

Finding = tuple[str, str]
Params = list[dict[str, Any]]

REEXPORTING_MODULES = frozenset({"pika", "pika.adapters", "pika.adapters.utils", "pika.compat"})
POSITIONAL = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
MISSING = "missing (or only inherited from a non-pika base)"
CALLABLE_KINDS = frozenset({"method", "staticmethod", "classmethod"})


def resolve(path: str) -> Any:
    """Import the longest module prefix of ``path`` and walk the rest."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


# -- signatures -------------------------------------------------------------


def _split(params: Params) -> tuple[Params, bool, dict[str, dict[str, Any]], bool]:
    positional = [p for p in params if p["kind"] in POSITIONAL]
    kwonly = {p["name"]: p for p in params if p["kind"] == "KEYWORD_ONLY"}
    var_pos = any(p["kind"] == "VAR_POSITIONAL" for p in params)
    var_kw = any(p["kind"] == "VAR_KEYWORD" for p in params)
    return positional, var_pos, kwonly, var_kw


def _default(where: str, name: str, exp: dict[str, Any], got: dict[str, Any]) -> list[Finding]:
    if "default" not in exp or exp["default"] == got.get("default"):
        return []
    if "default" not in got:
        return [(where, f"parameter {name!r} lost its default {exp['default']}")]
    return [(where, f"parameter {name!r} default is {got['default']}, expected {exp['default']}")]


def _positional(where: str, exp: Params, got: Params) -> list[Finding]:
    findings: list[Finding] = []
    for index, want in enumerate(exp):
        if index >= len(got):
            findings.append((where, f"positional parameter {want['name']!r} (#{index}) missing"))
            continue
        have = got[index]
        if want["kind"] == "POSITIONAL_OR_KEYWORD" and have["name"] != want["name"]:
            findings.append(
                (where, f"parameter #{index} is {have['name']!r}, expected {want['name']!r}")
            )
            continue
        if want["kind"] == "POSITIONAL_OR_KEYWORD" and have["kind"] != want["kind"]:
            findings.append((where, f"parameter {want['name']!r} became {have['kind']}"))
        findings += _default(where, want["name"], want, have)
    for extra in got[len(exp) :]:
        if "default" not in extra:
            findings.append((where, f"new required positional parameter {extra['name']!r}"))
    return findings


def _keywords(where: str, exp: dict[str, Any], got: Params) -> list[Finding]:
    findings: list[Finding] = []
    by_name = {p["name"]: p for p in got if p["kind"] in ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")}
    for name, want in exp.items():
        if name not in by_name:
            findings.append((where, f"keyword-only parameter {name!r} missing"))
            continue
        findings += _default(where, name, want, by_name[name])
    for have in got:
        if have["kind"] == "KEYWORD_ONLY" and have["name"] not in exp and "default" not in have:
            findings.append((where, f"new required keyword-only parameter {have['name']!r}"))
    return findings


def compare_signature(where: str, exp: Params | None, got: Params | None) -> list[Finding]:
    if exp is None:
        return []
    if got is None:
        return [(where, "signature is not introspectable")]
    exp_pos, exp_var_pos, exp_kw, exp_var_kw = _split(exp)
    got_pos, got_var_pos, _, got_var_kw = _split(got)
    findings = _positional(where, exp_pos, got_pos)
    findings += _keywords(where, exp_kw, got)
    if exp_var_pos and not got_var_pos:
        findings.append((where, "no longer accepts *args"))
    if exp_var_kw and not got_var_kw:
        findings.append((where, "no longer accepts **kwargs"))
    return findings


# -- classes ----------------------------------------------------------------


def _compare_member(where: str, exp: dict[str, Any], got: dict[str, Any] | None) -> list[Finding]:
    if got is None:
        return [(where, MISSING)]
    kind, got_kind = exp["kind"], got["kind"]
    if kind in CALLABLE_KINDS and got_kind in CALLABLE_KINDS:
        return compare_signature(where, exp["signature"], got["signature"])
    if kind == "property" and got_kind == "constant" and not exp["settable"]:
        return []  # a class attribute reads the same on instances
    if kind != got_kind:
        return [(where, f"is a {got_kind}, expected a {kind}")]
    if kind == "class":
        return compare_class_entry(where, exp, got)
    if kind == "property" and exp["settable"] and not got["settable"]:
        return [(where, "property is no longer settable")]
    if kind == "alias" and exp["target"] != got["target"]:
        return [(where, f"refers to {got['target']}, expected {exp['target']}")]
    if kind == "constant":
        return _compare_constant(where, exp, got)
    return []


def _compare_constant(where: str, exp: dict[str, Any], got: dict[str, Any]) -> list[Finding]:
    if "value" in exp and exp["value"] != got.get("value"):
        return [(where, f"value is {got.get('value', got['type'])}, expected {exp['value']}")]
    if exp["type"] != got["type"] and "value" not in exp:
        return [(where, f"is a {got['type']}, expected a {exp['type']}")]
    return []


def _compare_bases(where: str, exp: dict[str, Any], got: dict[str, Any]) -> list[Finding]:
    is_exception = "builtins.BaseException" in exp["mro"]
    if is_exception and exp["bases"] != got["bases"]:
        return [(where, f"exception bases are {got['bases']}, expected {exp['bases']}")]
    if got["mro"][0] != exp["mro"][0]:
        return [(where, f"is the class {got['mro'][0]}, expected {exp['mro'][0]}")]
    missing = [c for c in exp["mro"] if c.startswith("pika.") and c not in got["mro"]]
    return [(where, f"no longer a subclass of {c}") for c in missing]


def compare_class_entry(where: str, exp: dict[str, Any], got: dict[str, Any]) -> list[Finding]:
    findings = _compare_bases(where, exp, got)
    if "signature" in exp:
        findings += compare_signature(where, exp["signature"], got.get("signature"))
    for name, value in exp.get("enum_members", {}).items():
        if got.get("enum_members", {}).get(name) != value:
            findings.append((f"{where}.{name}", f"enum member missing or not {value}"))
    for dunder in exp["dunders"]:
        if dunder not in got["dunders"]:
            findings.append((where, f"no longer defines {dunder}"))
    for name, member in exp["members"].items():
        findings += _compare_member(f"{where}.{name}", member, got["members"].get(name))
    return findings


def _inherited_members(cls: type, entry: dict[str, Any], exp: dict[str, Any]) -> None:
    """Describe members ours inherits from a framework base (Twisted's Protocol...)."""
    for name in exp["members"]:
        if name in entry["members"] or not hasattr(cls, name):
            continue
        raw = inspect.getattr_static(cls, name)
        if inspect.isfunction(raw):
            signature = dump_surface.signature_entry(raw, drop_first=True)
            entry["members"][name] = {"kind": "method", "signature": signature}


# -- modules ----------------------------------------------------------------


def _live_entry(modname: str, name: str, value: Any, exp: dict[str, Any]) -> dict[str, Any]:
    """Describe our object the way the reference entry was described."""
    if exp["kind"] == "class" and inspect.isclass(value):
        entry = dump_surface.class_entry(value)
        _inherited_members(value, entry, exp)
        return entry
    if exp["kind"] == "function" and callable(value) and not inspect.isclass(value):
        return {"kind": "function", "signature": dump_surface.signature_entry(value)}
    if exp["kind"] == "module":
        return {"kind": "module", "target": getattr(value, "__name__", None)}
    described = dump_surface.name_entry(modname, name, value)
    return described if described is not None else {"kind": type(value).__name__}


def _compare_reexport(where: str, exp: dict[str, Any], value: Any) -> list[Finding]:
    if exp["kind"] == "module":
        ok = getattr(value, "__name__", None) == exp["target"]
        return [] if ok else [(where, f"is not the module {exp['target']}")]
    if exp["kind"] == "foreign":
        return []  # presence is enough: stdlib objects differ by Python version
    try:
        target = resolve(exp["target"])
    except (ImportError, AttributeError):
        return [(where, f"target {exp['target']} does not exist")]
    return [] if value is target else [(where, f"is not the same object as {exp['target']}")]


def compare_module(modname: str, exp: dict[str, Any]) -> list[Finding]:
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        return [(modname, f"module does not import: {exc}")]
    findings: list[Finding] = []
    missing_all = sorted(set(exp.get("__all__", ())) - set(getattr(module, "__all__", ())))
    if missing_all:
        findings.append((f"{modname}.__all__", f"lacks {missing_all}"))
    for name, entry in sorted(exp["names"].items()):
        findings += _compare_name(modname, module, name, entry)
    return findings


def _compare_name(modname: str, module: Any, name: str, exp: dict[str, Any]) -> list[Finding]:
    where = f"{modname}.{name}"
    reexport = exp["kind"] in ("module", "alias", "foreign")
    if reexport and modname not in REEXPORTING_MODULES:
        return []
    try:
        value = getattr(module, name)
    except (AttributeError, ImportError):
        return [(where, f"missing {exp['kind']}")]
    if reexport:
        return _compare_reexport(where, exp, value)
    got = _live_entry(modname, name, value, exp)
    if exp["kind"] == "class":
        if got["kind"] != "class":
            return [(where, f"is a {got['kind']}, expected a class")]
        return compare_class_entry(where, exp, got)
    return _compare_member(where, exp, got)
