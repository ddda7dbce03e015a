"""Database expressions in bulk writes on a real SQLite database.

``QuerySet.update(views=F("views") + 1)`` hands an ``F`` expression, and
``bulk_update()`` ``Case(When(...))`` values, to the ``update_many`` advice.
The built-ins must treat them as what the database computes: validation
checks each row's result (read before anything is written), audit records
the values stored after the update, timestamp and cache behave as for plain
values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from django.db import connection
from django.db.models import Case, F, Value, When
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext

from earnorm_aop.adapters.base import Adapter
from earnorm_aop.integrations import adapter_for
from earnorm_aop.plugins.validation import ValidationFailed
from earnorm_aop.testing import open_backend
from earnorm_aop.testing._django import DjangoBackend

RULES = {"views": {"ge": 0, "le": 100}, "title": {"max_length": 10}}


class Schema(pydantic.BaseModel):
    views: int = pydantic.Field(ge=0, le=100)
    title: str = pydantic.Field(max_length=10)


@pytest.fixture
def backend() -> Iterator[DjangoBackend]:
    with open_backend("django") as django:
        assert isinstance(django, DjangoBackend)
        yield django


def model(backend: DjangoBackend, *plugins: str, **configured: Any) -> Any:
    """A model with validation (RULES) and audit in its table, plus ``plugins``."""
    configured.setdefault("validation", {"fields": RULES})
    return backend.model("validation", "audit", *plugins, audit={"sink": "table"}, **configured)


def updates(backend: DjangoBackend, Article: Any) -> dict[Any, list[dict[str, Any]]]:
    """The changes of the audit rows recorded as updates, by row id."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in backend.audit_rows(Article):
        if row["action"] == "update":
            out.setdefault(row["id"], []).append(row["changes"])
    return out


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]


# -- the adapter -------------------------------------------------------------------------


def test_the_adapter_tells_expressions_from_values(backend: DjangoBackend) -> None:
    Article = backend.model()
    django = adapter_for(Article)
    assert django.name == "django"
    for expression in (F("views"), F("views") + 1, Value(3), Case(When(pk=1, then=Value(2)))):
        assert django.is_expression(expression)
    for value in (1, "x", None, [1], {"a": 1}):
        assert not django.is_expression(value)
    plain = Adapter()
    assert not plain.is_expression(F("views") + 1)
    assert plain.evaluate([], {"views": 1}) == {}


def test_evaluate_computes_each_row_without_writing(backend: DjangoBackend) -> None:
    Article = backend.model()
    a = backend.create(Article, title="a", views=1)
    b = backend.create(Article, title="b", views=7)
    django = adapter_for(Article)
    with CaptureQueriesContext(connection) as queries:
        result = django.evaluate(
            Article.objects.all(),
            {"views": F("views") * 10, "title": Concat(F("title"), Value("!")), "id": 5},
        )
    assert result == {
        a.pk: {"views": 10, "title": "a!", "id": 5},
        b.pk: {"views": 70, "title": "b!", "id": 5},
    }
    assert len(queries.captured_queries) == 1
    assert writes(queries) == []
    assert backend.rows(Article)[a.pk]["views"] == 1


# -- F() increments -------------------------------------------------------------------------


@pytest.mark.parametrize("rules", ["fields", "schema_model"])
def test_an_f_increment_passes_validation_and_is_audited_with_real_values(
    backend: DjangoBackend, rules: str
) -> None:
    options = {"fields": RULES} if rules == "fields" else {"schema_model": Schema}
    Article = model(backend, validation=options)
    a = backend.create(Article, title="a", views=1)
    b = backend.create(Article, title="b", views=41)
    assert Article.objects.filter(title__in=["a", "b"]).update(views=F("views") + 1) == 2
    assert {pk: row["views"] for pk, row in backend.rows(Article).items()} == {a.pk: 2, b.pk: 42}
    assert updates(backend, Article) == {a.pk: [{"views": (1, 2)}], b.pk: [{"views": (41, 42)}]}


def test_an_f_increment_past_a_constraint_is_refused_and_nothing_written(
    backend: DjangoBackend,
) -> None:
    Article = model(backend)
    backend.create(Article, title="a", views=99)
    backend.create(Article, title="b", views=100)
    before = backend.rows(Article)
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationFailed) as info:
        Article.objects.all().update(views=F("views") + 1)
    assert info.value.errors == {"views": ["must be less than or equal to 100"]}
    assert writes(queries) == []
    assert backend.rows(Article) == before
    assert updates(backend, Article) == {}


def test_an_invalid_plain_value_beside_an_expression_still_refuses_the_update(
    backend: DjangoBackend,
) -> None:
    Article = model(backend)
    a = backend.create(Article, title="a", views=1)
    before = backend.rows(Article)
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationFailed) as info:
        Article.objects.filter(pk=a.pk).update(views=F("views") + 1, title="far too long")
    assert info.value.errors == {"title": ["must have at most 10 characters/items"]}
    assert writes(queries) == []
    assert backend.rows(Article) == before
    with pytest.raises(ValidationFailed) as info:
        Article.objects.filter(pk=a.pk).update(views=F("views") + 500, title="far too long")
    assert set(info.value.errors) == {"views", "title"}
    assert backend.rows(Article) == before


def test_expressions_are_evaluated_only_for_constrained_fields(backend: DjangoBackend) -> None:
    Article = backend.model("validation", validation={"fields": {"title": {"max_length": 10}}})
    a = backend.create(Article, title="a", views=1)
    with CaptureQueriesContext(connection) as queries:
        Article.objects.filter(pk=a.pk).update(views=F("views") + 1)
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["UPDATE"]
    with CaptureQueriesContext(connection) as queries:
        Article.objects.filter(pk=a.pk).update(title=Concat(F("title"), Value("b")))
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT", "UPDATE"]
    assert backend.rows(Article)[a.pk] == {"id": a.pk, "title": "ab", "views": 2}


def test_audit_reads_rows_back_even_when_the_update_moves_them_out_of_the_queryset(
    backend: DjangoBackend,
) -> None:
    Article = model(backend)
    a = backend.create(Article, title="a", views=1)
    with CaptureQueriesContext(connection) as queries:
        Article.objects.filter(views__lt=5).update(views=F("views") + 10)
    assert backend.rows(Article)[a.pk]["views"] == 11
    assert updates(backend, Article) == {a.pk: [{"views": (1, 11)}]}
    # validation's evaluation, the shared read before (the expression evaluated
    # in it for each row), the update, the record: no read after the update
    kinds = [q["sql"].split()[0] for q in queries.captured_queries]
    assert kinds == ["SELECT", "SELECT", "UPDATE", "INSERT"]


# -- bulk_update ----------------------------------------------------------------------------


def test_bulk_update_passes_validation_and_is_audited_with_real_values(
    backend: DjangoBackend,
) -> None:
    Article = model(backend)
    a = backend.create(Article, title="a", views=1)
    b = backend.create(Article, title="b", views=2)
    objs = list(Article.objects.order_by("pk"))
    objs[0].title, objs[0].views = "aa", 10
    objs[1].views = 20
    assert Article.objects.bulk_update(objs, ["title", "views"]) == 2
    rows = backend.rows(Article)
    assert (rows[a.pk]["title"], rows[a.pk]["views"]) == ("aa", 10)
    assert (rows[b.pk]["title"], rows[b.pk]["views"]) == ("b", 20)
    assert updates(backend, Article) == {
        a.pk: [{"title": ("a", "aa"), "views": (1, 10)}],
        b.pk: [{"views": (2, 20)}],
    }


def test_bulk_update_with_an_invalid_value_writes_nothing_in_any_batch(
    backend: DjangoBackend,
) -> None:
    Article = model(backend)
    backend.create(Article, title="a", views=1)
    backend.create(Article, title="b", views=2)
    before = backend.rows(Article)
    objs = list(Article.objects.order_by("pk"))
    objs[0].views = 50
    objs[1].views = 500  # second batch: the first one is rolled back with it
    with pytest.raises(ValidationFailed) as info:
        Article.objects.bulk_update(objs, ["views"], batch_size=1)
    assert info.value.errors == {"views": ["must be less than or equal to 100"]}
    assert backend.rows(Article) == before
    assert updates(backend, Article) == {}


# -- timestamp and cache --------------------------------------------------------------------


def test_timestamp_and_cache_with_an_expression(backend: DjangoBackend) -> None:
    Article = model(backend, "timestamp", "cache")
    a = backend.create(Article, title="a", views=1)
    created, updated = a.created_at, a.updated_at
    assert Article.objects.get(pk=a.pk).views == 1  # cached now
    Article.objects.filter(pk=a.pk).update(views=F("views") + 1)
    fresh = Article.objects.get(pk=a.pk)
    assert fresh.views == 2  # the cached entry was invalidated
    assert fresh.created_at == created
    assert fresh.updated_at > updated
    (changes,) = updates(backend, Article)[a.pk]
    assert changes["views"] == (1, 2)
    assert "updated_at" in changes  # a plain value, stamped by timestamp
