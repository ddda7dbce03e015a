"""Django on a real database, configured once per session by whichever test needs it first.

The Django integration tests (``tests/integrations/django_orm``) and the Django backend of
the built-in plugin tests share one configuration: the test app
``djangoapp`` (in ``tests/integrations/django_orm``), the integration's own app (its audit
table), and the database ``EARNORM_AOP_TEST_DB`` names:

- ``sqlite`` (the default): a database file in a temporary folder removed at exit;
- ``postgres``: a private PostgreSQL cluster started for this process
  (``tests/_postgres.py``), reached with psycopg 3, stopped and removed at exit.

Either way a second alias, ``other``, holds the same tables in a database of
its own (a second file; a second database of the cluster), for tests of what
depends on the database a query uses (cache keys, commit hooks per connection).

Nothing is configured until a Django test runs, so the other tests never see Django.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

APP_DIR = Path(__file__).parent / "integrations" / "django_orm"
DATABASES = ("sqlite", "postgres")
DATABASE_ALIASES = ("default", "other")
_ready = False
_unavailable: BaseException | None = None  # why the database cannot be had, once found out


def database() -> str:
    """The database the Django tests run on: ``EARNORM_AOP_TEST_DB`` (default ``sqlite``)."""
    name = os.environ.get("EARNORM_AOP_TEST_DB", "sqlite").strip().lower() or "sqlite"
    if name not in DATABASES:
        raise RuntimeError(
            f"EARNORM_AOP_TEST_DB={name!r} is not a database the tests know; "
            f"use one of {', '.join(DATABASES)}"
        )
    return name


def _sqlite() -> dict[str, dict[str, Any]]:
    folder = tempfile.mkdtemp(prefix="earnorm-django-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    from django.db.backends.signals import connection_created

    # A throwaway file: no fsync per commit (OPTIONS' init_command is Django 5.1+).
    connection_created.connect(_no_sync, dispatch_uid="earnorm-aop-tests-no-sync")
    return {
        alias: {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(Path(folder) / f"{alias}.sqlite3"),
        }
        for alias in DATABASE_ALIASES
    }


def _no_sync(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")


def _postgres() -> dict[str, dict[str, Any]]:
    global _unavailable
    import _postgres

    try:
        server = _postgres.start()
    except (pytest.skip.Exception, pytest.fail.Exception, RuntimeError) as error:
        _unavailable = error  # every later caller gets the same answer, without a retry
        raise
    import psycopg

    names = {
        alias: server.database if alias == "default" else f"{server.database}_{alias}"
        for alias in DATABASE_ALIASES
    }
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        for alias, name in names.items():
            if alias != "default":
                conn.execute(f'CREATE DATABASE "{name}"')
    return {
        alias: {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": server.user,
            "HOST": server.host,
            "PORT": str(server.port),
            # the tests' own database: TEST settings are never used (no test runner)
        }
        for alias, name in names.items()
    }


def configure() -> None:
    """Configure Django, import the test app and create every table (idempotent).

    Skips (module-level, so a conftest may call it) when the chosen database is
    unavailable locally; under ``CI`` that is a failure instead (``_postgres``).
    """
    global _ready
    if _ready:
        return
    if _unavailable is not None:
        raise _unavailable
    import django
    from django.conf import settings

    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    if not settings.configured:
        databases = _postgres() if database() == "postgres" else _sqlite()
        settings.configure(
            DATABASES=databases,
            INSTALLED_APPS=[
                "earnorm_aop.integrations.django",
                "earnorm_aop.testing",  # the app of the conformance kit's models
                "djangoapp",
            ],
            USE_TZ=True,
            TIME_ZONE="UTC",
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        )
        django.setup()
    from django.apps import apps

    if not apps.is_installed("djangoapp"):
        raise RuntimeError(
            "Django was configured elsewhere without the test app 'djangoapp'; "
            "the Django tests need tests/_django_setup.configure() to run first"
        )
    from django.core.management import call_command
    from django.db import connections

    for alias in DATABASE_ALIASES:
        call_command("migrate", run_syncdb=True, verbosity=0, database=alias)
    atexit.register(connections.close_all)  # runs before the database is removed
    _ready = True
