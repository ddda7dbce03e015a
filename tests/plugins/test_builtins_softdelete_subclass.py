"""softdelete re-configured on a subclass: the methods it contributes use the subclass's options."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from earnorm_aop import unweave, with_plugins
from earnorm_aop.integrations.memory import MemoryModel, MemoryStore
from earnorm_aop.plugins.softdelete import including_deleted


@pytest.fixture
def models() -> Iterator[tuple[type, type]]:
    store = MemoryStore()

    @with_plugins("softdelete")
    class Doc(MemoryModel):
        __store__ = store
        id: int | None = None
        title: str = ""

    @with_plugins(softdelete={"field": "removed_at"})
    class Memo(Doc):
        pass

    yield Doc, Memo
    unweave(Memo)
    unweave(Doc)


def test_restore_hard_delete_and_with_deleted_follow_the_subclass(
    models: tuple[type, type],
) -> None:
    _, Memo = models
    memo = Memo(title="m")
    memo.save()
    memo.delete()
    assert memo.removed_at is not None
    assert memo.deleted_at is None  # the parent's field is not the subclass's
    assert [m.id for m in Memo.with_deleted()] == [memo.id]
    assert list(Memo.get_queryset()) == []
    memo.restore()
    assert memo.removed_at is None
    assert [m.id for m in Memo.get_queryset()] == [memo.id]
    memo.hard_delete()
    with including_deleted():
        assert list(Memo.get_queryset()) == []


def test_the_parent_keeps_its_own_configuration(models: tuple[type, type]) -> None:
    Doc, _ = models
    doc = Doc(title="d")
    doc.save()
    doc.delete()
    assert doc.deleted_at is not None
    assert [d.id for d in Doc.with_deleted()] == [doc.id]
    doc.restore()
    assert doc.deleted_at is None
