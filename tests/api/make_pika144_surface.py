"""Regenerate tests/api/pika-1.4.4-surface.json from the released pika 1.4.4.

Usage: ``python tests/api/make_pika144_surface.py`` from anywhere. Creates (or
reuses) the throwaway virtualenv ``.venv-pika144`` at the repository root,
installs pika==1.4.4 with tornado, twisted and gevent so every adapter module
imports, then runs dump_surface.py there in isolated mode so our own ``pika``
checkout can never be picked up by mistake.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV = ROOT / ".venv-pika144"
OUTPUT = HERE / "pika-1.4.4-surface.json"
REQUIREMENTS = ("pika==1.4.4", "tornado", "twisted", "gevent")


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    if not venv_python().exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    cmd = [str(venv_python()), "-m", "pip", "install", "--quiet", *REQUIREMENTS]
    subprocess.run(cmd, check=True)


def dump(out: Path) -> None:
    # -I: no cwd, no PYTHONPATH, no user site; run from a temp dir for good measure.
    with tempfile.TemporaryDirectory() as scratch:
        cmd = [str(venv_python()), "-I", str(HERE / "dump_surface.py"), str(out)]
        subprocess.run(cmd, check=True, cwd=scratch)


def check(out: Path) -> None:
    data = json.loads(out.read_text(encoding="utf-8"))
    if data.get("pika_version") != "1.4.4":
        raise SystemExit(f"dumped pika {data.get('pika_version')!r}, expected '1.4.4'")
    broken = [name for name, mod in data["modules"].items() if "import_error" in mod]
    if broken:
        raise SystemExit(f"modules failed to import in {VENV}: {broken}")


def main() -> int:
    ensure_venv()
    dump(OUTPUT)
    check(OUTPUT)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
