"""Helpers of the EarnORM tests: unique model names, one event loop per scenario, what is stored.

A unique model name per test, a scenario run on its own loop, the documents
of a collection read past EarnORM and the plugins, a record's id, and the
``Note`` model (title, views) most write tests use.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any, TypeVar

from earnorm import fields
from earnorm.base.model.base import BaseModel

from earnorm_aop import PluginRegistry, with_plugins

T = TypeVar("T")

_names = itertools.count(1)


def unique(stem: str) -> str:
    """A model ``_name`` no other test uses (EarnORM registers each name once)."""
    return f"{stem}_{next(_names)}"


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run one test's async scenario on a new event loop."""
    return asyncio.run(scenario)


async def stored(mongo: Any, model: type, by: str | None = None) -> list[dict[str, Any]]:
    """Every document of ``model``'s collection, read without EarnORM or plugins.

    In the collection's order, or sorted by the text of field ``by``.
    """
    docs: list[dict[str, Any]] = await mongo[model._name].find({}).to_list(None)  # type: ignore[attr-defined]
    return docs if by is None else sorted(docs, key=lambda d: str(d.get(by)))


def pk(record: Any) -> str:
    """A record's id (``record.id`` is a field, awaited, on some models)."""
    (found,) = record.ids
    return str(found)


def note_model(
    *plugins: str, registry: PluginRegistry | None = None, **configured: Any
) -> type[BaseModel]:
    """A new ``Note`` (``title``, ``views``; no default fields) with ``plugins`` woven."""

    class Note(BaseModel):
        _name = unique("note")
        _skip_default_fields = True
        title = fields.StringField()
        views = fields.IntegerField()

    extra: dict[str, Any] = {} if registry is None else {"registry": registry}
    return with_plugins(*plugins, **extra, **configured)(Note)
