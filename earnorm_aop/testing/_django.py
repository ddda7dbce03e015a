"""The ``django`` backend: models on a real database, driven through Django's ORM.

Each ``backend.model(...)`` is a new Django model class (app label
``earnorm_aop_testing``, the kit's own app, so the Redis cache can pickle its
records), plugins woven with ``with_plugins`` and a real table created with
``schema_editor``; when the backend closes the classes are unwoven, their
tables dropped and the classes unregistered.

Django is configured on first use unless it already is: a temporary SQLite
file, or the private PostgreSQL cluster with ``EARNORM_AOP_TEST_DB=postgres``
(``earnorm_aop.testing._postgres``), with the integration's app (its audit
table) and the kit's app installed.  A project that configures Django itself
(pytest-django, its own settings) adds ``"earnorm_aop.testing"`` to
``INSTALLED_APPS``; a test suite that configures Django its own way hands its
setup function to [`use_django_setup`][earnorm_aop.testing._django.use_django_setup].
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..adapters.base import FieldSpec
from ..plugin_system.model import with_plugins
from ..plugin_system.registry import PluginRegistry
from ..weaving import weaver
from ._base import Backend, Fields, Methods

__all__ = ["APP_LABEL", "DjangoBackend", "configure", "use_django_setup"]

APP_LABEL = "earnorm_aop_testing"
_names = itertools.count(1)
_setup: Callable[[], None] | None = None
_ready = False


def use_django_setup(setup: Callable[[], None] | None) -> None:
    """Configure Django with ``setup()`` (idempotent) instead of the kit's own settings."""
    global _setup, _ready
    _setup, _ready = setup, False


def database() -> str:
    """``EARNORM_AOP_TEST_DB``: ``sqlite`` (the default) or ``postgres``."""
    name = os.environ.get("EARNORM_AOP_TEST_DB", "sqlite").strip().lower() or "sqlite"
    if name not in ("sqlite", "postgres"):
        raise RuntimeError(
            f"EARNORM_AOP_TEST_DB={name!r} is not a database the kit knows; use sqlite or postgres"
        )
    return name


def _databases() -> dict[str, dict[str, Any]]:
    if database() == "postgres":
        from . import _postgres

        server = _postgres.shared()
        return {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": server.database,
                "USER": server.user,
                "HOST": server.host,
                "PORT": str(server.port),
            }
        }
    folder = tempfile.mkdtemp(prefix="earnorm-kit-django-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(Path(folder) / "kit.sqlite3"),
        }
    }


def configure() -> None:
    """Configure Django once: the hook given to
    [`use_django_setup`][earnorm_aop.testing._django.use_django_setup], or the kit's settings."""
    global _ready
    if _ready:
        return
    if _setup is not None:
        _setup()
        _ready = True
        return
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DATABASES=_databases(),
            INSTALLED_APPS=["earnorm_aop.integrations.django", "earnorm_aop.testing"],
            USE_TZ=True,
            TIME_ZONE="UTC",
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        )
        django.setup()
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, verbosity=0)
    _ready = True


class DjangoBackend(Backend):
    """Models on Django's default database, driven through Django's ORM."""

    name = "django"
    transactional = True

    def __init__(self) -> None:
        configure()
        from django.core.exceptions import ObjectDoesNotExist

        self.NotFound = ObjectDoesNotExist
        self._models: list[Any] = []
        self._tables: list[Any] = []

    def model(
        self,
        *plugins: str,
        fields: Fields | None = None,
        methods: Methods | None = None,
        registry: PluginRegistry | None = None,
        **configured: Any,
    ) -> Any:
        from django.db import connection, models

        from ..integrations.django import django_field

        name = f"DjangoArticle{next(_names)}"
        body: dict[str, Any] = {
            "__module__": __name__,
            "__qualname__": name,
            "Meta": type("Meta", (), {"app_label": APP_LABEL}),
            "title": models.CharField(max_length=200, default="", blank=True),
            "views": models.IntegerField(default=0),
            **(methods or {}),
        }
        for field, (annotation, default) in (fields or {}).items():
            body[field] = django_field(FieldSpec(field, annotation, default))
        model = type(name, (models.Model,), body)
        self._models.append(model)  # registered with Django even if weaving fails below
        with_plugins(*plugins, registry=registry, **configured)(model)
        with connection.schema_editor() as editor:
            editor.create_model(model)
        self._tables.append(model)
        return model

    def close(self) -> None:
        """Unweave the models, drop their tables and unregister them from Django.

        Django's app registry and the weaver would otherwise keep every model
        of every check alive and woven, and each ``trace()`` re-weaves all of them.
        """
        from django.apps import apps
        from django.db import connection

        from ..integrations.django.models import AuditRecord

        try:
            for model in reversed(self._models):
                weaver.unweave(model)
            # The audit table is shared by every check: leave none of this one's rows.
            labels = [model._meta.label for model in self._models]
            AuditRecord.objects.filter(model__in=labels).delete()
            with connection.schema_editor() as editor:
                for model in reversed(self._tables):
                    editor.delete_model(model)
        finally:
            for model in self._models:
                apps.all_models[APP_LABEL].pop(model._meta.model_name, None)
            apps.clear_cache()
            self._models.clear()
            self._tables.clear()

    def get(self, model: Any, pk: Any) -> Any:
        return model.objects.get(pk=pk)

    def update(self, obj: Any, **values: Any) -> Any:
        import pytest

        pytest.skip("a Django model has no instance-level update operation (save is the update)")

    def queryset(self, model: Any) -> Any:
        return model.objects.all()

    def bulk_create(self, model: Any, objs: Any) -> Any:
        return model.objects.bulk_create(objs)

    def bulk_delete(self, queryset: Any) -> Any:
        """The number of rows deleted (Django returns it with the count per model)."""
        count, per_model = queryset.delete()
        assert per_model == ({queryset.model._meta.label: count} if count else {})
        return count

    @contextmanager
    def transaction(self, *, rollback: bool = False) -> Iterator[None]:
        from django.db import transaction

        with transaction.atomic():
            yield
            if rollback:
                transaction.set_rollback(True)

    def rows(self, model: Any) -> dict[Any, dict[str, Any]]:
        """Every row by primary key, read through the (never woven) base manager."""
        return {row["id"]: row for row in model._base_manager.values()}

    def raw_delete(self, model: Any, pk: Any) -> None:
        from django.db import connection

        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])

    def raw_update(self, model: Any, pk: Any, **values: Any) -> None:
        model._base_manager.filter(pk=pk).update(**values)

    @contextmanager
    def queries(self) -> Iterator[list[str]]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        statements: list[str] = []
        context = CaptureQueriesContext(connection)
        try:
            with context:
                yield statements
        finally:
            statements.extend(q["sql"] for q in context.captured_queries)

    def audit_rows(self, model: Any) -> list[dict[str, Any]]:
        from ..integrations.django.models import AuditRecord

        return [
            {
                "model": row.model,
                "id": _stored_id(model, row.object_id),
                "action": row.action,
                "changes": {name: tuple(pair) for name, pair in row.changes.items()},
                "actor": row.actor,
                "time": row.time,
                "request_id": row.request_id,
                "client": row.client,
                "reason": row.reason,
            }
            for row in AuditRecord.objects.filter(model=model._meta.label)
        ]


def _stored_id(model: Any, object_id: str) -> Any:
    """The row's key as the model types it; a masked key's hash (``"hmac:..."``) as text."""
    from earnorm_aop.plugin_system.masking import ID_PREFIX

    if object_id.startswith(ID_PREFIX):
        return object_id
    return model._meta.pk.to_python(object_id)
