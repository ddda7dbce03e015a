"""One reading of ``CI``: ``1``, ``true`` or ``yes`` in any case, everywhere.

A test that skips where ``CI`` means it to fail proves nothing; so every test,
fixture, the pytest plugin and the scripts ask ``earnorm_aop.testing._ci.ci``,
and nothing else in the repository reads the variable.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from earnorm_aop.testing._ci import ci

ROOT = Path(__file__).resolve().parents[2]
# os.environ.get("CI"...), os.environ["CI"], os.getenv("CI"...), environ.get('CI')
READS_CI = re.compile(r"""(environ\s*(\.get\s*\(|\[)|getenv\s*\()\s*["']CI["']""")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("YES", True),
        (" true\n", True),
        ("", False),
        ("0", False),
        ("false", False),
        ("no", False),
        ("on", False),
        ("y", False),
    ],
)
def test_ci_is_one_true_or_yes_in_any_case(value: str, expected: bool) -> None:
    assert ci({"CI": value}) is expected


def test_ci_unset_is_not_ci_and_the_environment_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ci({}) is False
    monkeypatch.setenv("CI", "Yes")
    assert ci() is True
    monkeypatch.delenv("CI")
    assert ci() is False


def test_the_scripts_read_ci_through_the_same_helper() -> None:
    """``scripts/_bootstrap.py`` loads the module by path (no virtualenv needed)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(
            "_bootstrap_ci", ROOT / "scripts" / "_bootstrap.py"
        )
        assert spec is not None and spec.loader is not None
        bootstrap = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bootstrap)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    for value in ("true", "1", "YES", "", "false", "0"):
        assert bootstrap.ci({"CI": value}) is ci({"CI": value})
    assert Path(bootstrap.ci.__code__.co_filename).resolve() == (
        ROOT / "earnorm_aop" / "testing" / "_ci.py"
    )


def test_nothing_else_reads_the_ci_variable() -> None:
    helper = ROOT / "earnorm_aop" / "testing" / "_ci.py"
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("earnorm_aop", "tests", "scripts", "benchmarks", "examples")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path not in (helper, Path(__file__).resolve())  # this file names the patterns
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if READS_CI.search(line)
    ]
    assert readers == [], "read CI with earnorm_aop.testing._ci.ci() instead"


def test_the_pattern_finds_each_way_of_reading_it() -> None:
    for line in (
        'os.environ.get("CI")',
        "os.environ['CI']",
        'os.getenv("CI", "")',
        "environ.get( 'CI' )",
    ):
        assert READS_CI.search(line), line
    assert not READS_CI.search('monkeypatch.setenv("CI", "1")')


class _Item:
    """What ``ci_only_skip`` reads of a collected test."""

    nodeid = "tests/cli/test_scaffold.py::test_slow"

    def __init__(self, mark: pytest.MarkDecorator | None) -> None:
        self.mark = mark

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return self.mark.mark if self.mark is not None and name == "ci_only" else None


def test_a_ci_only_test_is_skipped_with_its_reason_outside_ci_and_runs_under_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from _ci_only import ci_only_skip

    slow = _Item(pytest.mark.ci_only("installs into a fresh virtualenv"))
    monkeypatch.setenv("CI", "false")
    skip = ci_only_skip(slow)  # type: ignore[arg-type]
    assert skip is not None and skip.name == "skip"
    assert skip.kwargs["reason"] == (
        "installs into a fresh virtualenv: run under CI only "
        "(CI=true python3 scripts/test.py --no-lint tests/cli/test_scaffold.py)"
    )
    assert ci_only_skip(_Item(None)) is None  # type: ignore[arg-type]  # others left alone
    monkeypatch.setenv("CI", "true")
    assert ci_only_skip(slow) is None  # type: ignore[arg-type]


def test_the_tests_that_fill_a_virtualenv_with_pip_are_ci_only() -> None:
    """A test that pip-installs a fresh virtualenv (a minute or more) is marked ``ci_only``."""
    filling, unmarked = [], []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        text = path.read_text()
        if re.search(r"""["']venv["']|EnvBuilder\(""", text) and '"pip"' in text:
            filling.append(path.relative_to(ROOT).as_posix())
            if "pytest.mark.ci_only(" not in text:
                unmarked.append(filling[-1])
    assert {"tests/cli/test_scaffold.py", "tests/test_example_plugins.py"} <= set(filling)
    assert unmarked == []
