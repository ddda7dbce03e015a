"""Round trips through EarnORM itself (mongomock-motor) with the built-in plugins woven."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _builtin_backends import TickingClock as Ticking
from _earnorm_helpers import run, stored, unique
from earnorm import fields
from earnorm.base.model.base import BaseModel

from earnorm_aop import PluginModel, explain, registry, with_plugins
from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.earnorm import EarnORMAdapter, NotFound
from earnorm_aop.plugins.audit import AuditRecord, actor
from earnorm_aop.plugins.softdelete import including_deleted
from earnorm_aop.plugins.validation import ValidationFailed
from earnorm_aop.weaving import weaver


def test_importing_earnorm_aop_never_imports_earnorm() -> None:
    code = (
        "import sys, earnorm_aop, earnorm_aop.plugins.timestamp, earnorm_aop.integrations;"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'earnorm'], 'earnorm imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_meta_plugins_and_with_plugins_both_weave_the_logical_operations() -> None:
    class User(PluginModel, BaseModel):
        _name = unique("user")
        name = fields.StringField()

        class Meta:
            plugins = ["timestamp", "softdelete"]  # noqa: RUF012

    @with_plugins("timestamp", "softdelete")
    class Member(BaseModel):
        _name = unique("member")
        name = fields.StringField()

    for model in (User, Member):
        assert isinstance(adapter_for(model), EarnORMAdapter)
        text = explain(model)
        assert "save (" in text and "_earnorm_aop_save" in text
        assert "delete (" in text and "softdelete.soft_delete" in text
        assert "get_queryset (" in text and "_where_calc" in text
        # "changes": the shared change tracking timestamp requires
        woven = {a.name for a in weaver.effective_aspects(model)}
        assert woven == {"changes", "timestamp", "softdelete"}
        assert "deleted_at" in model.__fields__  # contributed as an EarnORM field
        # EarnORM's broken classmethods update()/delete() are left alone.
        assert "update" not in text.split("plugins, in order")[1].split()


def test_create_search_browse_write_unlink_round_trip(mongo: Any) -> None:
    clock = Ticking()

    class Note(PluginModel, BaseModel):
        _name = unique("note")
        title = fields.StringField()
        views = fields.IntegerField()

        class Meta:
            plugins = {  # noqa: RUF012
                "timestamp": {"clock": clock},
                "audit": {"sink": "table"},
                "validation": {"fields": {"title": {"required": True}}},
                "cache": {},
            }

    async def scenario() -> None:
        note = await Note.create({"title": "a", "views": 1})
        assert note.id
        found = await Note.search([("title", "=", "a")])
        assert list(found.ids) == [note.id]
        same = await Note.browse(note.id)
        assert await same.write({"views": 2}) is same
        (doc,) = await stored(mongo, Note)
        assert (doc["title"], doc["views"]) == ("a", 2)
        assert doc["created_at"] == datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC).isoformat()
        assert doc["updated_at"] == datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC).isoformat()
        assert (await Note.read(note.id))["views"] == 2
        assert await same.unlink() is True
        assert await stored(mongo, Note) == []
        assert (await Note.search([])).ids == ()

    run(scenario())


def test_timestamps_are_kept_where_earnorm_alone_resets_created_at(mongo: Any) -> None:
    clock = Ticking()

    class Plain(BaseModel):
        _name = unique("plain")
        title = fields.StringField()

    @with_plugins(timestamp={"clock": clock})
    class Stamped(BaseModel):
        _name = unique("stamped")
        title = fields.StringField()

    async def scenario() -> None:
        plain = await Plain.create({"title": "a"})
        (before,) = await stored(mongo, Plain)
        await (await Plain.browse(plain.id)).write({"title": "b"})
        (after,) = await stored(mongo, Plain)
        assert after["created_at"] != before["created_at"]  # EarnORM 0.1.4's own behaviour

        note = await Stamped.create({"title": "a"})
        first = datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
        assert await note.created_at == first == await note.updated_at
        await note.write({"title": "b"})
        await (await Stamped.browse(note.id)).write({"title": "c"})
        (doc,) = await stored(mongo, Stamped)
        assert doc["created_at"] == first.isoformat()
        assert doc["updated_at"] == (first + timedelta(seconds=2)).isoformat()
        assert doc["title"] == "c"

    run(scenario())


def test_soft_deleted_documents_stay_in_the_collection_but_leave_search(mongo: Any) -> None:
    @with_plugins("softdelete", "timestamp")
    class Task(BaseModel):
        _name = unique("task")
        title = fields.StringField()

    async def scenario() -> None:
        keep = await Task.create({"title": "keep"})
        gone = await Task.create({"title": "gone"})
        assert await gone.unlink() is True
        docs = {d["title"]: d for d in await stored(mongo, Task)}
        assert set(docs) == {"keep", "gone"}
        assert docs["gone"]["deleted_at"] is not None and docs["keep"].get("deleted_at") is None
        assert list((await Task.search([])).ids) == [keep.id]
        assert list((await Task.search([("title", "=", "gone")])).ids) == []
        with pytest.raises(LookupError, match="soft-deleted"):
            await Task.get(gone.id)
        with including_deleted():
            assert await (await Task.get(gone.id)).deleted_at is not None
        query = await Task.with_deleted()  # the query of _where_calc, deleted included
        assert sorted(d["title"] for d in await query.to_raw_data()) == ["gone", "keep"]
        assert await keep.restore() is None  # a live record: nothing to write
        assert {d["title"]: d for d in await stored(mongo, Task)}["keep"] == docs["keep"]
        # A second delete changes nothing; restore brings it back; hard_delete removes it.
        stamp = docs["gone"]["deleted_at"]
        await (await Task.browse(gone.id)).unlink()
        assert {d["title"]: d for d in await stored(mongo, Task)}["gone"]["deleted_at"] == stamp
        await gone.restore()
        assert sorted((await Task.search([])).ids) == sorted([keep.id, gone.id])
        await gone.hard_delete()
        assert [d["title"] for d in await stored(mongo, Task)] == ["keep"]

    run(scenario())


def test_audit_records_a_write_with_old_and_new_values_and_the_actor(mongo: Any) -> None:
    records: list[AuditRecord] = []

    @with_plugins(audit={"sink": records.append, "exclude": ["updated_at"]})
    class Doc(BaseModel):
        _name = unique("doc")
        title = fields.StringField()
        views = fields.IntegerField()

    async def scenario() -> None:
        doc = await Doc.create({"title": "a", "views": 1})
        with actor("alice"):
            await (await Doc.browse(doc.id)).write({"views": 5})
        assert [r.action for r in records] == ["create", "update"]
        update = records[1]
        assert update.id == doc.id and update.actor == "alice"
        assert update.changes == {"views": (1, 5)}
        assert update.model == Doc._name

    run(scenario())


def test_audit_table_sink_writes_to_a_collection_of_the_same_database(mongo: Any) -> None:
    @with_plugins(audit={"sink": "table"})
    class Doc(BaseModel):
        _name = unique("doc")
        title = fields.StringField()

    async def scenario() -> None:
        doc = await Doc.create({"title": "a"})
        await doc.write({"title": "b"})
        rows = await mongo["earnorm_aop_audit"].find({"model": Doc._name}).to_list(None)
        assert [r["action"] for r in rows] == ["create", "update"]
        assert rows[1]["changes"]["title"] == ["a", "b"] or rows[1]["changes"]["title"] == (
            "a",
            "b",
        )
        assert rows[1]["id"] == doc.id

    run(scenario())


def test_validation_blocks_a_create_and_nothing_is_inserted(mongo: Any) -> None:
    @with_plugins("timestamp", validation={"fields": {"title": {"min_length": 3}}})
    class Post(BaseModel):
        _name = unique("post")
        title = fields.StringField()

    async def scenario() -> None:
        with pytest.raises(ValidationFailed) as caught:
            await Post.create({"title": "ab"})
        assert caught.value.errors == {"title": ["must have at least 3 characters/items"]}
        assert await stored(mongo, Post) == []
        post = await Post.create({"title": "abc"})
        with pytest.raises(ValidationFailed):
            await post.write({"title": "x"})
        (doc,) = await stored(mongo, Post)
        assert doc["title"] == "abc"

    run(scenario())


def test_plugins_toggled_live(mongo: Any) -> None:
    clock = Ticking()

    @with_plugins("softdelete", timestamp={"clock": clock})
    class Item(BaseModel):
        _name = unique("item")
        title = fields.StringField()

    async def scenario() -> None:
        item = await Item.create({"title": "a"})
        registry.disable("timestamp")
        try:
            await item.write({"title": "b"})
        finally:
            registry.enable("timestamp")
        (doc,) = await stored(mongo, Item)
        stamped = datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC).isoformat()
        assert doc["title"] == "b" and doc["created_at"] == stamped
        assert doc["updated_at"] != stamped  # EarnORM's own auto_now, not the plugin's clock
        await item.write({"title": "c"})
        (doc,) = await stored(mongo, Item)
        assert doc["updated_at"] == datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC).isoformat()
        with registry.disabled("softdelete"):
            await item.unlink()
        assert await stored(mongo, Item) == []

    run(scenario())


def test_cache_serves_get_by_id_until_a_write_invalidates_it(mongo: Any) -> None:
    @with_plugins("cache")
    class Page(BaseModel):
        _name = unique("page")
        title = fields.StringField()

    async def scenario() -> None:
        page = await Page.create({"title": "a"})
        assert await (await Page.get(page.id)).title == "a"
        # Changed behind EarnORM's back: the cached record is still served.
        await mongo[Page._name].update_many({}, {"$set": {"title": "raw"}})
        cached = await Page.get(page.id)
        assert cached.id == page.id and await cached.title == "a"
        assert (await Page.read(page.id))["title"] == "raw"  # read(): EarnORM's, not woven
        await page.write({"title": "b"})  # through the model: invalidated
        assert await (await Page.get(page.id)).title == "b"
        await page.unlink()
        with pytest.raises(NotFound, match=r"has no record"):
            await Page.get(page.id)

    run(scenario())


def test_the_page_cache_plugin_sees_the_record_get_produced(reg: Any, mongo: Any) -> None:
    from earnorm_aop import plugin

    cache: dict[str, Any] = {}

    @plugin("page_cache", registry=reg)
    class CachePlugin:  # as the plugin page writes it
        def __init__(self, ttl: int = 3600, prefix: str = "cache") -> None:
            self.ttl = ttl
            self.prefix = prefix

        def after_get(self, instance: Any) -> None:
            key = f"{self.prefix}:{instance.id}"
            cache[key] = instance

        def before_save(self, instance: Any) -> None:
            key = f"{self.prefix}:{instance.id}"
            cache.pop(key, None)

    class User(PluginModel, BaseModel):
        _name = unique("user")
        name = fields.StringField()

        class Meta:
            plugins = {"page_cache": {"ttl": 1800, "prefix": "user"}}  # noqa: RUF012
            registry = reg

    async def scenario() -> None:
        user = await User.create({"name": "a"})
        got = await User.get(user.id)
        assert cache == {f"user:{user.id}": got}
        await got.write({"name": "b"})
        assert cache == {}

    run(scenario())


def test_create_of_a_list_is_save_many_stamped_and_audited_per_record(mongo: Any) -> None:
    records: list[AuditRecord] = []
    clock = Ticking()

    @with_plugins(timestamp={"clock": clock}, audit={"sink": records.append})
    class Tag(BaseModel):
        _name = unique("tag")
        label = fields.StringField()

    async def scenario() -> None:
        tags = await Tag.create([{"label": "x"}, {"label": "y"}])
        assert len(tags.ids) == 2
        docs = await stored(mongo, Tag)
        assert {d["created_at"] for d in docs} == {
            datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC).isoformat()
        }
        assert sorted(r.id for r in records) == sorted(tags.ids)
        assert {r.action for r in records} == {"create"}

    run(scenario())


def test_a_recordset_write_and_unlink_run_the_operation_per_record(mongo: Any) -> None:
    records: list[AuditRecord] = []

    @with_plugins("softdelete", audit={"sink": records.append, "exclude": ["updated_at"]})
    class Row(BaseModel):
        _name = unique("row")
        n = fields.IntegerField()

    async def scenario() -> None:
        await Row.create([{"n": 1}, {"n": 2}])
        rows = await Row.search([])
        await rows.write({"n": 0})
        assert [r.changes for r in records if r.action == "update"] == [
            {"n": (1, 0)},
            {"n": (2, 0)},
        ]
        assert await rows.unlink() is True
        assert [r.action for r in records].count("soft_delete") == 2
        assert (await Row.search([])).ids == ()
        assert len(await stored(mongo, Row)) == 2

    run(scenario())


def test_awaiting_a_field_then_writing_works_on_a_woven_model(mongo: Any) -> None:
    """EarnORM 0.1.4 fails a write() after a field was awaited; the adapter's write does not."""

    class Plain(BaseModel):
        _name = unique("plain")
        title = fields.StringField()

    @with_plugins("timestamp")
    class Woven(BaseModel):
        _name = unique("woven")
        title = fields.StringField()

    async def scenario() -> None:
        plain = await Plain.create({"title": "a"})
        assert await plain.title == "a"
        with pytest.raises(Exception, match="unhashable"):
            await plain.write({"title": "b"})
        woven = await Woven.create({"title": "a"})
        assert await woven.title == "a"
        await woven.write({"title": "b"})
        assert (await Woven.read(woven.id))["title"] == "b"

    run(scenario())


def test_a_field_a_plugin_contributes_must_have_a_type_earnorm_can_store() -> None:
    from earnorm_aop import PluginError, plugin
    from earnorm_aop.integrations import FieldSpec

    @plugin("earnorm_odd_field", registry=registry)
    class Odd:
        def fields(self) -> list[FieldSpec]:
            return [FieldSpec("blob", bytes, None)]

        def after_save(self) -> None:
            return None

    try:
        with pytest.raises(PluginError, match=r"cannot add field 'blob'.*EarnORM model"):

            @with_plugins("earnorm_odd_field")
            class Model(BaseModel):
                _name = unique("odd")
    finally:
        registry.unregister("earnorm_odd_field")


def test_subjects_the_record_on_save_and_delete_and_the_query_of_get_queryset(
    reg: Any, mongo: Any
) -> None:
    from earnorm_aop import hook, plugin

    seen: list[tuple[str, Any, Any]] = []

    @plugin("watch", registry=reg)
    class Watch:
        def before_save(self, instance: Any, values: dict[str, Any]) -> None:
            title = adapter_for(type(instance)).get_field(instance, "title")
            seen.append(("before_save", instance.id, title))

        def after_save(self, instance: Any) -> None:
            seen.append(("after_save", instance.id, type(instance).__name__))

        def before_delete(self, instance: Any) -> None:
            seen.append(("before_delete", instance.id, None))

        @hook("chain:get_queryset")
        def only_public(self, query: Any, model: type) -> Any:
            return adapter_for(model).filter(query, public=True)

    @with_plugins("watch", registry=reg)
    class Entry(BaseModel):
        _name = unique("entry")
        title = fields.StringField()
        public = fields.BooleanField()

    async def scenario() -> None:
        shown = await Entry.create({"title": "shown", "public": True})
        hidden = await Entry.create({"title": "hidden", "public": False})
        assert seen[:2] == [("before_save", "", "shown"), ("after_save", shown.id, "Entry")]
        assert list((await Entry.search([])).ids) == [shown.id]
        pk = hidden.id
        await hidden.unlink()
        assert seen[-1] == ("before_delete", pk, None)
        assert hidden.id == ""  # EarnORM's unlink() empties the recordset

    run(scenario())
