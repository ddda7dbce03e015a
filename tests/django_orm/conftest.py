"""Django on a real SQLite file for the Django integration tests.

Settings are configured once, when pytest collects this folder (the test
modules import the test app's models at module level), with a database file in
a temporary folder; a session fixture creates the tables with ``migrate``
(the test app has no migrations, so ``run_syncdb`` creates its tables through
``schema_editor.create_model``) and removes the folder at the end.  Only the
tests in this folder touch Django.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # the test app, whatever pytest's import mode
    sys.path.insert(0, str(HERE))

_DB_DIR: str | None = None
if not settings.configured:
    _DB_DIR = tempfile.mkdtemp(prefix="earnorm-django-")
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(Path(_DB_DIR) / "db.sqlite3"),
                # a throwaway file: no fsync per commit
                "OPTIONS": {"init_command": "PRAGMA synchronous=OFF;"},
            }
        },
        INSTALLED_APPS=["earnorm_aop.integrations.django", "djangoapp"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()

from django.apps import apps  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def django_db() -> Iterator[None]:
    """Tables for every installed model, created once; the database folder removed after."""
    call_command("migrate", run_syncdb=True, verbosity=0)
    yield
    connections.close_all()
    if _DB_DIR is not None:
        shutil.rmtree(_DB_DIR, ignore_errors=True)


def _tables() -> list[str]:
    return [
        m._meta.db_table
        for app in ("djangoapp", "earnorm_aop")
        for m in apps.get_app_config(app).get_models(include_auto_created=True)
    ]


@pytest.fixture(autouse=True)
def _empty_tables(django_db: None) -> Iterator[None]:
    """Every test starts with empty tables (emptied with SQL, so no plugin runs)."""
    yield
    with connection.constraint_checks_disabled(), transaction.atomic():
        cursor = connection.cursor()
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

