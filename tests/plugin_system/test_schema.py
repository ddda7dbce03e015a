"""A plugin's schema: fields, indexes, tables and backfill, declared once, checked at weave time."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop import PluginError, PluginRegistry, plugin, with_plugins
from earnorm_aop.adapters.base import FieldSpec
from earnorm_aop.plugin_system.contributions import contributed_fields
from earnorm_aop.plugin_system.schema import NOW, Backfill, Index, Schema, Table, schema_of
from earnorm_aop.plugins.audit import AUDIT_SCHEMA, AuditPlugin
from earnorm_aop.plugins.softdelete import SoftDeletePlugin
from earnorm_aop.plugins.timestamp import TimestampPlugin


def _instance(cls: type, **config: Any) -> Any:
    registry = PluginRegistry()
    registry.register(cls.name, cls)  # type: ignore[attr-defined]

    class Model:
        pass

    return registry.aspect_for(cls.name, Model, config).plugin  # type: ignore[attr-defined]


def test_timestamp_backfills_both_fields_with_now_by_default() -> None:
    schema = schema_of("timestamp", _instance(TimestampPlugin))
    assert [f.name for f in schema.fields] == ["created_at", "updated_at"]
    assert schema.backfill_of("created_at") == Backfill("created_at")
    assert schema.backfill_of("created_at").is_now  # type: ignore[union-attr]
    assert [b.describe() for b in schema.all_backfills()] == ["now", "now"]


def test_timestamp_backfills_from_the_fields_its_config_names() -> None:
    plugin = _instance(TimestampPlugin, created_field="made", backfill_created_from="published")
    schema = schema_of("timestamp", plugin)
    assert schema.backfill_of("made") == Backfill("made", from_field="published")
    assert schema.backfill_of("updated_at") == Backfill("updated_at")
    assert schema.backfill_of("made").describe() == "the value of published"  # type: ignore[union-attr]


def test_timestamp_refuses_a_backfill_source_that_is_no_field_name() -> None:
    with pytest.raises(PluginError, match=r"backfill|identifier"):
        _instance(TimestampPlugin, backfill_created_from="not a name")


def test_softdelete_declares_an_indexed_nullable_field_left_empty() -> None:
    schema = schema_of("softdelete", _instance(SoftDeletePlugin, field="removed_at"))
    (spec,) = schema.fields
    assert (spec.name, spec.index, spec.default) == ("removed_at", True, None)
    assert schema.backfill_of("removed_at") is None
    assert schema.all_backfills() == []


def test_audit_declares_its_table_only_for_the_table_sink() -> None:
    assert schema_of("audit", _instance(AuditPlugin)) == Schema()
    schema = schema_of("audit", _instance(AuditPlugin, sink="table"))
    assert schema.tables == (AUDIT_SCHEMA,)
    assert AUDIT_SCHEMA.name == "earnorm_aop_audit"
    assert [c.name for c in AUDIT_SCHEMA.columns] == [
        "model",
        "object_id",
        "action",
        "changes",
        "actor",
        "time",
        "request_id",
        "client",
        "reason",
    ]
    assert AUDIT_SCHEMA.indexes == (Index(("model",)),)


def test_fields_alone_are_a_schema_with_fields_only() -> None:
    class Legacy:
        fields: ClassVar[dict[str, FieldSpec]] = {"flag": FieldSpec("flag", bool, False)}

    schema = schema_of("legacy", Legacy())
    assert schema.fields == (FieldSpec("flag", bool, False),)
    assert schema.backfill_of("flag") == Backfill("flag", value=False)


def test_a_schema_plugin_contributes_its_fields_to_a_model() -> None:
    registry = PluginRegistry()

    @plugin("reviewed", registry=registry)
    class Reviewed:
        def schema(self) -> Schema:
            return Schema(
                fields=[FieldSpec("reviewed_at", datetime | None)],
                indexes=[Index("reviewed_at")],
                backfills=[Backfill("reviewed_at")],
            )

    @with_plugins("reviewed", registry=registry)
    class Note:
        pass

    assert Note.reviewed_at is None  # type: ignore[attr-defined]
    assert [f.name for f in contributed_fields("reviewed", Reviewed())] == ["reviewed_at"]
    assert schema_of("reviewed", Reviewed()).indexes == (Index(("reviewed_at",)),)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (Schema(backfills=[Backfill("x")]), "names 'x', which is not one of the schema's fields"),
        (
            Schema(fields=[FieldSpec("a", int), FieldSpec("a", str)]),
            "declares field 'a' twice",
        ),
        (Schema(fields=["a"]), "holds FieldSpec objects"),  # type: ignore[list-item]
    ],
)
def test_a_bad_schema_is_refused_at_weave_time(schema: Schema, message: str) -> None:
    registry = PluginRegistry()

    @plugin("bad", registry=registry)
    class Bad:
        def schema(self) -> Schema:
            return schema

    with pytest.raises(PluginError, match=message):

        @with_plugins("bad", registry=registry)
        class Model:
            pass


def test_schema_must_return_a_schema() -> None:
    class Wrong:
        def schema(self) -> object:
            return ["a"]

    with pytest.raises(PluginError, match="schema\\(\\) must return"):
        schema_of("wrong", Wrong())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"field": "a b"}, "Backfill.field must be a field name"),
        ({"field": "a", "from_field": "a"}, "from itself"),
        ({"field": "a", "from_field": "b", "value": 1}, "not both"),
        ({"field": "a", "from_field": "1b"}, "Backfill.from_field"),
    ],
)
def test_a_bad_backfill_says_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginError, match=message):
        Backfill(**kwargs)


def test_index_and_table_checks() -> None:
    with pytest.raises(PluginError, match="at least one field"):
        Index(())
    assert Index("a").fields == ("a",)
    table = Table("t", columns=[FieldSpec("a", int)])  # type: ignore[arg-type]
    assert table.columns == (FieldSpec("a", int),)


def test_now_is_one_value() -> None:
    import copy
    import pickle

    assert copy.deepcopy(NOW) is NOW
    assert pickle.loads(pickle.dumps(NOW)) is NOW
    assert repr(NOW) == "NOW"


_names = st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), unique=True, max_size=6)


@given(_names, st.data())
def test_every_field_with_a_default_or_a_backfill_is_filled_in_field_order(
    names: list[str], data: st.DataObject
) -> None:
    defaults = {n: data.draw(st.one_of(st.none(), st.integers())) for n in names}
    declared = data.draw(st.sets(st.sampled_from(names))) if names else set()
    schema = Schema(
        fields=[FieldSpec(n, int | None, defaults[n]) for n in names],
        backfills=[Backfill(n) for n in names if n in declared],
    )
    filled = schema.all_backfills()
    assert [b.field for b in filled] == [
        n for n in names if n in declared or defaults[n] is not None
    ]
    for backfill in filled:
        expected = NOW if backfill.field in declared else defaults[backfill.field]
        assert backfill.value == expected
