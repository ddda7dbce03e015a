#!/usr/bin/env python3
"""Run the Django tests on every supported Django version, on SQLite and on PostgreSQL.

Usage: ``python3 scripts/matrix.py [--django 4.2 5.2 6 6.0] [--db sqlite postgres]
[--list] [-- pytest args...]``; by default Django 4.2, 5.2 and the newest 6.x
(``6``), each on both databases.

Each Django version gets its own virtualenv in ``.venvs/`` (git-ignored),
created with an interpreter that version supports (6.x needs Python 3.12+;
found on PATH or under pyenv) and filled with the project (editable, ``test``
extra, which brings psycopg) and that Django.  A venv is reinstalled only when
``pyproject.toml`` or the pin changes.  In each venv the Django tests run once
per database (``EARNORM_AOP_TEST_DB``): ``tests/django_orm``, the Django
backend of the built-in behaviour tests and the quickstart example.  The
PostgreSQL run starts its own private server (``tests/_postgres.py``).

Every cell runs even when an earlier one fails; the exit code is non-zero if
any failed, and a cell whose pytest collected nothing counts as failed.  Like
``scripts/test.py`` this needs nothing but the standard library.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _bootstrap import ROOT, interpreter

VENVS = ROOT / ".venvs"
DATABASES = ("sqlite", "postgres")
PYTEST_NO_TESTS = 5
# The Django tests: the integration's own, the built-ins' behaviour tests on
# the Django backend (parametrised ``[django...]``) and the Django quickstart.
SELECTION = ["tests/django_orm", *sorted(glob.glob("tests/test_builtins_*.py", root_dir=ROOT))]
SELECTION += ["tests/test_examples.py"]
KEYWORDS = "django or quickstart"


@dataclass(frozen=True)
class Django:
    """A supported Django release line: its pin and the oldest Python it runs on."""

    name: str
    pin: str
    python: tuple[int, int]
    default: bool = True  # in the matrix unless --django names the lines to run


SUPPORTED = [
    Django("4.2", "django>=4.2,<5", (3, 11)),
    Django("5.2", "django>=5.2,<6", (3, 11)),
    Django("6", "django>=6,<7", (3, 12)),  # the newest 6.x
    Django("6.0", "django>=6.0,<6.1", (3, 12), default=False),  # on request
]


def ensure_venv(django: Django, python: str) -> Path:
    """The venv of ``django`` with the project and its pinned Django installed."""
    venv = VENVS / f"django-{django.name}"
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    venv_python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    created = venv / f".created-{_digest(python.encode())}"
    key = (ROOT / "pyproject.toml").read_bytes() + django.pin.encode()
    installed = venv / f".installed-{_digest(key)}"
    if not (created.exists() and venv_python.exists()):  # new, or another interpreter
        shutil.rmtree(venv, ignore_errors=True)
        print(f"==> creating {venv.relative_to(ROOT)} with {python}", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        created.touch()
    if installed.exists():
        return venv_python
    print(f"==> installing earnorm-aop[test] (editable) and {django.pin}", flush=True)
    install = [str(venv_python), "-m", "pip", "install", "--quiet", "-e", ".[test]", django.pin]
    result = subprocess.run(install, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"pip install for Django {django.name} failed ({result.returncode})")
    for old in venv.glob(".installed-*"):
        old.unlink()
    installed.touch()
    return venv_python


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def run_cell(python: Path, database: str, pytest_args: list[str]) -> tuple[int, str]:
    """Run the Django tests on ``database``; the exit code and pytest's closing line."""
    env = dict(os.environ, EARNORM_AOP_TEST_DB=database)
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["PATH"] = str(python.parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONHOME", None)
    # addopts of the main run (coverage thresholds, workers...) are not the matrix's
    command = [str(python), "-m", "pytest", "-o", "addopts=", "-q", "-ra", *SELECTION]
    process = subprocess.Popen(
        [*command, *_narrowed(pytest_args)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    last = ""
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.strip():
            last = line.strip().strip("=").strip()
    return process.wait(), last


def _narrowed(pytest_args: list[str]) -> list[str]:
    """``pytest_args`` with any ``-k`` combined with the matrix's own (never widening it)."""
    args, keywords = [], [KEYWORDS]
    rest = iter(pytest_args)
    for arg in rest:
        if arg == "-k":
            keywords.append(next(rest, ""))
        elif arg.startswith("-k"):
            keywords.append(arg[2:].lstrip("="))
        else:
            args.append(arg)
    return [*args, "-k", " and ".join(f"({k})" for k in keywords if k)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [django.name for django in SUPPORTED]
    default = [django.name for django in SUPPORTED if django.default]
    parser.add_argument("--django", nargs="+", choices=names, default=default)
    parser.add_argument("--db", nargs="+", choices=DATABASES, default=list(DATABASES))
    parser.add_argument("--list", action="store_true", help="print the cells and exit")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)

    cells = [(d, db) for d in SUPPORTED if d.name in args.django for db in args.db]
    if args.list:
        for django, database in cells:
            print(f"Django {django.name} ({django.pin}) on {database}")
        return 0

    results: list[tuple[str, str, float, str]] = []
    failed = False
    for django in [d for d in SUPPORTED if d.name in args.django]:
        label = f"Django {django.name}"
        python = interpreter(django.python)
        if python is None:
            wanted = ".".join(map(str, django.python))
            reason = f"no Python {wanted}+ found (PATH, pyenv): install one to test {label}"
            failed = failed or bool(os.environ.get("CI"))
            results.append((label, "-", 0.0, ("FAILED: " if os.environ.get("CI") else "") + reason))
            continue
        began = time.monotonic()
        try:
            venv_python = ensure_venv(django, python)
        except (RuntimeError, subprocess.CalledProcessError) as error:
            failed = True
            results.append((label, "install", time.monotonic() - began, f"FAILED: {error}"))
            continue
        results.append((label, "install", time.monotonic() - began, "ok"))
        version = subprocess.run(
            [str(venv_python), "-c", "import django, sys; print(django.__version__, sys.version)"],
            capture_output=True,
            text=True,
        ).stdout.split()[:2]
        for database in args.db:
            print(f"==> Django {version[0]} (Python {version[1]}) on {database}", flush=True)
            began = time.monotonic()
            code, summary = run_cell(venv_python, database, args.pytest_args)
            if code != 0:
                failed = True
                if code == PYTEST_NO_TESTS:
                    summary = "no tests collected"
                summary = f"FAILED (exit code {code}): {summary or 'see the output above'}"
            cell = f"Django {version[0]} / Python {version[1]}"
            results.append((cell, database, time.monotonic() - began, summary))

    print("==> matrix summary", flush=True)
    for cell, database, seconds, summary in results:
        print(f"  {cell:<32} {database:<9} {seconds:6.1f} s  {summary}", flush=True)
    print("matrix: FAILED" if failed else "matrix: every cell passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
