"""The Django backend of the built-in plugin tests (``backend`` fixture, param ``"django"``).

Each ``backend.model(...)`` is a new Django model class in the test app, with
``id``, ``title``, ``views`` (and ``fields``), plugins woven with
``with_plugins``, and a real table created with ``schema_editor``; when the
test ends the classes are unwoven, their tables dropped and the classes
unregistered.  It offers the same
methods as ``_builtin_backends.MemoryBackend``, through Django's own API:
``Model.objects``, querysets, ``CaptureQueriesContext``, ``_base_manager``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from earnorm_aop import PluginRegistry, with_plugins
from earnorm_aop.integrations import FieldSpec
from earnorm_aop.weaving import weaver

_names = itertools.count(1)


class DjangoBackend:
    """Models on the session's SQLite database, driven through Django's ORM."""

    name = "django"

    def __init__(self) -> None:
        from _django_setup import configure

        configure()
        from django.core.exceptions import ObjectDoesNotExist

        self.NotFound: type[BaseException] = ObjectDoesNotExist
        self._models: list[Any] = []
        self._tables: list[Any] = []

    def model(
        self,
        *plugins: str,
        fields: dict[str, tuple[Any, Any]] | None = None,
        methods: dict[str, Callable[..., Any]] | None = None,
        registry: PluginRegistry | None = None,
        **configured: Any,
    ) -> type:
        from django.db import connection, models

        from earnorm_aop.integrations.django import django_field

        name = f"DjangoArticle{next(_names)}"
        body: dict[str, Any] = {
            "__module__": "djangoapp.models",
            "__qualname__": name,
            "Meta": type("Meta", (), {"app_label": "djangoapp"}),
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
        """Unweave the test's models, drop their tables and unregister them from Django.

        Django's app registry and the weaver would otherwise keep every model
        of every test alive and woven, and each ``trace()`` re-weaves all of them.
        """
        from django.apps import apps
        from django.db import connection

        from earnorm_aop.integrations.django.models import AuditRecord

        try:
            for model in reversed(self._models):
                weaver.unweave(model)
            # The audit table is shared by every test: leave none of this test's rows.
            labels = [model._meta.label for model in self._models]
            AuditRecord.objects.filter(model__in=labels).delete()
            with connection.schema_editor() as editor:
                for model in reversed(self._tables):
                    editor.delete_model(model)
        finally:
            for model in self._models:
                apps.all_models["djangoapp"].pop(model._meta.model_name, None)
            apps.clear_cache()
            self._models.clear()
            self._tables.clear()

    # -- instances -----------------------------------------------------------------

    def new(self, model: Any, **values: Any) -> Any:
        return model(**values)

    def create(self, model: Any, **values: Any) -> Any:
        obj = model(**values)
        obj.save()
        return obj

    def get(self, model: Any, pk: Any) -> Any:
        return model.objects.get(pk=pk)

    def update(self, obj: Any, **values: Any) -> Any:
        pytest.skip("a Django model has no instance-level update operation (save is the update)")

    # -- querysets -------------------------------------------------------------------

    def queryset(self, model: Any) -> Any:
        return model.objects.all()

    def query(self, model: Any, **conditions: Any) -> Any:
        return self.queryset(model).filter(**conditions)

    def visible(self, model: Any) -> list[Any]:
        return sorted(o.id for o in self.queryset(model))

    def bulk_create(self, model: Any, objs: Any) -> Any:
        return model.objects.bulk_create(objs)

    def bulk_update(self, queryset: Any, **values: Any) -> Any:
        return queryset.update(**values)

    def bulk_delete(self, queryset: Any) -> Any:
        """The number of rows deleted (Django returns it with the count per model)."""
        count, per_model = queryset.delete()
        assert per_model == ({queryset.model._meta.label: count} if count else {})
        return count

    # -- the database underneath -------------------------------------------------------

    def rows(self, model: Any) -> dict[Any, dict[str, Any]]:
        """Every row by primary key, read through the (never woven) base manager."""
        return {row["id"]: row for row in model._base_manager.values()}

    def raw_delete(self, model: Any, pk: Any) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f'DELETE FROM "{model._meta.db_table}" WHERE id = %s', [pk])

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
        from earnorm_aop.integrations.django.models import AuditRecord

        return [
            {
                "model": row.model,
                "id": model._meta.pk.to_python(row.object_id),
                "action": row.action,
                "changes": {name: tuple(pair) for name, pair in row.changes.items()},
                "actor": row.actor,
                "time": row.time,
            }
            for row in AuditRecord.objects.filter(model=model._meta.label)
        ]


def django_backend() -> Iterator[DjangoBackend]:
    """The backend for one test; skipped where Django is not installed."""
    pytest.importorskip("django")
    backend = DjangoBackend()
    try:
        yield backend
    finally:
        backend.close()
