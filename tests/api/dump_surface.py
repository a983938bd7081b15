"""Dump the public API surface of whichever ``pika`` is importable, as JSON.

Run it under any interpreter: ``python tests/api/dump_surface.py [OUT.json]``
(stdout when no path is given). It imports every public pika module, and for
each records its public names: classes (members, constructor and method
signatures, bases and MRO, nested classes, enum members), functions
(signatures), constants (values when scalar) and re-exports (the public path of
the object they name). Output is sorted and free of object addresses, so two
runs over the same package give byte-identical files.

It must stay importable without our package: it uses only the standard library
and never imports anything from ``tests``.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import re
import sys
import types
from typing import Any

MODULES = (
    "pika",
    "pika.adapters",
    "pika.adapters.asyncio_connection",
    "pika.adapters.base_connection",
    "pika.adapters.blocking_connection",
    "pika.adapters.gevent_connection",
    "pika.adapters.select_connection",
    "pika.adapters.tornado_connection",
    "pika.adapters.twisted_connection",
    "pika.adapters.utils",
    "pika.adapters.utils.connection_workflow",
    "pika.adapters.utils.io_services_utils",
    "pika.adapters.utils.nbio_interface",
    "pika.adapters.utils.selector_ioloop_adapter",
    "pika.amqp_object",
    "pika.callback",
    "pika.channel",
    "pika.compat",
    "pika.connection",
    "pika.credentials",
    "pika.data",
    "pika.delivery_mode",
    "pika.diagnostic_utils",
    "pika.exceptions",
    "pika.exchange_type",
    "pika.frame",
    "pika.heartbeat",
    "pika.spec",
    "pika.tcp_socket_opts",
    "pika.validators",
)

# Special methods that change how user code can use an object (with, for, len,
# calling, comparing); other dunders are implementation detail.
USER_DUNDERS = (
    "__bool__",
    "__call__",
    "__contains__",
    "__enter__",
    "__eq__",
    "__exit__",
    "__getitem__",
    "__iter__",
    "__len__",
    "__next__",
)

SCALARS = (bool, int, float, str, bytes, type(None))
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_TYPING_MODULES = ("typing", "typing_extensions", "__future__")


def normalise(text: str) -> str:
    """Strip object addresses from a repr so the dump is deterministic."""
    return _ADDRESS.sub("", text)


def is_scalar(value: object) -> bool:
    if isinstance(value, SCALARS) and not isinstance(value, enum.Enum):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(is_scalar(item) for item in value)
    return False


def value_entry(value: object, with_value: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "constant", "type": type(value).__name__}
    if with_value and is_scalar(value):
        entry["value"] = normalise(repr(value))
    return entry


def public_path(obj: object) -> str | None:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return None


def is_pika_object(obj: object) -> bool:
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and (module == "pika" or module.startswith("pika."))


def is_ignored(name: str, value: object) -> bool:
    """Typing helpers, loggers and TYPE_CHECKING are imports, not API."""
    if name == "TYPE_CHECKING" or type(value).__module__ in _TYPING_MODULES:
        return True
    if getattr(value, "__module__", None) in _TYPING_MODULES:
        return True
    return type(value).__name__ in ("Logger", "_Feature")


def signature_entry(obj: Any, drop_first: bool = False) -> list[dict[str, Any]] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if drop_first and params and params[0].kind != params[0].VAR_POSITIONAL:
        params = params[1:]
    out = []
    for param in params:
        item: dict[str, Any] = {"name": param.name, "kind": param.kind.name}
        if param.default is not param.empty:
            item["default"] = normalise(repr(param.default))
        out.append(item)
    return out


def owner_of(cls: type, name: str) -> type | None:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def member_entry(cls: type, name: str) -> dict[str, Any] | None:
    owner = owner_of(cls, name)
    if owner is None or not is_pika_object(owner):
        return None  # inherited from object, Exception, Enum, a framework...
    raw = vars(owner)[name]
    if is_ignored(name, raw):
        return None
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", "signature": signature_entry(raw.__func__)}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", "signature": signature_entry(raw.__func__, True)}
    if isinstance(raw, property):
        return {"kind": "property", "settable": raw.fset is not None}
    if inspect.isclass(raw):
        nested = f"{owner.__qualname__}.{name}"
        if raw.__qualname__ == nested and raw.__module__ == owner.__module__:
            return class_entry(raw)
        return {"kind": "alias", "target": public_path(raw)}
    if inspect.isfunction(raw) or inspect.ismethoddescriptor(raw) or callable(raw):
        return {"kind": "method", "signature": signature_entry(raw, True)}
    return value_entry(raw)


def class_entry(cls: type) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "class",
        "bases": [public_path(base) for base in cls.__bases__],
        "mro": [public_path(base) for base in cls.__mro__],
    }
    if issubclass(cls, enum.Enum):
        entry["enum_members"] = {m.name: normalise(repr(m.value)) for m in cls}
    else:
        entry["signature"] = signature_entry(cls)
    members = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        if issubclass(cls, enum.Enum) and name in cls.__members__:
            continue
        item = member_entry(cls, name)
        if item is not None:
            members[name] = item
    entry["members"] = members
    entry["dunders"] = [d for d in USER_DUNDERS if _defines_dunder(cls, d)]
    return entry


def _defines_dunder(cls: type, name: str) -> bool:
    owner = owner_of(cls, name)
    return owner is not None and is_pika_object(owner) and vars(owner)[name] is not None


def _is_plain_data(value: object) -> bool:
    """Builtin containers, classes and functions: described below, not foreign."""
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        return True
    return type(value).__module__ == "builtins"


def name_entry(modname: str, name: str, value: object) -> dict[str, Any] | None:
    if isinstance(value, types.ModuleType):
        if value.__name__.startswith("pika"):
            return {"kind": "module", "target": value.__name__}
        return None
    if is_ignored(name, value):
        return None
    if not is_scalar(value) and not _is_plain_data(value) and not is_pika_object(type(value)):
        return {"kind": "foreign", "target": public_path(type(value))}
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        here = getattr(value, "__module__", None) == modname
        if here and getattr(value, "__qualname__", None) == name:
            if inspect.isclass(value):
                return class_entry(value)
            return {"kind": "function", "signature": signature_entry(value)}
        kind = "alias" if is_pika_object(value) else "foreign"
        return {"kind": kind, "target": public_path(value)}
    # pika.compat's constants describe the machine (ON_LINUX, LINUX_VERSION...)
    return value_entry(value, with_value=modname != "pika.compat")


def module_entry(modname: str) -> dict[str, Any]:
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:  # a framework is missing: say so in the dump
        return {"import_error": f"{type(exc).__name__}: {exc}"}
    names: dict[str, Any] = {}
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        entry = name_entry(modname, name, value)
        if entry is not None:
            names[name] = entry
    result: dict[str, Any] = {"names": names}
    if isinstance(getattr(module, "__all__", None), (list, tuple)):
        result["__all__"] = sorted(module.__all__)
    return result


def dump() -> dict[str, Any]:
    pika = importlib.import_module("pika")
    return {
        "pika_version": getattr(pika, "__version__", None),
        "python": ".".join(map(str, sys.version_info[:2])),
        "modules": {name: module_entry(name) for name in MODULES},
    }


def main(argv: list[str]) -> int:
    text = json.dumps(dump(), indent=1, sort_keys=True) + "\n"
    if len(argv) > 1:
        with open(argv[1], "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
