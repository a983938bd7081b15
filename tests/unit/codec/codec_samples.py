"""Shared helpers for the codec tests: field kinds from the JSON and sample values."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "codegen") not in sys.path:
    sys.path.insert(0, str(ROOT / "codegen"))

import gen_spec  # noqa: E402

from pika import amqp_object, spec  # noqa: E402

SPEC_JSON = json.loads(gen_spec.SOURCE.read_text(encoding="utf-8"))
DOMAINS = {name: kind for name, kind in SPEC_JSON["domains"]}


def method_fields() -> list[tuple[type[amqp_object.Method], list[gen_spec.Field]]]:
    """Every method class with its fields, in JSON order."""
    result = []
    for cls in SPEC_JSON["classes"]:
        for method in cls["methods"]:
            index = (cls["id"] << 16) | method["id"]
            result.append((spec.methods[index], gen_spec.make_fields(method["arguments"], DOMAINS)))
    return result


def property_fields() -> list[gen_spec.Field]:
    basic = next(c for c in SPEC_JSON["classes"] if c["name"] == "basic")
    return gen_spec.make_fields(basic["properties"], DOMAINS)


# A representative value of each AMQP type, chosen to exercise every byte.
SAMPLES: dict[str, list[Any]] = {
    "bit": [True, False],
    "octet": [0, 7, 255],
    "short": [0, 300, 65535],
    "long": [0, 70000, 2**32 - 1],
    "longlong": [0, 2**40 + 3, 2**64 - 1],
    "timestamp": [0, 1_700_000_000, 2**64 - 1],
    "shortstr": ["", "amq.gen-Qx", "ünïcødé", "x" * 255],
    "longstr": [b"", b"\x00PLAIN\x00guest", "text" * 100],
    "table": [None, {}, {"a": 1, "b": "s", "nested": {"c": [1, "two", None]}}],
}


def sample_kwargs(fields: list[gen_spec.Field], variant: int) -> dict[str, Any]:
    """Keyword arguments with the ``variant``-th sample of each field's type."""
    kwargs = {}
    for position, fld in enumerate(fields):
        values = SAMPLES[fld.kind]
        kwargs[fld.name] = values[(variant + position) % len(values)]
    return kwargs


def decoded(kind: str, value: Any) -> Any:
    """What a value of this kind looks like after a round trip."""
    if kind == "longstr":
        return value.encode() if isinstance(value, str) else value
    if kind == "table":
        return value or {}
    if kind == "bit":
        return bool(value)
    return value


RICH_TABLE: dict[str, Any] = {
    "str": "text",
    "unicode": "ß∂ƒ",
    "empty": "",
    "bytes": b"\x00\xff\x10",
    "true": True,
    "false": False,
    "zero": 0,
    "int32_max": 2**31 - 1,
    "int32_min": -(2**31),
    "int64_big": 2**31,
    "int64_neg": -(2**31) - 1,
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "decimal": Decimal("3.14159"),
    "decimal_int": Decimal("42"),
    "decimal_neg": Decimal("-0.5"),
    "when": datetime(2024, 5, 17, 12, 30, 1, tzinfo=timezone.utc),
    "void": None,
    "list": [1, "a", None, [2, [3]], {"k": "v"}, False, b"raw"],
    "empty_list": [],
    "table": {"inner": {"deeper": {"x": 1}}},
    "empty_table": {},
}
