"""Options that read what a save changes take it from the write's state (issue 23, point 4).

Audit's ``record_unchanged`` and validation's ``changed_only`` read the save's record that
the dispatcher's ``write`` holds, built once for every advice of the write, instead of a
record of their own: a save with either, and timestamp, builds one ``Write`` and one
``Record`` (counted calls, no timing).
"""

from __future__ import annotations

from typing import Any

import pytest
from _calls import calls, ours

from earnorm_aop import unweave, with_plugins
from earnorm_aop.integrations.memory import MemoryModel, MemoryStore
from earnorm_aop.plugins.audit import AuditRecord
from earnorm_aop.plugins.validation import ValidationFailed

INITS = "earnorm_aop.adapters.tracking:__init__"  # Write.__init__ and Record.__init__


def _article(store: MemoryStore, **plugins: Any) -> Any:
    class Article(MemoryModel):
        __store__ = store
        id: int | None = None
        title: str = ""
        views: int = 0

    return with_plugins("timestamp", **plugins)(Article)


def test_record_unchanged_reads_the_writes_record() -> None:
    records: list[AuditRecord] = []
    Article = _article(MemoryStore(), audit={"sink": records.append, "record_unchanged": True})
    obj = Article(title="a")
    obj.save()
    loaded = Article.get(obj.id)
    counted = ours(calls(loaded.save))  # changes nothing: recorded all the same
    assert [r.action for r in records] == ["create", "update"]
    assert records[-1].changes == {}
    assert counted[INITS] == 2, counted  # one Write, one Record
    loaded.title = "b"
    loaded.save()  # a change: recorded once, as the after_change listener
    assert [(r.action, r.changes["title"]) for r in records[2:]] == [("update", ("a", "b"))]
    unweave(Article)


def test_changed_only_reads_the_writes_record() -> None:
    store = MemoryStore()
    rules = {"fields": {"views": {"le": 10}, "title": {"max_length": 3}}, "changed_only": True}
    Article = _article(store, validation=rules)
    obj = Article(title="abc", views=1)
    obj.save()
    store.update(Article, (("id", "exact", obj.id),), {"views": 99})  # stored before the rule
    legacy = Article.get(obj.id)
    legacy.title = "xyz"
    counted = ours(calls(legacy.save))  # views holds what is stored: not checked again
    assert counted[INITS] == 2, counted
    assert Article.get(obj.id).title == "xyz"
    legacy.title = "toolong"
    with pytest.raises(ValidationFailed) as info:
        legacy.save()
    assert set(info.value.errors) == {"title"}
    unweave(Article)


def test_without_changed_only_validation_asks_for_no_write() -> None:
    """The plain check is woven alone: a save builds no write state for validation."""
    store = MemoryStore()

    @with_plugins(validation={"fields": {"title": {"max_length": 3}}})
    class Article(MemoryModel):
        __store__ = store
        id: int | None = None
        title: str = ""

    obj = Article()
    obj.title = "abc"
    counted = ours(calls(obj.save))
    assert counted[INITS] == 0, counted
    obj.title = "toolong"
    with pytest.raises(ValidationFailed):
        obj.save()
    unweave(Article)
