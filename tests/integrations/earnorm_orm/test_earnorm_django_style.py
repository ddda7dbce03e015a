"""Advice written for Django's API runs on EarnORM records (issue 17 point 6).

- ``record.id`` is the id (``""`` before a create), as EarnORM's own ``id``
  property says, not a coroutine;
- ``record.save()`` writes the values set on the record (a create for a new
  one), awaited or, from inside a plugin's advice, awaited by the write in
  progress once it is done (never when it failed); a save nobody awaits
  elsewhere is a ``RuntimeWarning``, as an un-awaited coroutine is;
- the query ``get_queryset`` advice receives answers ``filter(field=value)``,
  joined to the search's own domain.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest
from _earnorm_helpers import run, unique
from earnorm import fields
from earnorm.base.model.base import BaseModel

from earnorm_aop import PluginRegistry, with_plugins
from earnorm_aop.integrations.earnorm.queries import KeywordQuery


def _article(registry: PluginRegistry, *plugins: str) -> Any:
    @with_plugins(*plugins, registry=registry)
    class Article(BaseModel):
        _name = unique("article")
        _skip_default_fields = True
        title = fields.StringField(default="")
        status = fields.StringField(default="")

    return Article


def test_record_id_reads_without_await() -> None:
    reg = PluginRegistry(group=None)
    seen: list[Any] = []

    class Look:
        def before_save(self, instance: Any) -> None:
            seen.append(instance.id)

    reg.register("look", Look)
    Article = _article(reg, "look")

    async def scenario() -> None:
        note = await Article.create({"title": "a"})
        await note.write({"title": "b"})
        assert seen == ["", note._ids[0]]
        assert note.id == note._ids[0] and isinstance(Article.id, fields.StringField)

    run(scenario())


def test_a_save_asked_in_advice_is_made_once_the_operation_is_done() -> None:
    reg = PluginRegistry(group=None)

    class Archive:
        def before_delete(self, instance: Any) -> bool:
            instance.status = "archived"
            instance.save()  # not awaited, as the plugin page writes it
            return False

    reg.register("archive", Archive)
    Article = _article(reg, "archive")

    async def scenario() -> None:
        note = await Article.create({"title": "a"})
        assert await note.unlink() is True  # vetoed: counts as done
        (doc,) = await Article._env.adapter._get_collection(Article._name).find().to_list(None)
        assert doc["status"] == "archived" and doc["title"] == "a"

    run(scenario())


def test_a_save_awaited_by_its_caller_is_not_made_twice() -> None:
    reg = PluginRegistry(group=None)
    writes: list[Any] = []

    class Count:
        def after_save(self, instance: Any, changes: dict[str, Any]) -> None:
            writes.append(dict(changes))

    reg.register("count", Count)
    Article = _article(reg, "count")

    async def scenario() -> None:
        note = Article()
        note.title = "new"
        saved = await note.save()  # a create
        assert saved is note and note.id
        note.status = "draft"
        await note.save()  # a write of the value set
        assert [sorted(w) for w in writes] == [["id", "title"], ["status"]]

    run(scenario())


def test_a_save_asked_by_an_operation_that_failed_is_not_made() -> None:
    reg = PluginRegistry(group=None)

    class SaveThenFail:
        def before_delete(self, instance: Any) -> None:
            instance.status = "half"
            instance.save()
            raise RuntimeError("refused")

    reg.register("fail", SaveThenFail)
    Article = _article(reg, "fail")

    async def scenario() -> None:
        note = await Article.create({"title": "a"})
        with pytest.raises(RuntimeError, match="refused"):
            await note.unlink()
        (doc,) = await Article._env.adapter._get_collection(Article._name).find().to_list(None)
        assert doc.get("status") in (None, "")

    run(scenario())


def test_a_save_nobody_awaits_outside_advice_warns() -> None:
    reg = PluginRegistry(group=None)

    class Nothing:
        def before_save(self, instance: Any) -> None:
            pass

    reg.register("nothing", Nothing)
    Article = _article(reg, "nothing")
    note = Article()
    with pytest.warns(RuntimeWarning, match=r"save\(\) was never awaited"):
        note.save()
        gc.collect()


def test_the_queryset_of_get_queryset_advice_answers_keywords() -> None:
    reg = PluginRegistry(group=None)
    given: list[Any] = []

    class Drafts:
        def get_queryset(self, queryset: Any) -> Any:
            given.append(type(queryset))
            return queryset.filter(status="draft")

    reg.register("drafts", Drafts)
    Article = _article(reg, "drafts")

    async def scenario() -> None:
        await Article.create({"title": "a", "status": "draft"})
        await Article.create({"title": "b", "status": "draft"})
        await Article.create({"title": "c", "status": "live"})
        found = await Article.search([("title", "!=", "a")])  # joined with the domain
        assert [await r.title for r in found] == ["b"]
        assert given and all(t is KeywordQuery for t in given)

    run(scenario())
