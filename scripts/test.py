#!/usr/bin/env python3
"""Lint, type-check and test earnorm_aop in the project's own virtualenv.

Usage: ``python3 scripts/test.py [--no-lint] [pytest args...]``.

This is the one command a developer and CI both run, so it needs nothing but
Python 3.11+: it creates ``.venv`` and installs the project on first use. A
run of the whole suite (no test paths named) also runs the EarnORM tests, which need Python
3.12+, in a second virtualenv ``.venv312`` made with the first 3.12+ interpreter
found (``EARNORM_AOP_PYTHON312``, pyenv's, ``python3.12`` on PATH); without one
they are skipped with the reason, except under ``CI=true``, where that fails. Every
step runs even when an earlier one fails, so one run shows every problem; the
exit code is non-zero if any step failed. pytest's exit code 5 (no tests
collected) counts as a failure: a suite that ran nothing has proved nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys

from _bootstrap import PY312_HINT, ROOT, VENV312, ensure_venv, ensure_venv312, venv_env

PYTEST_NO_TESTS = 5

# Run on Python 3.12+ (.venv312): the EarnORM tests, and the built-in plugins'
# behaviour tests over the EarnORM backend only (EARNORM_AOP_BACKENDS).
EARNORM_TESTS = ["tests/earnorm_orm", "tests/test_builtins_*.py"]


def _names_tests(pytest_args: list[str]) -> bool:
    """Whether the arguments name test files or folders (then only those run)."""
    return any(
        not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in pytest_args
    )


def main(argv: list[str]) -> int:
    lint = "--no-lint" not in argv
    pytest_args = [arg for arg in argv if arg != "--no-lint"]
    python = str(ensure_venv())

    steps: list[tuple[str, list[str]]] = []
    if lint:
        steps += [
            ("ruff check", [python, "-m", "ruff", "check", "."]),
            ("ruff format", [python, "-m", "ruff", "format", "--check", "."]),
            ("mypy", [python, "-m", "mypy", "--strict", "earnorm_aop"]),
        ]
    steps.append(("pytest", [python, "-m", "pytest", *pytest_args]))

    failed: list[tuple[str, int]] = []
    envs = {name: venv_env() for name, _ in steps}
    # A run of the whole suite (no test paths named; options such as ``-n 2`` are
    # passed on) also runs the EarnORM tests on Python 3.12+.
    if not _names_tests(pytest_args):
        python312 = ensure_venv312()
        if python312 is None:
            message = f"no Python 3.12+ found, EarnORM tests not run: {PY312_HINT}"
            if os.environ.get("CI"):
                print(f"error: {message}; CI is set, so they must run", flush=True)
                failed.append(("pytest (Python 3.12, EarnORM)", 1))
            else:
                print(f"==> skipped: {message}", flush=True)
        else:
            name = "pytest (Python 3.12, EarnORM)"
            env = venv_env(VENV312)
            env["EARNORM_AOP_BACKENDS"] = "earnorm"
            files = [str(p.relative_to(ROOT)) for g in EARNORM_TESTS for p in ROOT.glob(g)]
            cmd = [str(python312), "-m", "pytest", *pytest_args, *sorted(files)]
            steps.append((name, cmd))
            envs[name] = env

    for name, cmd in steps:
        print(f"==> {name}", flush=True)
        code = subprocess.run(cmd, cwd=ROOT, env=envs[name]).returncode
        if code != 0:
            failed.append((name, code))
            if name.startswith("pytest") and code == PYTEST_NO_TESTS:
                print("error: pytest collected no tests (exit code 5)", flush=True)

    if failed:
        summary = ", ".join(f"{name} (exit code {code})" for name, code in failed)
        print(f"FAILED steps: {summary}", file=sys.stderr, flush=True)
        return failed[0][1]
    print("all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
