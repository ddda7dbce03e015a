#!/usr/bin/env python3
"""Lint, type-check and test earnorm_aop in the project's own virtualenv.

Usage: ``python3 scripts/test.py [--no-lint] [pytest args...]``.

This is the one command a developer and CI both run, so it needs nothing but
Python 3.11+: it creates ``.venv`` and installs the project on first use. A
run of the whole suite (no test paths named) also runs the EarnORM tests, which need Python
3.12+, in a second virtualenv ``.venv312`` made with the first 3.12+ interpreter
found (``EARNORM_AOP_PYTHON312``, ``python3.12`` on PATH, pyenv's); without one
they are skipped with the reason, except under ``CI=true``, where that fails. Every
step runs even when an earlier one fails, so one run shows every problem; the
exit code is non-zero if any step failed. pytest's exit code 5 (no tests
collected) counts as a failure: a suite that ran nothing has proved nothing.

By default the property tests run a fifth of their examples, so a developer
gets an answer in a few minutes.  With ``CI=true`` (as ``.ci/run`` sets it)
they run the full count, and pytest runs under ``coverage run`` (line and
branch coverage, configured in ``pyproject.toml``), whose report is printed
at the end.  The tests run in a random order (pytest-randomly); the seed is
printed at the top of pytest's output (``-p randomly --randomly-seed=N``
repeats an order, ``-p no:randomly`` keeps file order).  A run of the whole
suite uses up to four pytest-xdist workers (one per core; ``-n 0`` for one
process).  The tests run with ``TMPDIR`` set to a folder of their own: a
file or folder they leave there (other than pytest's own ``tmp_path`` root)
fails the run, and the folder is removed.  The last line is the command's
wall time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _bootstrap import PY312_HINT, ROOT, VENV312, ci, ensure_venv, ensure_venv312, venv_env

PYTEST_NO_TESTS = 5
MODULE_FLOOR = 85.0
"""Line and branch coverage each module of the package must reach under CI, every one of them.

The total's floor is ``fail_under`` in ``pyproject.toml`` (``coverage report``)."""
# pytest's closing line, e.g. "==== 3 failed, 1120 passed, 4 skipped in 47.1s ===="
SUMMARY = re.compile(r"^=+ .*\b\d+ (passed|failed|errors?|skipped|deselected)\b.* in [\d.]+s")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)\b")


# Run on Python 3.12+ (.venv312): the EarnORM tests, and the built-in plugins'
# behaviour tests and the change-tracking tests over the EarnORM backend only
# (EARNORM_AOP_BACKENDS).
EARNORM_TESTS = [
    "tests/integrations/earnorm_orm",
    "tests/plugins/test_builtins_*.py",
    "tests/plugin_system/test_changes.py",
    "tests/plugin_system/test_masking.py",
    "tests/testing/test_kit.py",
]
EARNORM_STEP = "pytest (Python 3.12, EarnORM)"


def run_pytest_with(coverage: bool) -> list[str]:
    """The interpreter arguments that run pytest (under ``coverage run`` when measuring)."""
    return ["-m", "coverage", "run", "-m", "pytest"] if coverage else ["-m", "pytest"]


def _names_tests(pytest_args: list[str]) -> bool:
    """Whether the arguments name test files or folders (then only those run)."""
    return any(
        not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in pytest_args
    )


def _with_workers(pytest_args: list[str]) -> list[str]:
    """A whole-suite run spreads over the machine's cores (pytest-xdist), unless told otherwise.

    On a busy 2-core machine two workers take about half the time of one: the
    suite is many short tests, and each worker has its own databases and
    servers.  ``-n 0`` (or ``-p no:xdist``) runs in one process.
    """
    told = any(
        arg in ("-n", "--numprocesses", "no:xdist") or arg.startswith(("-n", "--numprocesses="))
        for arg in pytest_args
    )
    cores = os.cpu_count() or 1
    if told or cores < 2:
        return pytest_args
    return ["-n", str(min(cores, 4)), *pytest_args]


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
    if sys.stdout.isatty() and not any(arg.startswith("--color") for arg in pytest_args):
        pytest_args.insert(0, "--color=yes")  # its output goes through a pipe (run_pytest)
    python = str(ensure_venv())
    coverage = ci()
    # The tests get a temporary folder of their own, so what they leave in it is seen.
    scratch = Path(tempfile.mkdtemp(prefix="earnorm-aop-test-run-"))
    scratch.chmod(0o1777)  # as /tmp: the private PostgreSQL cluster runs as user postgres
    coverage_json = scratch / "coverage-per-module.json"

    steps: list[tuple[str, list[str]]] = []
    if lint:
        steps += [
            ("ruff check", [python, "-m", "ruff", "check", "."]),
            ("ruff format", [python, "-m", "ruff", "format", "--check", "."]),
            ("mypy", [python, "-m", "mypy", "--strict", "earnorm_aop"]),
            # The examples as a user's project: django-stubs and SQLAlchemy's types,
            # the typing mixins (docs/typing.md), under both checkers.
            (
                "mypy examples",
                [python, "-m", "mypy", "--config-file", "examples/mypy.ini", "examples"],
            ),
            (
                "pyright examples",
                [python, "-m", "pyright", "--project", "examples", "--pythonpath", python],
            ),
        ]
    # A run of the whole suite (no test paths named; options such as ``-n 2`` are
    # passed on) also runs the EarnORM tests on Python 3.12+, in their own virtualenv.
    failed: list[tuple[str, int]] = []
    earnorm: list[str] = []
    if not _names_tests(pytest_args):
        pytest_args = _with_workers(pytest_args)
        python312 = ensure_venv312()
        if python312 is None:
            message = f"no Python 3.12+ found, EarnORM tests not run: {PY312_HINT}"
            if ci():
                print(f"error: {message}; CI is set, so they must run", flush=True)
                failed.append((EARNORM_STEP, 1))
            else:
                print(f"==> skipped: {message}", flush=True)
        else:
            files = [str(p.relative_to(ROOT)) for g in EARNORM_TESTS for p in ROOT.glob(g)]
            earnorm = [str(python312), *run_pytest_with(coverage), *pytest_args, *sorted(files)]

    if coverage:
        # Coverage starts before pytest imports anything (the pytest11 entry
        # point imports earnorm_aop while plugins load), and follows Python
        # subprocesses; `combine` merges the data of every process, the
        # EarnORM step's (Python 3.12) included.
        steps += [
            ("coverage erase", [python, "-m", "coverage", "erase"]),
            ("pytest", [python, *run_pytest_with(coverage), *pytest_args]),
        ]
        if earnorm:
            steps.append((EARNORM_STEP, earnorm))
        # `report` fails under the total's floor (fail_under in pyproject.toml);
        # `json` feeds the check of each module's floor (MODULE_FLOOR) below.
        steps += [
            ("coverage combine", [python, "-m", "coverage", "combine", "--quiet"]),
            ("coverage report", [python, "-m", "coverage", "report"]),
            (
                "coverage json",
                [python, "-m", "coverage", "json", "--quiet", "-o", str(coverage_json)],
            ),
        ]
    else:
        steps.append(("pytest", [python, "-m", "pytest", *pytest_args]))
        if earnorm:
            steps.append((EARNORM_STEP, earnorm))

    envs = {name: venv_env() for name, _ in steps}
    if earnorm:
        envs[EARNORM_STEP] = venv_env(VENV312)
        envs[EARNORM_STEP]["EARNORM_AOP_BACKENDS"] = "earnorm"
    for name, env in envs.items():
        if name.startswith("pytest"):
            env["TMPDIR"] = str(scratch)

    summaries: list[str] = []
    for name, cmd in steps:
        print(f"==> {name}", flush=True)
        if name.startswith("pytest"):
            code, summary = run_pytest(cmd, envs[name])
            if summary is not None:
                summaries.append(summary if name == "pytest" else f"{summary} ({name[8:-1]})")
        else:
            code = subprocess.run(cmd, cwd=ROOT, env=envs[name]).returncode
        if code != 0:
            failed.append((name, code))
            if name.startswith("pytest") and code == PYTEST_NO_TESTS:
                print("error: pytest collected no tests (exit code 5)", flush=True)

    if coverage and coverage_json.exists():
        low = below_floor(json.loads(coverage_json.read_text()))
        coverage_json.unlink()
        if low:
            print(f"error: modules under {MODULE_FLOOR:g}% coverage: {', '.join(low)}", flush=True)
            failed.append(("coverage per module", 1))

    left = leftovers(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        print(f"error: the tests left {len(left)} temporary files or folders: {shown}", flush=True)
        failed.append(("temporary files", 1))

    for summary in summaries:
        # pytest's counts again, after the coverage report, in one plain line each.
        print(summary, flush=True)
    if failed:
        summary = ", ".join(f"{name} (exit code {code})" for name, code in failed)
        print(f"FAILED steps: {summary}", file=sys.stderr, flush=True)
        return failed[0][1]
    print("all steps passed", flush=True)
    return 0


def below_floor(report: dict[str, Any]) -> list[str]:
    """The package's modules whose line and branch coverage is under ``MODULE_FLOOR``.

    ``report`` is ``coverage json``'s; each entry reads ``path (NN.NN%)``.
    """
    low = []
    for path, data in sorted(report.get("files", {}).items()):
        percent = float(data["summary"]["percent_covered"])
        if percent < MODULE_FLOOR:
            low.append(f"{path} ({percent:.2f}%)")
    return low


def leftovers(folder: Path) -> list[str]:
    """What the tests left in their temporary ``folder``, but pytest's own ``tmp_path`` root.

    pytest keeps its last three ``pytest-of-<user>`` runs by design; anything
    else (a database file, a server's folder) is a test that did not clean up.
    """
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("pytest-of-"))


def run_pytest(cmd: list[str], env: dict[str, str]) -> tuple[int, str | None]:
    """Run pytest, passing its output through; its exit code and a plain count line.

    The count line (``tests: N passed, N failed, N skipped``) is built from
    pytest's closing line, so the run's last lines say what ran even when the
    coverage report follows pytest's own summary.
    """
    closing = None
    with subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            plain = ANSI.sub("", line)
            if SUMMARY.match(plain):
                closing = plain
        sys.stdout.flush()
    if closing is None:
        return proc.returncode, None
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for number, word in COUNT.findall(closing):
        key = "failed" if word.startswith("error") else word
        counts[key] += int(number)
    line = f"tests: {counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        line += f", {counts['skipped']} skipped"
    return proc.returncode, line


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
