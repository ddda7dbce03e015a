"""Documents stored before a plugin was enabled get its fields:
[`backfill`][earnorm_aop.integrations.earnorm.backfill.backfill].

MongoDB has no schema to migrate: a document written before ``timestamp``
was enabled on its model simply lacks ``created_at``.  Reads give ``None``,
and queries on the field (softdelete's ``deleted_at: None``) match a missing
field, so nothing breaks; but the values the plugin's schema declares for old
rows ([`Backfill`][earnorm_aop.plugin_system.schema.Backfill]: the time of the
backfill, a constant, or another field of the document) are only there once
something writes them.  [`backfill`][earnorm_aop.integrations.earnorm.backfill.backfill] is that
something, run once after
enabling the plugin (a deploy step, a management script)::

    from earnorm_aop.integrations.earnorm import backfill

    await backfill(Article)                 # every plugin woven on Article
    await backfill(Article, "timestamp")    # only these

It sets only fields that are missing or ``None``, so a second run changes
nothing, and creates the index of each indexed field (softdelete's
``deleted_at``).  A time or a constant goes through the EarnORM field's own
conversion, as a save would store it; a field copied from another is copied
as stored.  It reads and writes the collection directly: no
plugin advice runs, and no ``updated_at`` moves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ...errors import PluginNotFoundError
from ...plugin_system.schema import NOW, Backfill, schema_of
from ...weaving import weaver
from .fields import store_as_given

__all__ = ["backfill"]


async def backfill(model: type, *plugins: str) -> dict[str, int]:
    """Fill the fields ``plugins`` (default: all woven on ``model``) add, in stored documents.

    Returns field -> number of documents changed.  A plugin name not woven
    on ``model`` is a [`PluginNotFoundError`][earnorm_aop.errors.PluginNotFoundError] naming those
    that are.
    """
    woven = {a.name: a for a in weaver.effective_aspects(model)}
    for name in plugins:
        if name not in woven:
            raise PluginNotFoundError(name, woven, where=f" woven on {model.__qualname__}")
    collection = model._env.adapter._get_collection(model._name)  # type: ignore[attr-defined]
    fields: dict[str, Any] = model.__fields__  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    changed: dict[str, int] = {}
    for name in plugins or tuple(woven):
        schema = schema_of(name, woven[name].plugin)
        for fill in schema.all_backfills():
            changed[fill.field] = await _fill(collection, fields, fill, now)
        for spec in schema.fields:
            if spec.index:
                await collection.create_index(spec.name)
    return changed


async def _fill(collection: Any, fields: dict[str, Any], fill: Backfill, now: datetime) -> int:
    field = fields[fill.field]
    empty = {fill.field: None}  # MongoDB: missing or null
    if fill.from_field is None:
        value = now if fill.value is NOW else fill.value
        stored = await store_as_given(field, value, "mongodb")
        result = await collection.update_many(empty, {"$set": {fill.field: stored}})
        return int(result.modified_count)
    # Another field of each document, copied as stored (now where it is empty):
    # one update per document, which needs no pipeline updates from the server.
    fallback = await store_as_given(field, now, "mongodb")
    count = 0
    async for document in collection.find(empty, {fill.from_field: 1}):
        source = document.get(fill.from_field)
        value = fallback if source is None else source
        await collection.update_one({"_id": document["_id"]}, {"$set": {fill.field: value}})
        count += 1
    return count
