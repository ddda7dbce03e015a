"""Quickstart: built-in plugins woven onto a Django model, on a SQLite file.

Run it with ``python3 scripts/demo.py`` (which sets up the virtualenv), or
``python examples/quickstart.py`` where Django and earnorm_aop are installed.

The model is ``blog.Article`` (``examples/blog/models.py``): it names the
validation, timestamp, softdelete, audit and cache plugins in its ``plugins``
attribute.  The demo configures Django on a database in a temporary folder,
creates the tables with ``migrate`` from the app's migration (the plugins'
fields are in it), then uses the model as an application would.  Every line
it prints states something it has just checked; a check that does not hold
stops the demo with an error.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def configure_django(folder: str) -> None:
    """Django on ``folder``/demo.sqlite3, with earnorm_aop's app (its audit table) and ``blog``."""
    import django
    from django.conf import settings

    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))  # the ``blog`` app lives next to this file
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(Path(folder) / "demo.sqlite3"),
            }
        },
        INSTALLED_APPS=["earnorm_aop.integrations.django", "blog"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


class DemoFailed(AssertionError):
    """A check of the demo did not hold: the library does not do what the line says."""


def check(claim: str, holds: bool) -> None:
    """Print ``claim`` once it is verified; stop the demo if it is not."""
    if not holds:
        raise DemoFailed(f"demo check failed: {claim}")
    print(f"ok  {claim}")


def create_tables() -> list[str]:
    """``migrate``, as a user would: the audit table and blog's migration. Returns what ran."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    call_command("migrate", verbosity=0)
    applied = MigrationRecorder(connection).applied_migrations()
    return sorted(f"{app}.{name}" for app, name in applied)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="earnorm-demo-") as folder:
        configure_django(folder)
        from blog.models import Article
        from django import forms
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from earnorm_aop import explain, registry
        from earnorm_aop.integrations.django.models import AuditRecord
        from earnorm_aop.plugins import audit
        from earnorm_aop.plugins.validation import ValidationFailed
        from earnorm_aop.weaving import weaver

        woven = [a.name for a in weaver.effective_aspects(Article)]
        check(
            f"model {Article._meta.label} (examples/blog/models.py) woven with: "
            + ", ".join(woven),
            # plus "changes", the shared change tracking audit and timestamp require,
            # and "lifecycle", which fires the after_change audit listens to
            set(woven) == {*Article.plugins, "changes", "lifecycle"},
        )

        applied = create_tables()
        check(
            "migrate applied " + ", ".join(applied),
            {"blog.0001_initial", "earnorm_aop.0001_initial"} <= set(applied),
        )
        with connection.cursor() as cursor:
            table = connection.introspection.get_table_description(cursor, "blog_article")
        columns = [c.name for c in table]
        plugin_fields = ["created_at", "updated_at", "deleted_at"]
        check(
            "blog_article has the plugins' columns: " + ", ".join(plugin_fields),
            set(plugin_fields) <= set(columns),
        )
        try:  # exits (status 1) when the model has changes no migration holds
            call_command("makemigrations", "blog", check=True, dry_run=True, verbosity=0)
            up_to_date = True
        except SystemExit:
            up_to_date = False
        check("makemigrations --check: blog's migration matches the model", up_to_date)

        with audit.actor("alice"):
            post = Article(title="Hello")
            post.save()
            stamped = post.created_at
            check(
                "timestamp: the first save set created_at = updated_at, timezone-aware",
                stamped is not None
                and stamped == post.updated_at
                and stamped.utcoffset() is not None,
            )
            post.title = "Hello, world"
            post.save()
            moved, created = post.updated_at, post.created_at
            check(
                "timestamp: the next save moved updated_at on, created_at unchanged",
                moved is not None and created is not None and moved > created == stamped,
            )

            refused: ValidationFailed | None = None
            try:
                Article(title="Hi").save()
            except ValidationFailed as exc:
                refused = exc
            check(
                f"validation: save() of title='Hi' refused ({refused.errors if refused else None})",
                refused is not None and Article.with_deleted().count() == 1,
            )
            form_class: Any = forms.modelform_factory(Article, fields=["title", "body"])
            form = form_class(data={"title": "Hi", "body": ""})
            check(
                f"validation: a ModelForm shows it as a form error ({dict(form.errors)})",
                not form.is_valid() and "title" in form.errors,
            )

            post.delete()
            visible, stored = Article.objects.count(), Article.with_deleted().count()
            check(
                f"softdelete: delete() kept the row: {visible} visible, {stored} in the table",
                (visible, stored) == (0, 1),
            )
            post.restore()
            check("softdelete: restore() brought it back", Article.objects.count() == 1)

        with CaptureQueriesContext(connection) as first:
            Article.objects.get(pk=post.pk)
        with CaptureQueriesContext(connection) as second:
            cached = Article.objects.get(pk=post.pk)
        check(
            f"cache: the first get(pk) ran {len(first)} query, the second {len(second)}",
            (len(first), len(second)) == (1, 0) and cached.title == "Hello, world",
        )

        registry.disable("softdelete")  # live, on every model
        try:
            doomed = Article.objects.create(title="Temporary")
            doomed.delete()
            gone = not Article.with_deleted().filter(pk=doomed.pk).exists()
        finally:
            registry.enable("softdelete")
        check('registry.disable("softdelete"): delete() really deleted the row', gone)

        records = list(AuditRecord.objects.all())
        actions = [r.action for r in records]
        check(
            "audit: one record per write, in the table: " + ", ".join(actions),
            actions == ["create", "update", "soft_delete", "restore", "create", "delete"],
        )
        for record in records:
            by = record.actor or "-"
            print(f"    {record.action:<12} {record.model}#{record.object_id} by {by}")
            for field, change in record.changes.items():
                print(f"        {field}: {change}")

        text = explain(Article)
        check(
            "explain(Article): each woven method and its advice, in order",
            text.splitlines()[0] == "Article",
        )
        print(text)
        connection.close()


if __name__ == "__main__":
    main()
