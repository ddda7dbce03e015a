"""``backfill``: documents stored before a plugin was enabled get its fields (mongomock-motor)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from _earnorm_helpers import run, unique
from earnorm import fields
from earnorm.base.model.base import BaseModel

from earnorm_aop import PluginNotFoundError, PluginRegistry, plugin, weave
from earnorm_aop.adapters.base import FieldSpec
from earnorm_aop.integrations.earnorm import backfill
from earnorm_aop.plugin_system.schema import Schema

PUBLISHED = [datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC), None, datetime(2021, 6, 7, tzinfo=UTC)]


async def stored(mongo: Any, model: type) -> list[dict[str, Any]]:
    return await mongo[model._name].find({}).sort("title").to_list(None)  # type: ignore[attr-defined,no-any-return]


def test_documents_stored_before_the_plugins_get_their_fields(mongo: Any) -> None:
    class Post(BaseModel):
        _name = unique("post")
        title = fields.StringField()
        published = fields.DatetimeField(use_tz=True)

    async def scenario() -> None:
        for i, published in enumerate(PUBLISHED):
            await Post.create({"title": f"post {i}", "published": published})
        before = await stored(mongo, Post)
        assert not any("first_seen" in doc or "deleted_at" in doc for doc in before)

        weave(
            Post,
            "timestamp",
            created_field="first_seen",
            updated_field="last_seen",
            backfill_created_from="published",
        )
        weave(Post, "softdelete")
        started = datetime.now(UTC)
        assert await backfill(Post) == {"first_seen": 3, "last_seen": 3}
        docs = await stored(mongo, Post)
        assert [d["title"] for d in docs] == ["post 0", "post 1", "post 2"]
        (now,) = {d["last_seen"] for d in docs}  # one time for the whole pass
        assert started <= datetime.fromisoformat(now) <= datetime.now(UTC)
        for doc, old in zip(docs, before, strict=True):
            assert doc["first_seen"] == (old["published"] or now)
            assert "deleted_at" not in doc  # softdelete declares no backfill: not deleted
        indexes = await mongo[Post._name].index_information()
        assert any(info["key"] == [("deleted_at", 1)] for info in indexes.values())

        # a second pass changes nothing; the plugins work on the old documents
        assert await backfill(Post, "timestamp") == {"first_seen": 0, "last_seen": 0}
        first = await Post.search([("title", "=", "post 0")])
        await first.unlink()  # soft: the row stays, hidden
        assert len((await Post.search([])).ids) == 2
        assert len(await stored(mongo, Post)) == 3

    run(scenario())


def test_a_constant_and_a_default_are_filled_and_bad_names_refused(mongo: Any) -> None:
    reg = PluginRegistry()

    @plugin("flagged", registry=reg)
    class Flagged:
        def schema(self) -> Schema:
            return Schema(fields=[FieldSpec("flag", bool, True), FieldSpec("note", str | None)])

    class Item(BaseModel):
        _name = unique("item")
        title = fields.StringField()

    async def scenario() -> None:
        await Item.create({"title": "a"})
        weave(Item, "flagged", registry=reg)
        with pytest.raises(PluginNotFoundError, match=r"no plugin named 'timestamp' woven on"):
            await backfill(Item, "timestamp")
        assert await backfill(Item) == {"flag": 1}
        (doc,) = await stored(mongo, Item)
        assert doc["flag"] is True and "note" not in doc

    run(scenario())
