"""The adapter methods plugins use, on real Django instances and querysets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from djangoapp.models import Article, Author, Note, Stamped

from earnorm_aop import PluginError
from earnorm_aop.integrations import FieldSpec, adapter_for
from earnorm_aop.integrations.django import adapter
from earnorm_aop.integrations.django.models import AuditRecord
from earnorm_aop.plugins.audit_store import audit_store


def test_field_names_are_concrete_attnames() -> None:
    assert adapter.field_names(Article) == ["id", "title", "author_id", "hidden_at"]
    assert adapter.has_field(Article, "author") and adapter.has_field(Article, "author_id")
    assert adapter.has_field(Article, "tags")
    assert not adapter.has_field(Article, "nothing")
    assert adapter.has_field(Article, "delete")  # an attribute of the model: never replaced


def test_add_field_skips_existing_names_and_adds_real_fields() -> None:
    before = list(Note._meta.concrete_fields)
    adapter.add_field(Note, FieldSpec("text", int))
    assert list(Note._meta.concrete_fields) == before


def test_remove_field_takes_back_an_added_field() -> None:
    """What a failed with_plugins(...) does with the fields its plugins contributed."""
    before = [f.name for f in Note._meta.concrete_fields]
    spec = FieldSpec("flag_removed", bool, False)
    adapter.add_field(Note, spec)
    assert adapter.has_field(Note, "flag_removed")
    adapter.remove_field(Note, spec)
    assert [f.name for f in Note._meta.concrete_fields] == before
    assert not adapter.has_field(Note, "flag_removed")


def test_get_set_and_pk() -> None:
    article = Article(title="a")
    assert adapter.pk(article) is None
    adapter.set_field(article, "title", "b")
    assert adapter.get_field(article, "title") == "b"
    article.save()
    assert adapter.pk(article) == article.pk is not None


def test_snapshot_never_queries_deferred_fields() -> None:
    author = Author.objects.create(name="ann")
    Article.objects.create(title="a", author=author)
    (loaded,) = Article.objects.only("title")
    with CaptureQueriesContext(connection) as ctx:
        snap = adapter.snapshot(loaded)
    assert ctx.captured_queries == []
    assert snap == {"id": loaded.pk, "title": "a"}


def test_loaded_state_records_what_the_database_held() -> None:
    author = Author.objects.create(name="ann")
    Article.objects.create(title="a", author=author)
    new = Article(title="new")
    assert adapter.loaded_state(new) is None  # never loaded
    (loaded,) = Article.objects.all()
    loaded.title = "changed"
    assert adapter.loaded_state(loaded) == {
        "id": loaded.pk,
        "title": "a",
        "author_id": author.pk,
        "hidden_at": None,
    }
    adapter.remember_state(loaded)
    assert adapter.loaded_state(loaded)["title"] == "changed"
    adapter.forget_state(loaded)
    assert adapter.loaded_state(loaded) is None


def test_loaded_state_of_related_objects_and_refreshes() -> None:
    author = Author.objects.create(name="ann")
    article = Article.objects.create(title="a", author=author)
    (via_fk,) = Article.objects.select_related("author")
    assert adapter.loaded_state(via_fk.author) == {"id": author.pk, "name": "ann"}
    lazy = Article.objects.get(pk=article.pk).author  # through _base_manager
    assert adapter.loaded_state(lazy) == {"id": author.pk, "name": "ann"}
    Author.objects.filter(pk=author.pk).update(name="bob")
    lazy.name = "local"
    lazy.refresh_from_db()
    assert adapter.loaded_state(lazy)["name"] == "bob"
    partial = Article.objects.only("title").get(pk=article.pk)
    assert "author_id" not in adapter.loaded_state(partial)
    assert partial.author_id == author.pk  # a deferred field loads through refresh_from_db
    assert adapter.loaded_state(partial)["author_id"] == author.pk


def test_models_without_plugins_are_not_tracked() -> None:
    Note.objects.create(text="a")
    assert adapter.loaded_state(Note.objects.get()) is None
    assert "from_db" not in vars(Note)


def test_filter_queryset_and_fetch() -> None:
    Article.objects.create(title="a")
    Article.objects.create(title="b")
    qs = adapter.filter(Article.objects.all(), title="a")
    assert [a.title for a in qs] == ["a"]
    assert [a.title for a in adapter.filter(Article.objects, title="b")] == ["b"]
    base = Article.objects.order_by("title")
    assert [a.title for a in adapter.fetch(base)] == ["a", "b"]
    assert base._result_cache is None  # fetch leaves the queryset unevaluated
    assert sorted(adapter.pks(base)) == sorted(base.values_list("pk", flat=True))
    assert [a.title for a in adapter.filter([Article(title="x")], title="x")] == ["x"]


def test_queryset_goes_through_the_woven_default_manager() -> None:
    kept = Article.objects.create(title="kept")
    gone = Article.objects.create(title="gone")
    gone.delete()  # hidden
    assert list(adapter.queryset(Article)) == [kept]


def test_model_label() -> None:
    assert adapter.model_label(Article) == "djangoapp.Article"


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((), {"pk": 3}, 3),
        ((), {"pk": "3"}, 3),
        ((), {"id": 4}, 4),
        ((), {"id__exact": 5}, 5),
        ((), {"pk__in": [1]}, None),
        ((), {"title": "a"}, None),
        ((), {"pk": 1, "title": "a"}, None),
        ((models.Q(pk=1),), {}, None),
        ((), {"pk": "not a number"}, None),
        ((), {"pk": None}, None),
    ],
)
def test_lookup_pk(args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any) -> None:
    assert adapter.lookup_pk(Article, args, kwargs) == expected


def test_bulk_call_helpers() -> None:
    qs = Article.objects.all()
    assert adapter.bulk_queryset(qs, (), {}) is qs
    objs, args, kwargs = adapter.bulk_objects((iter([Article(title="a")]),), {"batch_size": 2})
    assert len(objs) == 1 and args[0] is objs and kwargs == {"batch_size": 2}
    assert adapter.update_values((), {"title": "a"}) == {"title": "a"}
    assert adapter.deleted_result(Article, 2) == (2, {"djangoapp.Article": 2})
    assert adapter.deleted_result(Article, 0) == (0, {})


@pytest.mark.parametrize(
    ("args", "kwargs", "expected_args", "expected_kwargs"),
    [
        ((), {}, (), {}),
        ((), {"update_fields": None}, (), {"update_fields": None}),
        ((), {"update_fields": []}, (), {"update_fields": []}),
        ((), {"update_fields": ("title",)}, (), {"update_fields": ["title", "hidden_at"]}),
        ((), {"update_fields": ["hidden_at"]}, (), {"update_fields": ["hidden_at"]}),
        ((False, False, None, {"title"}), {}, (False, False, None, ["title", "hidden_at"]), {}),
    ],
)
def test_with_save_fields(
    args: tuple[Any, ...], kwargs: dict[str, Any], expected_args: Any, expected_kwargs: Any
) -> None:
    article = Article(title="a")
    assert adapter.with_save_fields(article, args, kwargs, ["hidden_at"]) == (
        expected_args,
        expected_kwargs,
    )


def test_save_instance_and_update_queryset_write_through_the_plugins() -> None:
    obj = Stamped.objects.create(title="a")
    obj.title = "b"
    obj.stamp_note = "not saved"
    adapter.save_instance(obj, ["title"])
    row = Stamped.objects.values("title", "stamp_note", "revision").get(pk=obj.pk)
    assert row == {"title": "b", "stamp_note": None, "revision": 1}  # stamp's fields not listed
    adapter.save_instance(obj)
    assert Stamped.objects.get(pk=obj.pk).revision == 3
    count = adapter.update_queryset(Stamped, Stamped.objects.filter(pk=obj.pk), {"title": "c"})
    assert count == 1
    assert Stamped.objects.get(pk=obj.pk).title == "c"


def test_validate_reports_full_clean_errors() -> None:
    assert adapter.validate(Article(title="ok")) == {}
    errors = adapter.validate(Article(title="x" * 101))
    assert list(errors) == ["title"] and "100" in errors["title"][0]


def test_write_audit_record_stores_a_row() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    audit_store(adapter).write_audit_record(
        Article,
        {
            "model": "djangoapp.Article",
            "id": 7,
            "action": "update",
            "changes": {"title": ["a", "b"], "hidden_at": [None, when]},
            "actor": "alice",
            "time": when,
        },
    )
    (row,) = AuditRecord.objects.all()
    assert (row.model, row.object_id, row.action, row.actor, row.time) == (
        "djangoapp.Article",
        "7",
        "update",
        "alice",
        when,
    )
    assert row.changes == {"title": ["a", "b"], "hidden_at": [None, "2024-01-02T03:04:05Z"]}


def test_write_audit_record_without_the_app_says_what_to_do(monkeypatch: Any) -> None:
    from django.apps import apps

    monkeypatch.setattr(apps, "is_installed", lambda name: False)
    with pytest.raises(PluginError, match="INSTALLED_APPS"):
        audit_store(adapter).write_audit_record(Article, {"time": datetime.now(UTC)})


def test_adapter_for_is_the_registered_instance() -> None:
    assert adapter_for(Article) is adapter
