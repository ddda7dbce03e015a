"""The recording ``from_db`` looks like Django's own, on every supported Django.

Django 6.1 reads ``Model.from_db.__func__`` and passes ``fetch_mode=`` to a
``from_db`` whose signature accepts it; a hook that was not a bound method made
every queryset of a model with plugins fail there.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

import django
import pytest
from django.db import models
from django.test.utils import isolate_apps
from django.utils.inspect import func_accepts_kwargs
from djangoapp.models import Article, Author, SpecialArticle
from djangoapp.plugins import registry

from earnorm_aop.integrations.django import adapter

FETCH_MODES = django.VERSION >= (6, 1)


def test_from_db_is_a_method_bound_to_the_class_it_is_read_from() -> None:
    for model in (Article, SpecialArticle, Author):
        hook = model.from_db
        assert inspect.ismethod(hook)
        assert hook.__self__ is model
        assert hook.__func__ is not models.Model.from_db.__func__
        assert func_accepts_kwargs(hook)  # so Django 6.1 passes fetch_mode
    instance = Article().from_db  # read from an instance: bound to its class
    assert instance.__self__ is Article


def test_from_db_called_directly_records_what_it_loaded() -> None:
    names = [f.attname for f in Author._meta.concrete_fields]
    author = Author.from_db("default", names, [7, "ann"])
    assert (author.pk, author.name, author._state.adding) == (7, "ann", False)
    assert adapter.loaded_state(author) == {"id": 7, "name": "ann"}


def test_querysets_load_without_warnings_and_record_the_loaded_state() -> None:
    author = Author.objects.create(name="ann")
    Article.objects.create(title="a", author=author)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. RemovedInDjango2028Warning on 6.1
        (article,) = Article.objects.select_related("author")
    assert adapter.loaded_state(article)["title"] == "a"
    assert adapter.loaded_state(article.author) == {"id": author.pk, "name": "ann"}


@pytest.mark.skipif(not FETCH_MODES, reason="fetch modes are new in Django 6.1")
def test_fetch_mode_reaches_the_loaded_instances() -> None:
    from django.db.models import FETCH_PEERS  # type: ignore[attr-defined]

    author = Author.objects.create(name="ann")
    Article.objects.create(title="a", author=author)
    Article.objects.create(title="b", author=author)
    articles = list(Article.objects.fetch_mode(FETCH_PEERS).order_by("title"))
    assert [a._state.fetch_mode for a in articles] == [FETCH_PEERS, FETCH_PEERS]
    assert [adapter.loaded_state(a)["title"] for a in articles] == ["a", "b"]


class _Calls:
    seen: ClassVar[list[dict[str, Any]]] = []


def test_a_models_own_from_db_is_called_with_what_it_accepts(create_tables: Any) -> None:
    _Calls.seen.clear()
    with isolate_apps("djangoapp"):

        class Legacy(models.Model):  # written for Django < 6.1: no fetch_mode
            title = models.CharField(max_length=10)
            plugins = ("hidden",)
            plugin_registry = registry

            class Meta:
                app_label = "djangoapp"

            @classmethod
            def from_db(cls, db: Any, field_names: Any, values: Any) -> Any:
                _Calls.seen.append({"model": cls.__name__})
                return super().from_db(db, field_names, values)

        class Current(models.Model):
            title = models.CharField(max_length=10)
            plugins = ("hidden",)
            plugin_registry = registry

            class Meta:
                app_label = "djangoapp"

            @classmethod
            def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> Any:
                _Calls.seen.append({"model": cls.__name__, **kwargs})
                return super().from_db(db, field_names, values, **kwargs)

    create_tables(Legacy, Current)
    for model in (Legacy, Current):
        model.objects.create(title="x")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Django 6.1 deprecates Legacy's signature
            (loaded,) = model.objects.all()
        assert adapter.loaded_state(loaded) == {"id": loaded.pk, "title": "x", "hidden_at": None}
    assert [call["model"] for call in _Calls.seen] == ["Legacy", "Current"]
    assert ("fetch_mode" in _Calls.seen[1]) is FETCH_MODES
