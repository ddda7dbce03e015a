"""Operations woven per model: isolation, querysets, bulk writes, relations, inheritance."""

from __future__ import annotations

import pickle
import types
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, models
from django.db.models.manager import BaseManager
from django.test.utils import CaptureQueriesContext, isolate_apps
from djangoapp.models import (
    Article,
    ArticleProxy,
    Author,
    Note,
    Page,
    Post,
    PublishedQuerySet,
    SpecialArticle,
    Stamped,
    Tag,
)
from djangoapp.models import Article as AppArticle
from djangoapp.plugins import journal, registry

from earnorm_aop import (
    PluginConfigError,
    PluginNotFoundError,
    explain,
    unweave,
    weave,
    with_plugins,
)
from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.django import DjangoAdapter


@pytest.fixture(autouse=True)
def _clear_journal() -> Iterator[None]:
    journal.clear()
    yield
    journal.clear()


def sql_count(table: str, where: str = "1=1") -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}')
        return int(cursor.fetchone()[0])


def hide_with_sql(obj: Any) -> None:
    """Hide a row behind the plugins' back."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{obj._meta.db_table}" SET hidden_at = CURRENT_TIMESTAMP WHERE id = %s',
            [obj.pk],
        )


def ops(model: type) -> list[tuple[str, str, str, Any]]:
    return [entry for entry in journal if entry[1] == model.__name__]


# -- isolation ---------------------------------------------------------------------------


def test_django_models_get_the_django_adapter() -> None:
    assert isinstance(adapter_for(Article), DjangoAdapter)
    assert not isinstance(adapter_for(type("Plain", (), {})), DjangoAdapter)


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (BaseManager, "get_queryset"),
        (BaseManager, "all"),
        (models.Manager, "get"),
        (models.Manager, "filter"),
        (models.QuerySet, "update"),
        (models.QuerySet, "delete"),
        (models.QuerySet, "bulk_create"),
        (models.QuerySet, "bulk_update"),
        (models.QuerySet, "get"),
        (models.Model, "save"),
        (models.Model, "delete"),
    ],
)
def test_djangos_shared_classes_are_never_woven(owner: type, name: str) -> None:
    Article.objects.filter(title="x").update(title="y")  # every operation is in use
    defined = next(vars(k)[name] for k in owner.__mro__ if name in vars(k))
    assert type(defined) is types.FunctionType


def test_each_model_gets_private_manager_and_queryset_classes() -> None:
    article_manager, author_manager = type(Article.objects), type(Author.objects)
    assert article_manager is not author_manager
    assert article_manager.__bases__ == (models.Manager,)
    qs_class = type(Article.objects.all())
    assert qs_class.__bases__ == (models.QuerySet,)
    assert qs_class is not type(Author.objects.all())
    # the private QuerySet survives cloning
    assert type(Article.objects.filter(title="x").exclude(pk=1).order_by("pk")) is qs_class
    # a model without plugins keeps Django's classes
    assert type(Note.objects) is models.Manager
    assert type(Note.objects.all()) is models.QuerySet
    assert type(models.Manager()) is models.Manager


def test_a_custom_manager_and_queryset_are_subclassed_not_replaced() -> None:
    manager = Post.objects
    assert isinstance(manager, models.Manager)
    assert type(manager).__bases__[0].__name__ == "PublishedManager"
    qs = manager.all()
    assert isinstance(qs, PublishedQuerySet)
    Post.objects.create(title="a", published=True)
    hidden = Post.objects.create(title="b", published=True)
    hide_with_sql(hidden)
    assert [p.title for p in Post.objects.published()] == ["a"]


def test_a_model_without_plugins_runs_no_advice() -> None:
    Note.objects.create(text="a")
    Note.objects.bulk_create([Note(text="b")])
    Note.objects.filter(text="a").update(text="c")
    assert Note.objects.get(text="c").text == "c"
    Note.objects.all().delete()
    assert journal == []
    assert Note.objects.count() == 0


def test_the_base_manager_is_not_woven() -> None:
    article = Article.objects.create(title="a")
    journal.clear()
    hide_with_sql(article)
    assert Article._base_manager.count() == 1
    assert type(Article._base_manager) is models.Manager
    assert journal == []


# -- get_queryset and get ---------------------------------------------------------------


def test_get_queryset_chain_filters_every_default_manager_query() -> None:
    kept = Article.objects.create(title="kept")
    gone = Article.objects.create(title="gone")
    hide_with_sql(gone)
    assert list(Article.objects.all()) == [kept]
    assert Article.objects.count() == 1
    assert not Article.objects.filter(title="gone").exists()
    with pytest.raises(Article.DoesNotExist):
        Article.objects.get(pk=gone.pk)
    assert sql_count("djangoapp_article") == 2
    with CaptureQueriesContext(connection) as ctx:
        list(Article.objects.filter(title="kept"))
    assert len(ctx.captured_queries) == 1
    assert '"hidden_at" IS NULL' in ctx.captured_queries[0]["sql"]


def test_get_runs_on_the_default_manager_with_its_arguments() -> None:
    article = Article.objects.create(title="a")
    journal.clear()
    assert Article.objects.get(pk=article.pk) == article
    assert ("get", "Article", "Manager", {"pk": article.pk}) in journal
    journal.clear()
    Article.objects.filter(title="a").get()  # a QuerySet's get is not the operation
    assert [e[0] for e in journal] == ["get_queryset"]


def test_advice_gets_the_model_and_the_manager() -> None:
    Article.objects.all()
    assert journal == [("get_queryset", "Article", "Manager", None)]


# -- bulk operations ------------------------------------------------------------------------


def test_queryset_update_goes_through_update_many_and_spares_hidden_rows() -> None:
    visible = Article.objects.create(title="a")
    hidden = Article.objects.create(title="a")
    hide_with_sql(hidden)
    journal.clear()
    assert Article.objects.filter(title="a").update(title="b") == 1
    assert ("update_many", "Article", "QuerySet", ["title"]) in journal
    assert sql_count("djangoapp_article", f"id = {visible.pk} AND title = 'b'") == 1
    assert sql_count("djangoapp_article", f"id = {hidden.pk} AND title = 'a'") == 1


def test_manager_update_goes_through_update_many() -> None:
    Article.objects.create(title="a")
    journal.clear()
    assert Article.objects.update(title="z") == 1
    assert [e[0] for e in journal] == ["get_queryset", "update_many"]


def test_queryset_delete_goes_through_delete_many() -> None:
    Article.objects.create(title="a")
    Article.objects.create(title="a")
    Article.objects.create(title="keep")
    journal.clear()
    with CaptureQueriesContext(connection) as ctx:
        result = Article.objects.filter(title="a").delete()
    assert result == (2, {"djangoapp.Article": 2})
    assert [e[0] for e in journal] == ["get_queryset", "delete_many", "update_many"]
    assert all("DELETE" not in q["sql"] for q in ctx.captured_queries)
    assert sql_count("djangoapp_article") == 3  # still in the table...
    assert [a.title for a in Article.objects.all()] == ["keep"]  # ...but hidden


def test_model_delete_is_the_model_operation_not_delete_many() -> None:
    article = Article.objects.create(title="a")
    journal.clear()
    article.delete()
    assert [e[0] for e in journal] == ["delete", "save"]
    assert sql_count("djangoapp_article", "hidden_at IS NOT NULL") == 1


@pytest.mark.parametrize("via", ["manager", "queryset"])
def test_bulk_create_goes_through_save_many_once(via: str) -> None:
    objs = [Article(title="a"), Article(title="b")]
    target = Article.objects if via == "manager" else Article.objects.all()
    journal.clear()
    target.bulk_create(objs)
    assert [e for e in journal if e[0] == "save_many"] == [("save_many", "Article", "QuerySet", 2)]
    assert sql_count("djangoapp_article") == 2


def test_bulk_create_objects_are_stamped_in_the_database() -> None:
    Stamped.objects.bulk_create([Stamped(title="a"), Stamped(title="b")])
    assert sql_count("djangoapp_stamped", "stamped_at IS NOT NULL") == 2


def test_bulk_update_reaches_update_many() -> None:
    objs = [Stamped(title="a"), Stamped(title="b")]
    Stamped.objects.bulk_create(objs)
    with connection.cursor() as cursor:
        cursor.execute('UPDATE "djangoapp_stamped" SET stamped_at = NULL')
    for obj in objs:
        obj.title += "!"
    Stamped.objects.bulk_update(objs, ["title"])
    assert sql_count("djangoapp_stamped", "stamped_at IS NOT NULL AND title LIKE '%!'") == 2


# -- relations -------------------------------------------------------------------------------


def test_reverse_foreign_key_manager_goes_through_get_queryset() -> None:
    author = Author.objects.create(name="ann")
    kept = Article.objects.create(title="kept", author=author)
    gone = Article.objects.create(title="gone", author=author)
    hide_with_sql(gone)
    journal.clear()
    assert list(author.articles.all()) == [kept]
    assert ("get_queryset", "Article", "RelatedManager", None) in journal
    assert author.articles.count() == 1
    assert sql_count("djangoapp_article", f"author_id = {author.pk}") == 2


def test_prefetched_relations_hide_rows_too() -> None:
    author = Author.objects.create(name="ann")
    Article.objects.create(title="kept", author=author)
    hide_with_sql(Article.objects.create(title="gone", author=author))
    with CaptureQueriesContext(connection) as ctx:
        (loaded,) = Author.objects.prefetch_related("articles")
        titles = [a.title for a in loaded.articles.all()]
    assert titles == ["kept"]
    assert len(ctx.captured_queries) == 2


def test_many_to_many_managers_hide_rows_on_both_sides() -> None:
    article = Article.objects.create(title="a")
    kept, gone = Tag.objects.create(name="kept"), Tag.objects.create(name="gone")
    article.tags.add(kept, gone)
    hide_with_sql(gone)
    assert list(article.tags.all()) == [kept]
    hide_with_sql(article)
    assert list(kept.articles.all()) == []


def test_related_manager_get_is_not_the_get_operation() -> None:
    author, other = Author.objects.create(name="ann"), Author.objects.create(name="bob")
    article = Article.objects.create(title="a", author=author)
    journal.clear()
    assert author.articles.get(pk=article.pk) == article
    assert [e[0] for e in journal] == ["get_queryset"]  # not "get"
    with pytest.raises(Article.DoesNotExist):
        other.articles.get(pk=article.pk)


def test_related_manager_update_goes_through_update_many() -> None:
    author = Author.objects.create(name="ann")
    Article.objects.create(title="a", author=author)
    journal.clear()
    author.articles.update(title="b")
    assert ("update_many", "Article", "QuerySet", ["title"]) in journal


def test_lookups_across_relations_are_not_filtered() -> None:
    """A plugin without ``visible_rows`` (``hidden``) leaves joins alone: Django never asks
    the related model's manager.  Softdelete declares it (test_django_relations.py)."""
    author = Author.objects.create(name="ann")
    hide_with_sql(Article.objects.create(title="gone", author=author))
    assert Author.objects.filter(articles__title="gone").count() == 1
    assert Author.objects.filter(articles__title="gone", articles__hidden_at=None).count() == 0


# -- inheritance, proxies, declarations --------------------------------------------------------


def test_multi_table_child_and_proxy_get_their_own_classes() -> None:
    classes = {type(Article.objects), type(SpecialArticle.objects), type(ArticleProxy.objects)}
    assert len(classes) == 3
    special = SpecialArticle.objects.create(title="s")
    journal.clear()
    hide_with_sql(Article.objects.get(pk=special.pk))
    assert list(SpecialArticle.objects.all()) == []
    assert list(ArticleProxy.objects.all()) == []
    assert {e[1] for e in journal} == {"Article", "SpecialArticle", "ArticleProxy"}


def test_abstract_models_plugins_apply_to_concrete_children() -> None:
    assert Page._meta.get_field("hidden_at").null
    page = Page.objects.create(title="p")
    page.delete()
    assert Page.objects.count() == 0
    assert sql_count("djangoapp_page") == 1


def test_unknown_plugin_in_the_attribute_fails_at_class_creation() -> None:
    with isolate_apps("djangoapp"), pytest.raises(PluginNotFoundError, match="hiddn"):

        class Broken(models.Model):
            plugins = ("hiddn",)
            plugin_registry = registry

            class Meta:
                app_label = "djangoapp"


def test_a_field_called_plugins_is_not_a_declaration() -> None:
    with isolate_apps("djangoapp"):

        class Configured(models.Model):
            plugins = models.JSONField(default=list)

            class Meta:
                app_label = "djangoapp"

    assert type(Configured.objects) is models.Manager


def test_with_plugins_weave_and_unweave_at_runtime(create_tables: Any) -> None:
    with isolate_apps("djangoapp"):

        @with_plugins("journal", "hidden", registry=registry)
        class Runtime(models.Model):
            title = models.CharField(max_length=10)

            class Meta:
                app_label = "djangoapp"

    create_tables(Runtime)
    manager_class = type(Runtime.objects)
    Runtime.objects.create(title="a")
    Runtime.objects.create(title="b").delete()
    assert [r.title for r in Runtime.objects.all()] == ["a"]
    assert ops(Runtime)

    unweave(Runtime, "hidden")
    assert [r.title for r in Runtime.objects.order_by("title")] == ["a", "b"]
    unweave(Runtime)
    journal.clear()
    Runtime.objects.filter(title="a").update(title="c")
    assert journal == []
    # nothing left on the private classes: the original functions are back
    assert "get_queryset" not in vars(manager_class)
    assert manager_class.get_queryset is BaseManager.get_queryset
    assert "update" not in vars(type(Runtime.objects.all()))

    weave(Runtime, "journal", registry=registry)
    Runtime.objects.count()
    assert ops(Runtime) == [("get_queryset", "Runtime", "Manager", None)]
    unweave(Runtime)


def test_disabling_a_plugin_reaches_the_manager_at_once() -> None:
    Article.objects.create(title="a")
    hide_with_sql(Article.objects.create(title="b"))
    registry.disable("hidden")
    try:
        assert Article.objects.count() == 2
        assert "get_queryset" in vars(type(Article.objects))  # journal still woven
    finally:
        registry.enable("hidden")
    assert Article.objects.count() == 1
    with registry.disabled("hidden"):
        assert Article.objects.count() == 2
    assert Article.objects.count() == 1


def test_explain_names_where_each_operation_is_woven() -> None:
    text = explain(Article)
    assert "get_queryset (private.djangoapp__Article__Manager.get_queryset)" in text
    assert "update_many (private.djangoapp__Article__QuerySet.update)" in text
    assert "save_many (private.djangoapp__Article__QuerySet.bulk_create)" in text


def test_querysets_of_woven_models_pickle() -> None:
    Article.objects.create(title="a")
    qs = Article.objects.filter(title="a")
    list(qs)
    copy = pickle.loads(pickle.dumps(qs))
    assert type(copy) is type(qs)
    assert [a.title for a in copy] == ["a"]


def test_a_same_named_model_that_comes_and_goes_leaves_pickling_alone() -> None:
    """An ``isolate_apps`` model named like an app model must not take its class names."""
    import gc

    with isolate_apps("djangoapp"):

        @with_plugins("journal", registry=registry)
        class Article(models.Model):  # the app has an Article too
            title = models.CharField(max_length=10)

            class Meta:
                app_label = "djangoapp"

        Article.objects.all()  # its private classes exist now
        assert type(Article.objects).__qualname__ != type(AppArticle.objects).__qualname__
        unweave(Article)
    del Article
    gc.collect()
    AppArticle.objects.create(title="a")
    qs = AppArticle.objects.filter(title="a")
    copy = pickle.loads(pickle.dumps(qs))
    assert type(copy) is type(qs)


def test_weaving_after_a_relation_was_used_reaches_its_related_manager(
    create_tables: Any,
) -> None:
    with isolate_apps("djangoapp"):

        class Shelf(models.Model):
            class Meta:
                app_label = "djangoapp"

        class Book(models.Model):
            shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE, related_name="books")

            class Meta:
                app_label = "djangoapp"

    create_tables(Shelf, Book)
    shelf = Shelf.objects.create()
    Book.objects.create(shelf=shelf)
    assert shelf.books.count() == 1  # Django caches the related manager class now
    weave(Book, "journal", registry=registry)
    try:
        assert shelf.books.count() == 1
        assert ("get_queryset", "Book", "RelatedManager", None) in journal
    finally:
        unweave(Book)


def test_a_bad_configuration_in_the_attribute_is_a_config_error() -> None:
    with isolate_apps("djangoapp"), pytest.raises(PluginConfigError, match="journal"):

        class Misconfigured(models.Model):
            plugins = {"journal": ["not", "a", "dict"]}  # noqa: RUF012

            plugin_registry = registry

            class Meta:
                app_label = "djangoapp"
