"""The documentation builds strictly and documents every public module.

``test_docs_build_strict`` runs the same command as CI
(``sphinx-build -W --keep-going -n -b html docs <out>``) into a temporary
directory: any warning, broken cross-reference included, fails it.  Without
Sphinx installed it is skipped, except under ``CI=true`` where it fails.
``test_every_public_module_is_in_the_api_reference`` needs no Sphinx: it
checks that each public module of the package has an ``automodule`` page.
"""

from __future__ import annotations

import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pika

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
API = DOCS / "api"
BUILD_LIMIT = 300.0  # seconds; a full build takes well under a minute
_AUTOMODULE = re.compile(r"^\.\. automodule:: (\S+)\s*$", re.MULTILINE)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def public_modules() -> set[str]:
    """Every module of the package with no underscore-prefixed path component."""
    names = {"pika"} | {m.name for m in pkgutil.walk_packages(pika.__path__, "pika.")}
    return {n for n in names if not any(part.startswith("_") for part in n.split("."))}


def documented_modules() -> dict[str, Path]:
    """Module name -> the API page whose ``automodule`` directive documents it."""
    found: dict[str, Path] = {}
    for page in sorted(API.glob("*.rst")):
        for name in _AUTOMODULE.findall(page.read_text(encoding="utf-8")):
            found[name] = page
    return found


def test_public_module_discovery_sees_the_adapters() -> None:
    # Guards the check below against a discovery that silently finds nothing.
    modules = public_modules()
    assert {"pika.spec", "pika.adapters.twisted_connection"} <= modules
    assert "pika.adapters.utils.connection_workflow" in modules
    assert not any("._" in name for name in modules)


def test_every_public_module_is_in_the_api_reference() -> None:
    documented = documented_modules()
    missing = sorted(public_modules() - set(documented))
    assert not missing, f"public modules without an API page in docs/api/: {missing}"
    unknown = sorted(set(documented) - public_modules())
    assert not unknown, f"docs/api/ documents modules that are not public: {unknown}"


def test_every_api_page_is_in_the_api_toctree() -> None:
    index = (API / "index.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (pika[\w.]*)\s*$", index, re.MULTILINE))
    pages = {page.stem for page in API.glob("pika*.rst")}
    assert pages <= listed, f"pages not in docs/api/index.rst: {sorted(pages - listed)}"
    assert listed <= pages, f"docs/api/index.rst lists missing pages: {sorted(listed - pages)}"


@pytest.mark.slow
def test_docs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("sphinx") is None:
        message = "Sphinx is not installed (pip install -e '.[dev]'); docs build not checked"
        if _in_ci():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    out = tmp_path / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q"]
    command += ["-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_LIMIT, check=False
    )
    assert result.returncode == 0, f"strict docs build failed:\n{result.stderr}{result.stdout}"
    for name, page in documented_modules().items():
        html = (out / "api" / f"{page.stem}.html").read_text(encoding="utf-8")
        assert f'id="module-{name}"' in html, f"{name} missing from {page.name} output"
