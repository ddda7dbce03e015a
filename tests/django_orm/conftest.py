"""Django on a real SQLite file for the Django integration tests.

Django is configured when pytest collects this folder (the test modules
import the test app's models at module level), by ``tests/_django_setup.py``:
a database file in a temporary folder, tables created with ``migrate`` (the
test app has no migrations, so ``run_syncdb`` creates its tables through
``schema_editor.create_model``).  Every test starts with empty tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("django")

from _django_setup import DATABASE_ALIASES, configure

configure()

from django.apps import apps  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402


def _tables() -> list[str]:
    return [
        m._meta.db_table
        for app in ("djangoapp", "earnorm_aop")
        for m in apps.get_app_config(app).get_models(include_auto_created=True)
    ]


@pytest.fixture(autouse=True)
def _empty_tables() -> Iterator[None]:
    """Every test starts with empty tables (emptied with SQL, so no plugin runs)."""
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
