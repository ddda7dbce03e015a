"""Quickstart: built-in plugins woven onto a Django model, on a SQLite file.

Run it with ``python3 scripts/demo.py`` (which sets up the virtualenv), or
``python examples/quickstart.py`` where Django and earnorm_aop are installed.
It configures Django on a database in a temporary folder, declares an
``Article`` model with the timestamp, softdelete, audit and cache plugins,
and prints what each plugin did: stamps, a soft delete and a restore, a read
served from the cache without a query, a plugin switched off live, the
audit trail, and ``explain(Article)``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar


def configure_django(folder: str) -> None:
    """Django on ``folder``/demo.sqlite3, with earnorm_aop's app (its audit table).

    This file is its own Django app, ``quickstart``, so the model belongs to an
    installed app (the cache pickles instances, which needs the app registry).
    """
    import django
    from django.conf import settings

    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)

    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(Path(folder) / "demo.sqlite3"),
            }
        },
        INSTALLED_APPS=["earnorm_aop.integrations.django", "quickstart"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def define_model() -> Any:
    """The demo model; Django reads its ``plugins`` attribute when the class is ready."""
    from django.db import models

    class Article(models.Model):
        title = models.CharField(max_length=200)
        body = models.TextField(blank=True)

        plugins: ClassVar[dict[str, dict[str, Any]]] = {
            "timestamp": {},  # created_at / updated_at
            "softdelete": {},  # deleted_at, restore(), hard_delete(), with_deleted()
            "audit": {"sink": "table", "exclude": ["updated_at"]},
            "cache": {"ttl": 60},  # get(pk=...) served from memory after the first read
        }

        class Meta:
            app_label = "quickstart"

    return Article


def create_tables(article: Any) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)  # earnorm_aop's audit table
    with connection.schema_editor() as editor:
        editor.create_model(article)  # the model's table, plugin fields included


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="earnorm-demo-") as folder:
        configure_django(folder)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from earnorm_aop import explain, registry
        from earnorm_aop.integrations.django.models import AuditRecord
        from earnorm_aop.plugins import audit

        Article = define_model()
        create_tables(Article)
        columns = [f.name for f in Article._meta.get_fields()]
        print("columns (plugin fields added):", ", ".join(columns))

        with audit.actor("alice"):
            post = Article(title="Hello")
            post.save()
            print(f"timestamp: created_at={post.created_at:%H:%M:%S.%f} (UTC, tz-aware)")
            post.title = "Hello, world"
            post.save()
            print(f"timestamp: updated_at moved on: {post.updated_at > post.created_at}")

            post.delete()
            print(
                "softdelete: delete() kept the row:",
                f"visible={Article.objects.count()}, in table={Article.with_deleted().count()}",
            )
            post.restore()
            print("softdelete: restore() brought it back:", Article.objects.count(), "visible")

        with CaptureQueriesContext(connection) as first:
            Article.objects.get(pk=post.pk)
        with CaptureQueriesContext(connection) as second:
            cached = Article.objects.get(pk=post.pk)
        print(
            f"cache: first get(pk) ran {len(first)} query, the second {len(second)} "
            f"(title={cached.title!r})"
        )

        registry.disable("softdelete")  # live, on every model
        doomed = Article.objects.create(title="Temporary")
        doomed.delete()
        still_there = Article.with_deleted().filter(pk=doomed.pk).exists()
        print(f"softdelete disabled: delete() really deleted the row: {not still_there}")
        registry.enable("softdelete")

        print("\naudit trail (table sink):")
        for record in AuditRecord.objects.all():
            print(f"  {record.action:<12} {record.model}#{record.object_id} by {record.actor}:")
            for field, change in record.changes.items():
                print(f"      {field}: {change}")

        print()
        print(explain(Article))
        connection.close()


if __name__ == "__main__":
    main()
