#!/usr/bin/env python3
"""Run the ORM integrations' tests on every supported ORM version, on SQLite and on PostgreSQL.

Usage: ``python3 scripts/matrix.py [--django 4.2 5.2 6 6.0] [--sqlalchemy 2.0 2.1]
[--db sqlite postgres] [--list] [-- pytest args...]``; by default Django 4.2,
5.2 and the newest 6.x (``6``) and SQLAlchemy 2.0 and 2.1, each on both
databases.  Naming only ``--django`` (or only ``--sqlalchemy``) runs only
that ORM's lines.

Each ORM line gets its own virtualenv in ``.venvs/`` (git-ignored), created
with an interpreter that line supports (Django 6.x needs Python 3.12+; found
on PATH or under pyenv) and filled with the project (editable, ``test``
extra, which brings psycopg) and the pinned ORM (plus, for SQLAlchemy,
sqlalchemy-easy-softdelete: it declares ``sqlalchemy<2.1``, so on 2.1 it is
installed without its dependencies).  A venv is
reinstalled only when ``pyproject.toml`` or the pins change.  In each venv
the ORM's tests run once per database (``EARNORM_AOP_TEST_DB``): its own
folder (``tests/integrations/django_orm``, ``../sqlalchemy_orm``), its backends of
every test module parametrised over the ``backend`` fixture (the built-in
behaviour tests, change tracking, masking...: found by ``backend_modules``)
and, for Django, the quickstart example.  The PostgreSQL run starts its own
private server (``tests/_postgres.py``).

Every cell runs even when an earlier one fails; the exit code is non-zero if
any failed, and a cell whose pytest collected nothing counts as failed.  Like
``scripts/test.py`` this needs nothing but the standard library.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _bootstrap import ROOT, ci, interpreter

VENVS = ROOT / ".venvs"
DATABASES = ("sqlite", "postgres")
PYTEST_NO_TESTS = 5


def backend_modules(tests: Path = ROOT / "tests") -> list[str]:
    """The test modules with a test (or fixture) over ``backend`` or the kit's ``earnorm_backend``.

    Their ``[django]``, ``[sqlalchemy]`` and ``[sqlalchemy-async]`` variants
    belong to the ORM cells; found by reading the modules, so a new
    backend-parametrised module joins the matrix without being listed here.
    """
    found = []
    # The ORM folders (tests/integrations/*_orm) are each a cell's own folder.
    paths = (p for p in tests.rglob("test_*.py") if not p.parent.name.endswith("_orm"))
    for path in sorted(paths):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                arg.arg in ("backend", "earnorm_backend")  # the kit's fixture, or ours over it
                for arg in [*node.args.args, *node.args.kwonlyargs]
            ):
                found.append(path.relative_to(ROOT).as_posix())
                break
    return found


@dataclass(frozen=True)
class Line:
    """A supported release line of an ORM: its pins and the oldest Python it runs on."""

    orm: str  # "django" or "sqlalchemy": the --option naming its lines, and its test keyword
    name: str
    pins: tuple[str, ...]
    python: tuple[int, int]
    default: bool = True  # in the matrix unless the ORM's option names the lines to run
    no_deps: tuple[str, ...] = ()  # installed after, without their dependencies
    env: dict[str, str] = field(default_factory=dict)  # for its pytest runs

    @property
    def label(self) -> str:
        return f"{ORMS[self.orm].title} {self.name}"


@dataclass(frozen=True)
class Orm:
    """What a cell of one ORM runs: its test folder, the backend modules' variants, more."""

    title: str
    module: str  # imported to print the installed version
    folder: str
    keywords: str  # -k: this ORM's tests of the selection
    extra: tuple[str, ...] = ()

    def selection(self) -> list[str]:
        return [self.folder, *backend_modules(), *self.extra]


ORMS = {
    # The quickstart example (tests/test_examples.py) runs on Django.
    "django": Orm(
        "Django",
        "django",
        "tests/integrations/django_orm",
        "django or quickstart",
        extra=("tests/test_examples.py",),
    ),
    "sqlalchemy": Orm(
        "SQLAlchemy", "sqlalchemy", "tests/integrations/sqlalchemy_orm", "sqlalchemy"
    ),
}

# sqlalchemy-easy-softdelete (the reference of the soft-delete parity tests)
# declares sqlalchemy<2.1: the 2.0 cell installs it as it is, the 2.1 cell
# without its dependencies (it works there).  In both its tests must run:
# the variable turns the parity module's skip into a failure.
EASY_SOFTDELETE = "sqlalchemy-easy-softdelete"
REQUIRE_EASY_SOFTDELETE = {"EARNORM_AOP_REQUIRE_EASY_SOFTDELETE": "1"}

SUPPORTED = [
    Line("django", "4.2", ("django>=4.2,<5",), (3, 11)),
    Line("django", "5.2", ("django>=5.2,<6",), (3, 11)),
    Line("django", "6", ("django>=6,<7",), (3, 12)),  # the newest 6.x
    Line("django", "6.0", ("django>=6.0,<6.1",), (3, 12), default=False),  # on request
    Line(
        "sqlalchemy",
        "2.0",
        ("sqlalchemy[asyncio]>=2.0,<2.1", EASY_SOFTDELETE),
        (3, 11),
        env=REQUIRE_EASY_SOFTDELETE,
    ),
    Line(
        "sqlalchemy",
        "2.1",
        ("sqlalchemy[asyncio]>=2.1,<2.2",),
        (3, 11),
        no_deps=(EASY_SOFTDELETE,),
        env=REQUIRE_EASY_SOFTDELETE,
    ),
]


def ensure_venv(line: Line, python: str) -> Path:
    """The venv of ``line`` with the project and its pinned ORM installed."""
    venv = VENVS / f"{line.orm}-{line.name}"
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    venv_python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    created = venv / f".created-{_digest(python.encode())}"
    key = (ROOT / "pyproject.toml").read_bytes() + repr((line.pins, line.no_deps)).encode()
    installed = venv / f".installed-{_digest(key)}"
    if not (created.exists() and venv_python.exists()):  # new, or another interpreter
        shutil.rmtree(venv, ignore_errors=True)
        print(f"==> creating {venv.relative_to(ROOT)} with {python}", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        created.touch()
    if installed.exists():
        return venv_python
    print(f"==> installing earnorm-aop[test] (editable) and {' '.join(line.pins)}", flush=True)
    install = [str(venv_python), "-m", "pip", "install", "--quiet", "-e", ".[test]", *line.pins]
    result = subprocess.run(install, cwd=ROOT)
    if result.returncode == 0 and line.no_deps:
        print(f"==> installing {' '.join(line.no_deps)} (--no-deps)", flush=True)
        no_deps = [str(venv_python), "-m", "pip", "install", "--quiet", "--no-deps"]
        result = subprocess.run([*no_deps, *line.no_deps], cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"pip install for {line.label} failed ({result.returncode})")
    for old in venv.glob(".installed-*"):
        old.unlink()
    installed.touch()
    return venv_python


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def run_cell(python: Path, line: Line, database: str, pytest_args: list[str]) -> tuple[int, str]:
    """Run ``line``'s tests on ``database``; the exit code and pytest's closing line."""
    env = dict(os.environ, EARNORM_AOP_TEST_DB=database, **line.env)
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["PATH"] = str(python.parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONHOME", None)
    orm = ORMS[line.orm]
    # addopts of the main run (coverage thresholds, workers...) are not the matrix's
    command = [str(python), "-m", "pytest", "-o", "addopts=", "-q", "-ra", *orm.selection()]
    process = subprocess.Popen(
        [*command, *narrowed(orm.keywords, pytest_args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    last = ""
    assert process.stdout is not None
    for output in process.stdout:
        print(output, end="", flush=True)
        if output.strip():
            last = output.strip().strip("=").strip()
    return process.wait(), last


def narrowed(keywords: str, pytest_args: list[str]) -> list[str]:
    """``pytest_args`` with any ``-k`` combined with the cell's ``keywords`` (never widening)."""
    args, every = [], [keywords]
    rest = iter(pytest_args)
    for arg in rest:
        if arg == "-k":
            every.append(next(rest, ""))
        elif arg.startswith("-k"):
            every.append(arg[2:].lstrip("="))
        else:
            args.append(arg)
    return [*args, "-k", " and ".join(f"({k})" for k in every if k)]


def chosen(args: argparse.Namespace) -> list[Line]:
    """The lines to run: those named, or, when no ORM option is given, every default line."""
    named = {orm: getattr(args, orm) for orm in ORMS if getattr(args, orm) is not None}
    if not named:
        return [line for line in SUPPORTED if line.default]
    return [line for line in SUPPORTED if line.name in named.get(line.orm, ())]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for orm in ORMS:
        names = [line.name for line in SUPPORTED if line.orm == orm]
        default = [line.name for line in SUPPORTED if line.orm == orm and line.default]
        parser.add_argument(
            f"--{orm}",
            nargs="+",
            choices=names,
            help=f"the {ORMS[orm].title} lines to run (default: {' '.join(default)})",
        )
    parser.add_argument("--db", nargs="+", choices=DATABASES, default=list(DATABASES))
    parser.add_argument("--list", action="store_true", help="print the cells and exit")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)

    lines = chosen(args)
    if args.list:
        for line in lines:
            for database in args.db:
                pins = [*line.pins, *(f"{pin} --no-deps" for pin in line.no_deps)]
                print(f"{line.label} ({', '.join(pins)}) on {database}")
        return 0

    results: list[tuple[str, str, float, str]] = []
    failed = False
    for line in lines:
        python = interpreter(line.python)
        if python is None:
            wanted = ".".join(map(str, line.python))
            reason = f"no Python {wanted}+ found (PATH, pyenv): install one to test {line.label}"
            failed = failed or ci()
            results.append((line.label, "-", 0.0, ("FAILED: " if ci() else "") + reason))
            continue
        began = time.monotonic()
        try:
            venv_python = ensure_venv(line, python)
        except (RuntimeError, subprocess.CalledProcessError) as error:
            failed = True
            results.append((line.label, "install", time.monotonic() - began, f"FAILED: {error}"))
            continue
        results.append((line.label, "install", time.monotonic() - began, "ok"))
        module = ORMS[line.orm].module
        probe = f"import {module}, sys; print({module}.__version__, sys.version)"
        version = subprocess.run(
            [str(venv_python), "-c", probe],
            capture_output=True,
            text=True,
        ).stdout.split()[:2]
        title = ORMS[line.orm].title
        for database in args.db:
            print(f"==> {title} {version[0]} (Python {version[1]}) on {database}", flush=True)
            began = time.monotonic()
            code, summary = run_cell(venv_python, line, database, args.pytest_args)
            if code != 0:
                failed = True
                if code == PYTEST_NO_TESTS:
                    summary = "no tests collected"
                summary = f"FAILED (exit code {code}): {summary or 'see the output above'}"
            cell = f"{title} {version[0]} / Python {version[1]}"
            results.append((cell, database, time.monotonic() - began, summary))

    print("==> matrix summary", flush=True)
    for cell, database, seconds, summary in results:
        print(f"  {cell:<36} {database:<9} {seconds:6.1f} s  {summary}", flush=True)
    print("matrix: FAILED" if failed else "matrix: every cell passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
