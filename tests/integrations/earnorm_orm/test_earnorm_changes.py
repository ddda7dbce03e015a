"""Change tracking on EarnORM's own API: ``changes`` and hook conditions on create/write/unlink.

The backend-neutral claims run here too (``tests/plugin_system/test_changes.py`` over the
EarnORM backend); these are the EarnORM-specific ones: a recordset's
``write()`` is a save per record, each with its own changes; the "before" is
the document read just before the write; the values of ``create`` /
``write`` (and fields assigned beforehand) are what is about to be written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _builtin_backends import TickingClock as Ticking
from _earnorm_helpers import run, unique
from _hypothesis_profiles import examples
from earnorm import fields
from earnorm.base.model.base import BaseModel
from hypothesis import given, settings
from hypothesis import strategies as st

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins
from earnorm_aop.adapters.capabilities import provided
from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.earnorm import use_mongomock
from earnorm_aop.plugins.timestamp import WRITE_STAMPS, PlainStamps


def _pk(record: Any) -> Any:
    return adapter_for(type(record)).pk(record)


def _watching(seen: list[Any]) -> PluginRegistry:
    """A registry with ``watch``: conditional hooks recording the record and its changes."""
    registry = PluginRegistry()

    @plugin("watch", registry=registry)
    class Watch:
        @hook("before:save", when="status", was="draft", is_now="published")
        def publishing(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("publishing", _pk(instance), dict(changes)))

        @hook("after:save", when_any=["title", "status"], has_changed=True)
        def touched(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("touched", _pk(instance), sorted(changes)))

        @hook("before:delete", when="status", was="published")
        def keep_published(self, instance: Any) -> bool:
            seen.append(("kept", _pk(instance)))
            return False  # vetoed: published records stay

        @hook("after:save_many")
        def created(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("created", _pk(instance), changes["title"]))

    return registry


def _article(registry: PluginRegistry) -> type:
    @with_plugins("watch", registry=registry)
    class Article(BaseModel):
        _name = unique("article")
        _skip_default_fields = True
        title = fields.StringField(default="")
        status = fields.StringField(default="draft")

    return Article


def test_a_recordset_write_runs_the_condition_per_record_whose_value_moves(mongo: Any) -> None:
    seen: list[Any] = []
    Article = _article(_watching(seen))

    async def scenario() -> None:
        # EarnORM 0.1.4's create() stores no field defaults: status is given.
        a = await Article.create({"title": "a", "status": "draft"})
        b = await Article.create({"title": "b", "status": "draft"})
        done = await Article.create({"title": "c", "status": "published"})
        seen.clear()
        await (await Article.search([])).write({"status": "published"})
        drafts = sorted([_pk(a), _pk(b)])
        published = [e for e in seen if e[0] == "publishing"]
        assert sorted(e[1] for e in published) == drafts
        assert all(e[2] == {"status": ("draft", "published")} for e in published)
        # when_any: once per record, only where a value moved
        assert sorted(e[1] for e in seen if e[0] == "touched") == drafts
        assert _pk(done) not in [e[1] for e in seen]
        docs = await mongo[Article._name].find({}).to_list(None)
        assert {d["status"] for d in docs} == {"published"}

    run(scenario())


def test_was_is_the_document_read_just_before_the_write(mongo: Any) -> None:
    """A record held since its creation: the write compares with what is stored now."""
    seen: list[Any] = []
    Article = _article(_watching(seen))

    async def scenario() -> None:
        held = await Article.create({"title": "a", "status": "published"})
        # Another writer sets it back to draft, behind the held record's back.
        await mongo[Article._name].update_one({}, {"$set": {"status": "draft"}})
        seen.clear()
        await held.write({"status": "published"})
        assert seen[0] == ("publishing", _pk(held), {"status": ("draft", "published")})

    run(scenario())


def test_the_values_of_create_and_write_and_fields_assigned_before_are_the_new_values(
    mongo: Any,
) -> None:
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("spy", registry=registry)
    class Spy:
        @hook("before:save")
        def before(self, changes: dict[str, Any]) -> None:
            seen.append(("before", dict(changes)))

        @hook("after:save")
        def after(self, changes: dict[str, Any]) -> None:
            seen.append(("after", dict(changes)))

    @with_plugins("spy", registry=registry)
    class Note(BaseModel):
        _name = unique("note")
        _skip_default_fields = True
        title = fields.StringField(default="")
        views = fields.IntegerField(default=0)

    async def scenario() -> None:
        note = await Note.create({"title": "a", "views": 0})
        assert seen[0] == ("before", {"title": (None, "a"), "views": (None, 0)})
        created = {"id": (None, _pk(note)), "title": (None, "a"), "views": (None, 0)}
        assert seen[1] == ("after", created)
        seen.clear()
        note.views = 3  # an assignment sets a value the next write stores
        await note.write({"title": "b"})
        expected = {"title": ("a", "b"), "views": (0, 3)}
        assert seen == [("before", expected), ("after", expected)]
        seen.clear()
        await note.write({"title": "b"})  # the values as stored: nothing changes
        assert seen == [("before", {}), ("after", {})]

    run(scenario())


def test_unlink_and_create_of_a_list_are_tracked_per_record(mongo: Any) -> None:
    seen: list[Any] = []
    Article = _article(_watching(seen))

    async def scenario() -> None:
        made = await Article.create(
            [{"title": "x", "status": "draft"}, {"title": "y", "status": "published"}]
        )
        x, y = made.ids
        assert seen == [("created", x, (None, "x")), ("created", y, (None, "y"))]
        seen.clear()
        assert await (await Article.search([])).unlink()
        assert seen == [("kept", y)]  # the condition held for y only, whose delete it vetoed
        docs = await mongo[Article._name].find({}).to_list(None)
        assert [str(d["_id"]) for d in docs] == [y]

    run(scenario())


def test_earnorms_own_updated_at_is_stamped_by_every_write(mongo: Any) -> None:
    """With EarnORM's default fields, a write that changes nothing still moves updated_at.

    EarnORM's ``write()`` stamps its ``auto_now`` field whatever the values, so
    timestamp's no-op rule cannot hold there: timestamp stamps it with its own
    clock (kept as given), and audit records that change.  Models with
    ``_skip_default_fields = True`` get the no-op rule (tests/plugin_system/test_changes.py).
    """
    clock = Ticking()
    records: list[Any] = []

    @with_plugins(timestamp={"clock": clock}, audit={"sink": records.append})
    class Stamped(BaseModel):
        _name = unique("stamped")
        title = fields.StringField(default="")

    @with_plugins(timestamp={"clock": clock})
    class Own(BaseModel):
        _name = unique("own")
        _skip_default_fields = True
        title = fields.StringField(default="")

    stamps = provided(adapter_for(Stamped), WRITE_STAMPS, PlainStamps)  # EarnORM's capability
    assert stamps.stamps_on_write(Stamped, "updated_at")
    assert not stamps.stamps_on_write(Stamped, "created_at")  # kept as created
    assert not stamps.stamps_on_write(Own, "updated_at")  # the plugin's own field

    async def scenario() -> None:
        note = await Stamped.create({"title": "a"})
        first = await mongo[Stamped._name].find_one({})
        await note.write({"title": "a"})
        second = await mongo[Stamped._name].find_one({})
        assert second["created_at"] == first["created_at"]
        assert second["updated_at"] > first["updated_at"]
        # the plugin's clock, not EarnORM's "now"
        assert datetime.fromisoformat(second["updated_at"]) == clock.now
        assert [r.action for r in records] == ["create", "update"]
        assert set(records[-1].changes) == {"updated_at"}

    run(scenario())


def test_update_fields_mode_writes_only_the_changed_values(mongo: Any, monkeypatch: Any) -> None:
    """``changes={"update_fields": True}``: a write's unchanged values are left out.

    None changed: no ``write()`` at all.
    """
    from earnorm_aop.integrations.earnorm import records

    clock = Ticking()

    @with_plugins(timestamp={"clock": clock}, changes={"update_fields": True})
    class Note(BaseModel):
        _name = unique("note")
        _skip_default_fields = True
        title = fields.StringField(default="")
        views = fields.IntegerField(default=0)

    written: list[dict[str, Any]] = []
    real = records._write

    async def observed(record: Any, vals: dict[str, Any]) -> Any:  # EarnORM's write, watched
        written.append(dict(vals))
        return await real(record, vals)

    monkeypatch.setattr(records, "_write", observed)

    async def scenario() -> None:
        note = await Note.create({"title": "a", "views": 1})
        stamped = (await mongo[Note._name].find_one({}))["updated_at"]
        await note.write({"title": "b", "views": 1})
        assert [sorted(v) for v in written] == [["title", "updated_at"]]
        changed = (await mongo[Note._name].find_one({}))["updated_at"]
        assert changed > stamped
        await note.write({"title": "b", "views": 1})  # all as stored
        assert len(written) == 1  # no write() at all
        doc = await mongo[Note._name].find_one({})
        assert (doc["title"], doc["views"], doc["updated_at"]) == ("b", 1, changed)
        await note.write({"views": 2})
        assert sorted(written[-1]) == ["updated_at", "views"]

    run(scenario())


_VALUES = {"title": ["", "a", "b"], "views": [0, 1, 2]}
_FIELD = st.sampled_from(sorted(_VALUES))
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), _FIELD, st.integers(0, 2)),  # record.field = value
        st.tuples(st.just("write"), _FIELD, st.integers(0, 2)),  # write({field: value})
        st.tuples(st.just("write"), st.none(), st.none()),  # write({})
        st.tuples(st.just("other"), _FIELD, st.integers(0, 2)),  # another writer's change
        st.tuples(st.just("reload"), st.none(), st.none()),  # get(id): a fresh record
    ),
    max_size=10,
)


def test_changes_seen_by_advice_equal_a_reference_diff_of_the_stored_document() -> None:
    """For any assignments, writes, reloads and other writers' changes: before and after
    each write, ``changes`` is the diff of what the write stores against the document
    as stored just before it."""
    seen: list[dict[str, Any]] = []
    runs: list[int] = []
    registry = PluginRegistry()

    @plugin("spy", registry=registry)
    class Spy:
        @hook("before:save")
        def before(self, changes: dict[str, Any]) -> None:
            seen.append(dict(changes))

        @hook("after:save")
        def after(self, changes: dict[str, Any]) -> None:
            seen.append(dict(changes))

    @with_plugins("spy", registry=registry)
    class Doc(BaseModel):
        _name = unique("doc")
        _skip_default_fields = True
        title = fields.StringField(default="")
        views = fields.IntegerField(default=0)

    @settings(max_examples=examples(50), deadline=None)
    @given(steps=_STEPS)
    def check(steps: list[tuple[str, Any, Any]]) -> None:
        run(scenario(steps))
        runs.append(sum(op == "write" for op, _, _ in steps))

    async def scenario(steps: list[tuple[str, Any, Any]]) -> None:
        db = use_mongomock(unique("props"))
        record = await Doc.create({"title": "", "views": 0})
        stored: dict[str, Any] = {"title": "", "views": 0}  # the reference
        assigned: dict[str, Any] = {}  # set on the record since its last write
        seen.clear()
        for op, name, index in steps:
            value = None if name is None else _VALUES[name][index]
            if op == "set":
                setattr(record, name, value)
                assigned[name] = value
            elif op == "write":
                new = {**assigned, **({} if name is None else {name: value})}
                await record.write({} if name is None else {name: value})
                expected = {n: (stored[n], v) for n, v in new.items() if stored[n] != v}
                assert seen == [expected, expected]
                seen.clear()
                stored.update(new)
                assigned.clear()
            elif op == "other":
                await db[Doc._name].update_one({}, {"$set": {name: value}})
                stored[name] = value
            else:
                record = await Doc.get(_pk(record))
                assigned.clear()
        assert seen == []
        (doc,) = await db[Doc._name].find({}).to_list(None)
        assert {n: doc[n] for n in stored} == stored

    check()
    assert len(runs) >= 10 and max(runs) > 0  # the examples ran, writes included
