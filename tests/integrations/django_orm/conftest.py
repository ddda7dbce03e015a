"""Django on a real database for the Django integration tests.

Django is configured when pytest collects this folder (the test modules
import the test app's models at module level), by ``tests/_django_setup.py``:
SQLite or PostgreSQL (``EARNORM_AOP_TEST_DB``), tables created with
``migrate`` (the test app has no migrations, so ``run_syncdb`` creates its
tables through ``schema_editor.create_model``).  Every test starts with empty
tables.

Where Django or the chosen database is missing, each test module is reported
as skipped with the reason (or, under ``CI``, as a collection error) instead of
being imported: a skip raised while pytest loads a conftest would abort the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_unavailable: BaseException | None = None
try:
    pytest.importorskip("django")
    from _django_setup import configure

    configure()
except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
    _unavailable = outcome


class _Unavailable(pytest.File):
    """Stands for a test module when Django or its database is unavailable."""

    def collect(self) -> Iterator[pytest.Item]:
        assert _unavailable is not None
        raise _unavailable


def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> Any:
    if _unavailable is None:
        return None  # the usual Module
    return _Unavailable.from_parent(parent, path=module_path)


def _tables() -> list[str]:
    from django.apps import apps

    return [
        m._meta.db_table
        for app in ("djangoapp", "earnorm_aop")
        for m in apps.get_app_config(app).get_models(include_auto_created=True)
    ]


@pytest.fixture(autouse=True)
def _empty_tables() -> Iterator[None]:
    """Every test starts with empty tables (emptied with SQL, so no plugin runs)."""
    from _django_setup import DATABASE_ALIASES
    from django.db import connections, transaction

    yield
    for alias in DATABASE_ALIASES:
        db = connections[alias]
        with db.constraint_checks_disabled(), transaction.atomic(using=alias):
            cursor = db.cursor()
            for table in _tables():
                cursor.execute(f'DELETE FROM "{table}"')


@pytest.fixture
def create_tables() -> Iterator[Callable[..., None]]:
    """Create tables for models defined in a test (with ``isolate_apps``); drop them after."""
    from django.db import connection

    created: list[Any] = []

    def create(*models: Any) -> None:
        with connection.schema_editor() as editor:
            for model in models:
                editor.create_model(model)
                created.append(model)

    yield create
    with connection.schema_editor() as editor:
        for model in reversed(created):
            editor.delete_model(model)
