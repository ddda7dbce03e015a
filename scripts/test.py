#!/usr/bin/env python3
"""Lint, type-check and test earnorm_aop in the project's own virtualenv.

Usage: ``python3 scripts/test.py [--no-lint] [pytest args...]``.

This is the one command a developer and CI both run, so it needs nothing but
Python 3.11+: it creates ``.venv`` and installs the project on first use. Every
step runs even when an earlier one fails, so one run shows every problem; the
exit code is non-zero if any step failed. pytest's exit code 5 (no tests
collected) counts as a failure: a suite that ran nothing has proved nothing.

By default the property tests run a fifth of their examples, so a developer
gets an answer in a few minutes.  With ``CI=true`` (as ``.ci/run`` sets it)
they run the full count, and pytest runs under ``coverage run`` (line and
branch coverage, configured in ``pyproject.toml``), whose report is printed
at the end.  The tests run in a random order (pytest-randomly); the seed is
printed at the top of pytest's output (``-p randomly --randomly-seed=N``
repeats an order, ``-p no:randomly`` keeps file order).  The last line is
the command's wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _bootstrap import ROOT, ensure_venv, venv_env

PYTEST_NO_TESTS = 5


def ci() -> bool:
    """Whether this is a CI run (``CI=true``, as ``.ci/run`` sets it)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def main(argv: list[str]) -> int:
    started = time.monotonic()
    try:
        return run(argv)
    finally:
        elapsed = time.monotonic() - started
        print(f"wall time: {elapsed:.0f} s ({elapsed / 60:.1f} min)", flush=True)


def run(argv: list[str]) -> int:
    lint = "--no-lint" not in argv
    pytest_args = [arg for arg in argv if arg != "--no-lint"]
    python = str(ensure_venv())
    coverage = ci()

    steps: list[tuple[str, list[str]]] = []
    if lint:
        steps += [
            ("ruff check", [python, "-m", "ruff", "check", "."]),
            ("ruff format", [python, "-m", "ruff", "format", "--check", "."]),
            ("mypy", [python, "-m", "mypy", "--strict", "earnorm_aop"]),
        ]
    if coverage:
        # Coverage starts before pytest imports anything (the pytest11 entry
        # point imports earnorm_aop while plugins load), and follows Python
        # subprocesses; `combine` merges the data of every process.
        steps += [
            ("coverage erase", [python, "-m", "coverage", "erase"]),
            ("pytest", [python, "-m", "coverage", "run", "-m", "pytest", *pytest_args]),
            ("coverage combine", [python, "-m", "coverage", "combine", "--quiet"]),
            ("coverage report", [python, "-m", "coverage", "report"]),
        ]
    else:
        steps.append(("pytest", [python, "-m", "pytest", *pytest_args]))

    failed: list[tuple[str, int]] = []
    for name, cmd in steps:
        print(f"==> {name}", flush=True)
        code = subprocess.run(cmd, cwd=ROOT, env=venv_env()).returncode
        if code != 0:
            failed.append((name, code))
            if name == "pytest" and code == PYTEST_NO_TESTS:
                print("error: pytest collected no tests (exit code 5)", flush=True)

    if failed:
        summary = ", ".join(f"{name} (exit code {code})" for name, code in failed)
        print(f"FAILED steps: {summary}", file=sys.stderr, flush=True)
        return failed[0][1]
    print("all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
