"""Sphinx configuration for the pika documentation (strict build: -W -n)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402

project = "pika"
author = "the pika rewrite authors"
copyright = "the pika rewrite authors"
version = release = pika.__version__

extensions = ["sphinx.ext.autodoc"]

exclude_patterns = ["_build"]
nitpicky = True
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True


def _expose_type_checking_imports() -> None:
    """Run each pika module's ``if TYPE_CHECKING:`` imports into its namespace.

    Annotations are strings (PEP 563) naming classes that modules import only
    for the type checker, to avoid import cycles at run time.  Once every module
    is loaded those imports are safe, and running them lets autodoc evaluate the
    annotations into real, fully qualified (and so linkable) classes.  This
    only affects the documentation build process.
    """
    import ast
    import importlib
    import pkgutil

    names = ["pika"] + [m.name for m in pkgutil.walk_packages(pika.__path__, "pika.")]
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:  # an optional framework is missing
            continue
    for module in modules:
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
                code = compile(ast.Module(body=node.body, type_ignores=[]), module.__name__, "exec")
                try:
                    exec(code, module.__dict__)
                except ImportError:  # a typing-only dependency is not installed
                    continue


_expose_type_checking_imports()

# Standard-library and third-party classes named in signatures and bases.  The
# build is offline (no intersphinx), so these cannot be linked; each one is
# listed so that any other unresolved reference still fails the build.
_EXTERNAL = [
    "_io._TextIOBase",
    "abc.ABC",
    "collections.abc.Callable",
    "collections.abc.Generator",
    "collections.abc.Iterable",
    "collections.abc.Iterator",
    "collections.abc.Mapping",
    "collections.abc.Sequence",
    "concurrent.futures._base.Future",
    "enum.Enum",
    "enum.IntEnum",
    "logging.Logger",
    "socket.socket",
    "ssl.SSLContext",
    "twisted.internet.defer.Deferred",
    "twisted.internet.defer.DeferredQueue",
    "twisted.internet.protocol.Protocol",
    "twisted.python.failure.Failure",
]
nitpick_ignore = [(role, name) for name in _EXTERNAL for role in ("py:class", "py:obj")]


# Names in our own annotations that are not documented objects: private
# classes, TypeVars and type aliases (a leading underscore somewhere in the
# dotted path), plus these public aliases.  They are shown as plain text.
_UNLINKED_ALIASES = frozenset({"GetAddrInfoResult", "HeartbeatCallback"})


def _is_private(target: str) -> bool:
    parts = target.split(".")
    if parts[0] != "pika" and len(parts) > 1:
        return False
    return any(part.startswith("_") for part in parts)


def _unlink_private(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    target = node.get("reftarget", "")
    if node.get("refdomain") == "py" and (_is_private(target) or target in _UNLINKED_ALIASES):
        return contnode
    return None


def setup(app: Any) -> dict[str, Any]:
    app.connect("missing-reference", _unlink_private)
    return {"parallel_read_safe": True}
