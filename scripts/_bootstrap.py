"""Create and fill the project's virtualenv, using nothing but the standard library.

Shared by ``scripts/test.py`` and ``scripts/demo.py`` so that a fresh machine with
only Python 3.11+ can run either one. The install is skipped when a stamp file named
after a hash of ``pyproject.toml`` exists, so reruns are fast and a change to the
dependencies triggers a reinstall.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
EXTRAS = "test,dev,django,redis,cache,versions,prometheus,opentelemetry"


def venv_python() -> Path:
    """Path of the virtualenv's interpreter (POSIX or Windows layout)."""
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def venv_env() -> dict[str, str]:
    """Environment for child processes: the venv's scripts come first on PATH."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = str(venv_python().parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONHOME", None)
    return env


def ensure_venv() -> Path:
    """Create ``.venv`` if missing, install the project into it, return its python."""
    python = venv_python()
    if not python.exists():
        print(f"==> creating virtualenv in {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)

    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    if stamp.exists():
        return python

    print(f"==> installing earnorm-aop[{EXTRAS}] (editable) into .venv", flush=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]"],
        cwd=ROOT,
        env=venv_env(),
    )
    if result.returncode != 0:
        sys.exit(f"error: pip install failed (exit code {result.returncode})")
    # Drop stamps of older pyproject.toml versions, then mark this one done.
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return python
