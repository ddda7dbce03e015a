"""Every example in examples/ runs, and says what its plugins did.

Each runs in its own interpreter: the quickstart configures Django for its
own database, which must not meet the test suite's Django settings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_example_has_a_test() -> None:
    # earnorm_quickstart.py needs Python 3.12+: tests/earnorm_orm/test_earnorm_example.py.
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "earnorm_quickstart.py",
        "quickstart.py",
    ]


def test_quickstart_shows_each_plugin_at_work() -> None:
    pytest.importorskip("django")
    out = run("quickstart.py")
    assert "created_at, updated_at, deleted_at" in out
    assert "updated_at moved on: True" in out
    assert "delete() kept the row: visible=0, in table=1" in out
    assert "restore() brought it back: 1 visible" in out
    assert "first get(pk) ran 1 query, the second 0" in out
    assert "delete() really deleted the row: True" in out
    for action in ("create", "update", "soft_delete", "restore", "delete"):
        assert f"  {action} " in out
    assert "by alice" in out
    assert "cache write failed" not in out
    # explain(): the woven operations, each with its advice in order
    assert "get_queryset (" in out
    assert "chain   softdelete." in out
    assert "delete_many (" in out
