"""The kit's SQLite databases live in one folder per process and go with their backend.

A folder per database left ~2,300 ``earnorm-sqlalchemy-*`` folders behind
each run; ``scripts/test.py`` now fails a run that leaves anything in its
temporary folder (``leftovers``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from earnorm_aop.testing._sqlalchemy import SQLAlchemyBackend, database_url, drop_database

ROOT = Path(__file__).resolve().parents[2]


def _sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


@pytest.mark.skipif(
    os.environ.get("EARNORM_AOP_TEST_DB", "sqlite") == "postgres", reason="SQLite files only"
)
def test_databases_share_one_folder_and_a_closed_backend_removes_its_file() -> None:
    first, second = _sqlite_path(database_url(False)), _sqlite_path(database_url(True))
    assert first.parent == second.parent and first != second
    backend = SQLAlchemyBackend()
    path = _sqlite_path(backend.url)
    backend.create(backend.model(), title="t")
    assert path.exists() and path.parent == first.parent
    backend.close()
    assert not path.exists()
    drop_database("sqlite:////elsewhere/not-ours.sqlite3")  # not the kit's: left alone


def test_the_test_script_reports_what_the_tests_leave_behind(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location("_test_script", ROOT / "scripts" / "test.py")
        assert spec is not None and spec.loader is not None
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    (tmp_path / "pytest-of-someone").mkdir()
    assert script.leftovers(tmp_path) == []
    (tmp_path / "earnorm-sqlalchemy-x").mkdir()
    (tmp_path / "db.sqlite3").write_text("")
    assert script.leftovers(tmp_path) == ["db.sqlite3", "earnorm-sqlalchemy-x"]


def test_the_test_script_names_each_module_under_the_coverage_floor() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location("_test_script2", ROOT / "scripts" / "test.py")
        assert spec is not None and spec.loader is not None
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    report = {
        "files": {
            "earnorm_aop/a.py": {"summary": {"percent_covered": 84.99}},
            "earnorm_aop/b.py": {"summary": {"percent_covered": 85.0}},
            "earnorm_aop/c.py": {"summary": {"percent_covered": 12.0}},
        }
    }
    assert script.MODULE_FLOOR == 85.0
    assert script.below_floor(report) == ["earnorm_aop/a.py (84.99%)", "earnorm_aop/c.py (12.00%)"]
    assert script.below_floor({"files": {}}) == []


def test_an_xdist_worker_is_given_time_to_run_its_exit_handlers() -> None:
    """Killed after xdist's 10 s, a busy worker loses its coverage data and leaves its folders."""
    from xdist.workermanage import NodeManager

    assert NodeManager.EXIT_TIMEOUT >= 60  # tests/conftest.py's WORKER_EXIT_SECONDS
