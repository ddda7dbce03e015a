"""scripts/matrix.py: which tests each ORM cell runs, and what the SQLAlchemy cells require.

The cells themselves run in CI (``.ci/run``); these tests check the parts
that decide what they run, so a backend-parametrised module or the
sqlalchemy-easy-softdelete comparison cannot silently drop out of them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE = "EARNORM_AOP_REQUIRE_EASY_SOFTDELETE"
PARITY = "tests/integrations/sqlalchemy_orm/test_sqlalchemy_easy_softdelete_parity.py"


@pytest.fixture(scope="module")
def matrix() -> Iterator[ModuleType]:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        yield importlib.import_module("matrix")
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_every_backend_parametrised_module_is_in_both_orms_cells(matrix: ModuleType) -> None:
    modules = matrix.backend_modules()
    assert {"tests/plugin_system/test_changes.py", "tests/plugin_system/test_masking.py"} <= set(
        modules
    )
    assert "tests/plugins/test_builtins_softdelete.py" in modules
    assert "tests/weaving/test_engine_pointcut.py" not in modules  # no backend: not an ORM cell's
    for orm in matrix.ORMS.values():
        assert set(modules) <= set(orm.selection())
        assert orm.folder in orm.selection()


def test_a_cells_keywords_are_narrowed_never_widened(matrix: ModuleType) -> None:
    assert matrix.narrowed("sqlalchemy", ["-x"]) == ["-x", "-k", "(sqlalchemy)"]
    assert matrix.narrowed("django or quickstart", ["-k", "audit", "-kcache"]) == [
        "-k",
        "(django or quickstart) and (audit) and (cache)",
    ]


def _chosen(matrix: ModuleType, **names: list[str]) -> list[str]:
    args = argparse.Namespace(**{orm: names.get(orm) for orm in matrix.ORMS})
    return [line.label for line in matrix.chosen(args)]


def test_the_default_matrix_and_naming_one_orms_lines(matrix: ModuleType) -> None:
    assert _chosen(matrix) == [
        "Django 4.2",
        "Django 5.2",
        "Django 6",
        "SQLAlchemy 2.0",
        "SQLAlchemy 2.1",
    ]
    assert _chosen(matrix, sqlalchemy=["2.0"]) == ["SQLAlchemy 2.0"]
    assert _chosen(matrix, django=["6.0"]) == ["Django 6.0"]


def test_every_sqlalchemy_cell_installs_and_requires_easy_softdelete(
    matrix: ModuleType,
) -> None:
    requiring = [line.label for line in matrix.SUPPORTED if line.env.get(REQUIRE)]
    installing = [
        line.label
        for line in matrix.SUPPORTED
        if matrix.EASY_SOFTDELETE in (*line.pins, *line.no_deps)
    ]
    assert requiring == installing == ["SQLAlchemy 2.0", "SQLAlchemy 2.1"]
    (line,) = [line for line in matrix.SUPPORTED if line.label == "SQLAlchemy 2.1"]
    assert line.no_deps == (matrix.EASY_SOFTDELETE,)  # it declares sqlalchemy<2.1


def _parity_run(require: bool) -> subprocess.CompletedProcess[str]:
    """The parity module in a new pytest process where sqlalchemy-easy-softdelete cannot import."""
    program = (
        "import sys; sys.modules['sqlalchemy_easy_softdelete'] = None; import pytest; "
        f"sys.exit(pytest.main(['-o', 'addopts=', '-p', 'no:randomly', '-q', '-rs', {PARITY!r}]))"
    )
    env = {k: v for k, v in os.environ.items() if k != REQUIRE}
    if require:
        env[REQUIRE] = "1"
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_easy_softdelete_the_parity_module_skips_naming_the_matrix_cell() -> None:
    done = _parity_run(require=False)
    assert done.returncode == 5, done.stdout + done.stderr  # everything skipped: none collected
    assert "SQLAlchemy 2.0 and 2.1 cells of scripts/matrix.py" in done.stdout


def test_in_a_sqlalchemy_cell_a_missing_easy_softdelete_fails_the_run() -> None:
    done = _parity_run(require=True)
    assert done.returncode not in (0, 5), done.stdout + done.stderr
    assert "EARNORM_AOP_REQUIRE_EASY_SOFTDELETE is set, so this module must run" in done.stdout
