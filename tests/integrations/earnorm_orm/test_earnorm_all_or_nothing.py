"""EarnORM writes are all or nothing, and plugins see what a call really does (issue 24).

A refused ``write()`` leaves nothing pending on the record; a recordset's
``write()`` checks every record before it writes any; ``restore()`` works on
any record (``browse``, ``search``); a write's ``changes`` and audit hold the
fields it writes, whatever another writer stored meanwhile; softdelete's
criterion combines with the query's own; the ``earnorm`` extra installs what
the quickstart needs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from _earnorm_helpers import note_model, pk, run, stored, unique
from _hypothesis_profiles import examples
from earnorm import fields
from earnorm.base.model.base import BaseModel
from hypothesis import given, settings
from hypothesis import strategies as st

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins
from earnorm_aop.integrations.earnorm import use_mongomock
from earnorm_aop.plugins.audit import AuditRecord
from earnorm_aop.plugins.softdelete import including_deleted
from earnorm_aop.plugins.validation import ValidationFailed

ROOT = Path(__file__).resolve().parents[3]


# -- a refused write leaves nothing behind ------------------------------------------------


def test_a_refused_write_leaves_nothing_pending_for_the_next_write(mongo: Any) -> None:
    Note = note_model(validation={"fields": {"title": {"max_length": 5}}})

    async def scenario() -> None:
        note = await Note.create({"title": "ok", "views": 1})
        with pytest.raises(ValidationFailed):
            await note.write({"title": "far too long"})
        await note.write({"views": 2})  # not refused again for the aborted title
        assert [(d["title"], d["views"]) for d in await stored(mongo, Note, by="title")] == [
            ("ok", 2)
        ]
        assert await note.title == "ok"

    run(scenario())


def test_a_write_a_plugin_refuses_keeps_the_values_assigned_before_it(mongo: Any) -> None:
    registry = PluginRegistry(group=None)

    @plugin("guard", registry=registry)
    class Guard:
        @hook("before:save")
        def refuse_secrets(self, values: dict[str, Any]) -> None:
            if values.get("title") == "secret":
                raise PermissionError("no secrets")

    Note = note_model("guard", registry=registry)

    async def scenario() -> None:
        note = await Note.create({"title": "a", "views": 1})
        note.views = 7  # assigned before the call: the user's, kept for the next write
        with pytest.raises(PermissionError):
            await note.write({"title": "secret"})
        await note.write({})
        assert [(d["title"], d["views"]) for d in await stored(mongo, Note, by="title")] == [
            ("a", 7)
        ]

    run(scenario())


def test_a_recordset_write_checks_every_record_before_writing_any(mongo: Any) -> None:
    Note = note_model(validation={"fields": {"title": {"required": True}}})

    async def scenario() -> None:
        good = await Note.create({"title": "a", "views": 1})
        await mongo[Note._name].insert_one({"views": 1})  # stored without a title
        both = await Note.search([])
        assert len(both.ids) == 2
        with pytest.raises(ValidationFailed, match="title"):
            await both.write({"views": 9})
        assert sorted(d["views"] for d in await stored(mongo, Note, by="title")) == [1, 1]
        # Nothing stays pending either: the valid record alone writes as asked.
        await good.write({"views": 3})
        assert sorted(d["views"] for d in await stored(mongo, Note, by="title")) == [1, 3]

    run(scenario())


def test_a_recordset_write_of_valid_records_writes_each_once_with_its_own_changes(
    mongo: Any,
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    registry = PluginRegistry(group=None)

    @plugin("watch", registry=registry)
    class Watch:
        @hook("after:save")
        def saved(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append((pk(instance), dict(changes)))

    Note = note_model("watch", registry=registry)

    async def scenario() -> None:
        a = await Note.create({"title": "a", "views": 1})
        b = await Note.create({"title": "b", "views": 2})
        seen.clear()
        await (await Note.search([])).write({"views": 2})
        assert len(seen) == 2
        assert dict(seen) == {pk(a): {"views": (1, 2)}, pk(b): {}}
        assert [d["views"] for d in await stored(mongo, Note, by="title")] == [2, 2]

    run(scenario())


# -- restore() on any record --------------------------------------------------------------


def test_restore_works_on_records_from_search_and_browse(mongo: Any) -> None:
    records: list[AuditRecord] = []

    @with_plugins("softdelete", audit={"sink": records.append, "exclude": ["updated_at"]})
    class Task(BaseModel):
        _name = unique("task")
        title = fields.StringField()

    async def scenario() -> None:
        a = await Task.create({"title": "a"})
        b = await Task.create({"title": "b"})
        await a.unlink()
        await b.unlink()
        with including_deleted():
            found = await Task.search([("title", "=", "a")])
        assert await found.restore() is None
        await (await Task.browse(pk(b))).restore()
        assert [d["deleted_at"] for d in await stored(mongo, Task, by="title")] == [None, None]
        assert sorted((await Task.search([])).ids) == sorted([pk(a), pk(b)])
        assert [r.action for r in records].count("restore") == 2
        # A record that is not deleted: restore() does nothing (no write, no audit).
        before = len(records)
        await (await Task.browse(pk(a))).restore()
        assert len(records) == before

    run(scenario())


# -- two writers: a write's changes are the fields it writes ------------------------------


def test_changes_and_audit_hold_only_the_fields_the_call_writes(mongo: Any) -> None:
    """Alice's write lands between Bob's read and Bob's write: Bob's record leaves her title out."""
    seen: list[dict[str, Any]] = []
    records: list[AuditRecord] = []
    registry = PluginRegistry()

    @plugin("alice", registry=registry)
    class AliceWritesMeanwhile:
        @hook("before:save")
        async def meanwhile(self, instance: Any, values: dict[str, Any]) -> None:
            if "views" in values:  # Bob's write, after its read of the document
                await mongo[instance._name].update_one({}, {"$set": {"title": "alice"}})

        @hook("after:save")
        def saved(self, changes: dict[str, Any]) -> None:
            seen.append(dict(changes))

    Doc = note_model("alice", audit={"sink": records.append}, registry=registry)

    async def scenario() -> None:
        doc = await Doc.create({"title": "a", "views": 1})
        seen.clear()
        await (await Doc.browse(pk(doc))).write({"views": 9})
        assert seen == [{"views": (1, 9)}]
        assert records[-1].action == "update" and records[-1].changes == {"views": (1, 9)}
        docs = await stored(mongo, Doc, by="title")
        assert [(d["title"], d["views"]) for d in docs] == [("alice", 9)]

    run(scenario())


# -- softdelete's criterion and the query's own -------------------------------------------


def test_a_query_on_deleted_at_gets_what_its_domain_asks(mongo: Any) -> None:
    @with_plugins("softdelete")
    class Task(BaseModel):
        _name = unique("task")
        title = fields.StringField()

    async def scenario() -> None:
        gone = await Task.create({"title": "gone"})
        await Task.create({"title": "kept"})
        await gone.unlink()
        # Outside including_deleted(): deleted rows are hidden, so none is left.
        assert list((await Task.search([("deleted_at", "!=", None)])).ids) == []
        with including_deleted():
            assert list((await Task.search([("deleted_at", "!=", None)])).ids) == [pk(gone)]
        live = await Task.search([("deleted_at", "=", None), ("title", "!=", "x")])
        assert len(live.ids) == 1
        with including_deleted():
            assert len((await Task.search([("title", "!=", "x")])).ids) == 2

    run(scenario())


# -- the extra ------------------------------------------------------------------------------


def test_the_earnorm_extra_installs_what_the_quickstart_and_the_cache_plugin_import() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {re.split(r"[^A-Za-z0-9_.-]", req, maxsplit=1)[0].lower() for req in extras["earnorm"]}
    quickstart = (ROOT / "examples" / "earnorm_quickstart.py").read_text()
    assert '"cache"' in quickstart or "cache=" in quickstart  # the quickstart uses the cache
    assert "cachetools" in names, extras["earnorm"]


def test_a_vetoed_write_leaves_nothing_pending_either(mongo: Any) -> None:
    registry = PluginRegistry(group=None)

    @plugin("freeze", registry=registry)
    class Freeze:
        @hook("before:save")
        def no_drafts(self, values: dict[str, Any]) -> bool:
            return values.get("status") != "draft"  # False: vetoed, not written

    @with_plugins("freeze", registry=registry)
    class Note(BaseModel):
        _name = unique("note")
        _skip_default_fields = True
        title = fields.StringField()
        status = fields.StringField()

    async def scenario() -> None:
        note = await Note.create({"title": "a", "status": "live"})
        await note.write({"status": "draft", "title": "vetoed"})
        await note.write({"status": "done"})  # the vetoed title is not written with it
        assert [(d["title"], d["status"]) for d in await stored(mongo, Note, by="title")] == [
            ("a", "done")
        ]

    run(scenario())


def test_a_recordset_write_stores_every_record_or_none() -> None:
    """For any mix of valid and invalid stored records: all are written, or none is."""

    Note = note_model(validation={"fields": {"title": {"required": True}}})

    @settings(max_examples=examples(30))
    @given(valid=st.lists(st.booleans(), min_size=1, max_size=5))
    def check(valid: list[bool]) -> None:
        run(scenario(valid))

    async def scenario(valid: list[bool]) -> None:
        db = use_mongomock(unique("props"))
        await db[Note._name].insert_many(
            [{"title": "t" if ok else None, "views": 0} for ok in valid]
        )
        everything = await Note.search([])
        if all(valid):
            await everything.write({"views": 1})
        else:
            with pytest.raises(ValidationFailed):
                await everything.write({"views": 1})
        views = [d["views"] for d in await db[Note._name].find({}).to_list(None)]
        assert views == [1 if all(valid) else 0] * len(valid)

    check()
