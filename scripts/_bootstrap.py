"""Create and fill the project's virtualenv, using nothing but the standard library.

Shared by ``scripts/test.py`` and ``scripts/demo.py`` so that a fresh machine with
only Python 3.11+ can run either one. The install is skipped when a stamp file named
after a hash of ``pyproject.toml`` exists, so reruns are fast and a change to the
dependencies triggers a reinstall.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
EXTRAS = "test,dev,django,redis,cache,versions,prometheus,opentelemetry"

# EarnORM needs Python 3.12+: its tests run in a second virtualenv.
VENV312 = ROOT / ".venv312"
EXTRAS312 = "test,earnorm,django,redis,cache,versions"
PY312_HINT = (
    "EarnORM needs Python 3.12+: install one (pyenv install 3.12) or name it in "
    "EARNORM_AOP_PYTHON312=/path/to/python3.12"
)


def _load_ci() -> Any:
    """``earnorm_aop/testing/_ci.py`` by path: the one reading of ``CI``, without the package."""
    spec = importlib.util.spec_from_file_location(
        "_earnorm_aop_ci", ROOT / "earnorm_aop" / "testing" / "_ci.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ci = _load_ci().ci
"""Whether this is a CI run (``CI`` is ``1``, ``true`` or ``yes``, as ``.ci/run`` sets it)."""


def venv_python(venv: Path = VENV) -> Path:
    """Path of the virtualenv's interpreter (POSIX or Windows layout)."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def venv_env(venv: Path = VENV) -> dict[str, str]:
    """Environment for child processes: the venv's scripts come first on PATH."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = str(venv_python(venv).parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONHOME", None)
    return env


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:  # e.g. a pyenv shim for a version not selected
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def interpreter(minimum: tuple[int, int]) -> str | None:
    """A Python at least ``minimum``: this one, ``python3.N`` on PATH, or pyenv's."""
    candidates = [sys.executable]
    candidates += [shutil.which(f"python3.{minor}") or "" for minor in range(minimum[1], 16)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for folder in sorted(pyenv.glob("versions/3.*"), key=_release):
        candidates.append(str(folder / "bin" / "python3"))
    for python in filter(None, candidates):
        version = _version(python)
        if version is not None and version >= minimum:
            return python
    return None


def _release(folder: Path) -> tuple[int, ...]:
    """Sort key of a pyenv version folder ("3.12.1" before "3.13.0"); odd names last."""
    try:
        return tuple(int(part) for part in folder.name.split("."))
    except ValueError:
        return (999,)


def ensure_venv(venv: Path = VENV, extras: str = EXTRAS, base: str | None = None) -> Path:
    """Create ``venv`` if missing, install the project into it, return its python."""
    python = venv_python(venv)
    if not python.exists():
        print(f"==> creating virtualenv in {venv}", flush=True)
        subprocess.run([base or sys.executable, "-m", "venv", str(venv)], check=True)

    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = venv / f".installed-{digest}"
    if stamp.exists():
        return python

    print(f"==> installing earnorm-aop[{extras}] (editable) into {venv.name}", flush=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"],
        cwd=ROOT,
        env=venv_env(venv),
    )
    if result.returncode != 0:
        sys.exit(f"error: pip install failed (exit code {result.returncode})")
    # Drop stamps of older pyproject.toml versions, then mark this one done.
    for old in venv.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return python


def ensure_venv312() -> Path | None:
    """``.venv312`` (Python 3.12+, with EarnORM) ready to use, or ``None`` without a 3.12.

    The interpreter: ``EARNORM_AOP_PYTHON312`` if set, else :func:`interpreter`.
    """
    base = os.environ.get("EARNORM_AOP_PYTHON312") or interpreter((3, 12))
    if base is None:
        return None
    return ensure_venv(VENV312, EXTRAS312, base)
