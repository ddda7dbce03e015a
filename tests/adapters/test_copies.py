"""A copy of a saved instance is the same row: saving it is an update (issue 24).

``copy.copy``, ``copy.deepcopy`` and pydantic's ``model_copy(update=...)``
(the one way to change a frozen model) keep the primary key, so the copy is
the row its original was loaded or saved as, as a copied Django instance is:
its ``changes`` and audit compare with that row.  A copy given another
primary key (``None``: a new row) is a creation; so is a copy of an
instance that has no primary key at all, whose identity is the instance.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from earnorm_aop import with_plugins
from earnorm_aop.adapters import _persisted_state
from earnorm_aop.integrations.memory import MemoryModel, MemoryStore
from earnorm_aop.plugins.audit import AuditRecord


def _models(records: list[AuditRecord]) -> tuple[type, type]:
    store = MemoryStore()

    @with_plugins(audit={"sink": records.append})
    class Plain(MemoryModel):
        __store__ = store
        id: int | None = None
        title: str = ""

    @with_plugins(audit={"sink": records.append})
    class Memo(MemoryModel, pydantic.BaseModel):
        __store__ = store
        id: int | None = None
        title: str = ""

    return Plain, Memo


COPIES: dict[str, Callable[[Any], Any]] = {
    "copy.copy": copy.copy,
    "copy.deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("how", sorted(COPIES))
@pytest.mark.parametrize("kind", [0, 1])
def test_a_copy_of_a_saved_instance_saves_as_an_update_of_its_row(how: str, kind: int) -> None:
    records: list[AuditRecord] = []
    model = _models(records)[kind]
    original = model(title="a")
    original.save()
    twin = COPIES[how](original)
    twin.title = "b"
    twin.save()
    assert [(r.action, r.id) for r in records] == [("create", original.id), ("update", original.id)]
    assert records[1].changes == {"title": ("a", "b")}


def test_model_copy_changes_a_frozen_model_and_saves_as_an_update() -> None:
    records: list[AuditRecord] = []

    @with_plugins(audit={"sink": records.append})
    class Frozen(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(frozen=True)
        id: int
        title: str = ""

        def save(self) -> None:
            pass  # a repository's job; the plugins see the call

    original = Frozen(id=7, title="a")
    original.save()
    changed = original.model_copy(update={"title": "b"})
    changed.save()
    assert [(r.action, r.id) for r in records] == [("create", 7), ("update", 7)]
    assert records[1].changes == {"title": ("a", "b")}
    changed.model_copy(update={"title": "c"}).save()  # a copy of the copy: its row's state now
    assert records[2].changes == {"title": ("b", "c")}


def test_a_copy_loaded_from_the_store_is_an_update_too() -> None:
    records: list[AuditRecord] = []
    _, Memo = _models(records)
    Memo(title="a").save()
    loaded = Memo.get(1)
    loaded.model_copy(update={"title": "c"}).save()
    assert records[-1].action == "update" and records[-1].changes == {"title": ("a", "c")}


def test_a_copy_given_no_primary_key_is_a_new_row() -> None:
    records: list[AuditRecord] = []
    _, Memo = _models(records)
    original = Memo(title="a")
    original.save()
    fresh = original.model_copy(update={"id": None, "title": "b"})
    fresh.save()
    assert [r.action for r in records] == ["create", "create"]
    assert fresh.id != original.id


def test_a_copy_of_a_deleted_row_is_a_creation() -> None:
    records: list[AuditRecord] = []
    _, Memo = _models(records)
    original = Memo(title="a")
    original.save()
    twin = original.model_copy()
    original.delete()
    twin.save()
    assert [r.action for r in records] == ["create", "delete", "create"]


def test_without_a_primary_key_each_instance_is_its_own_row() -> None:
    records: list[AuditRecord] = []

    @with_plugins(audit={"sink": records.append})
    class Note(pydantic.BaseModel):
        title: str = ""

        def save(self) -> None:
            pass

    note = Note(title="a")
    note.save()
    note.model_copy(update={"title": "b"}).save()
    assert [r.action for r in records] == ["create", "create"]


def test_the_row_of_an_instance_is_forgotten_with_it() -> None:
    records: list[AuditRecord] = []
    Plain, _ = _models(records)
    original = Plain(title="a")
    original.save()
    row = (Plain, original.id)
    assert _persisted_state._by_row[row]() is original
    del original
    gc.collect()
    assert row not in _persisted_state._by_row
