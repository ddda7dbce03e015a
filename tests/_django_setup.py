"""Django on a real SQLite file, configured once per session by whichever test needs it first.

The Django integration tests (``tests/django_orm``) and the Django backend of
the built-in plugin tests share one configuration: the test app
``djangoapp`` (in ``tests/django_orm``), the integration's own app (its audit
table), and a database file in a temporary folder removed at exit.  A second
alias, ``other`` (another file), holds the same tables, for tests of what
depends on the database a query uses (cache keys, commit hooks per connection).  Nothing is
configured until a Django test runs, so the other tests never see Django.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

APP_DIR = Path(__file__).parent / "django_orm"
DATABASE_ALIASES = ("default", "other")
_ready = False


def configure() -> None:
    """Configure Django, import the test app and create every table (idempotent)."""
    global _ready
    if _ready:
        return
    import django
    from django.conf import settings

    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    if not settings.configured:
        folder = tempfile.mkdtemp(prefix="earnorm-django-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        settings.configure(
            DATABASES={
                alias: {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(Path(folder) / f"{alias}.sqlite3"),
                    # a throwaway file: no fsync per commit
                    "OPTIONS": {"init_command": "PRAGMA synchronous=OFF;"},
                }
                for alias in DATABASE_ALIASES
            },
            INSTALLED_APPS=["earnorm_aop.integrations.django", "djangoapp"],
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
    atexit.register(connections.close_all)  # runs before the folder is removed
    _ready = True
