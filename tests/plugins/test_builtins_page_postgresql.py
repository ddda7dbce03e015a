"""The plugin page's tests (``test_builtins_page.py``) again, on PostgreSQL.

In a module of its own: the page's module runs each test once per backend (an
autouse fixture takes ``backend``), and this one runs that whole module once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import _postgres
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE_TESTS = Path(__file__).with_name("test_builtins_page.py")


@pytest.mark.ci_only("the page's tests again on PostgreSQL, in a pytest process of its own")
def test_the_page_runs_on_django_and_sqlalchemy_on_postgresql() -> None:
    """The page module's tests again, on PostgreSQL (the private cluster), in a process of its own.

    Django's database is chosen once per process (the suite's is SQLite), so
    the PostgreSQL run is a pytest of the page module with ``--earnorm-db=postgres``
    over the django and sqlalchemy backends; ``python3 scripts/matrix.py`` runs
    it on every supported Django and SQLAlchemy too.
    """
    if os.environ.get("EARNORM_AOP_TEST_DB", "").strip().lower() == "postgres":
        pytest.skip("this run is the PostgreSQL one")
    if _postgres.binaries() is None:
        _postgres.unavailable("initdb, pg_ctl and postgres were not found")
    pytest.importorskip("psycopg")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(PAGE_TESTS),
            "--earnorm-db=postgres",
            "--earnorm-backends=django,sqlalchemy,sqlalchemy-async",
            "-k",
            "not postgresql",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = done.stdout.strip().splitlines()[-1:]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # Every block on each of the three backends: 6 tests x 3, none skipped or failed.
    assert summary and summary[0].startswith("18 passed"), summary
