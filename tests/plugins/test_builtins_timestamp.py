"""The ``timestamp`` built-in: created_at once, updated_at on every save and bulk write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _builtin_backends import TickingClock, fixed_clock

from earnorm_aop import PluginConfigError, registry
from earnorm_aop.integrations import adapter_for


def test_first_save_sets_both_stamps_to_one_aware_utc_time(backend: Any) -> None:
    Article = backend.model("timestamp")
    before = datetime.now(UTC)
    a = backend.create(Article, title="a")
    after = datetime.now(UTC)
    assert a.created_at is not None and a.created_at.utcoffset() == timedelta(0)
    assert before <= a.created_at <= after
    assert a.updated_at == a.created_at
    row = backend.rows(Article)[a.id]
    assert row["created_at"] == a.created_at and row["updated_at"] == a.updated_at


def test_later_saves_move_updated_at_only(backend: Any) -> None:
    clock = TickingClock()
    Article = backend.model("timestamp", timestamp={"clock": clock})
    a = backend.create(Article, title="a")
    created = a.created_at
    a.title = "b"
    a.save()
    assert a.created_at == created
    assert a.updated_at == created + timedelta(seconds=1)
    assert backend.rows(Article)[a.id]["updated_at"] == a.updated_at


def test_a_created_at_given_before_the_first_save_is_kept(backend: Any) -> None:
    Article = backend.model("timestamp")
    old = datetime(2000, 1, 1, tzinfo=UTC)
    a = backend.create(Article, created_at=old)
    assert a.created_at == old
    assert a.updated_at > old


def test_field_names_and_clock_path_are_configurable(backend: Any) -> None:
    Article = backend.model(
        "timestamp",
        timestamp={
            "created_field": "born",
            "updated_field": "touched",
            "clock": "_builtin_backends.fixed_clock",
        },
    )
    assert {"born", "touched"} <= set(adapter_for(Article).field_names(Article))
    a = backend.create(Article, title="a")
    assert a.born == a.touched == fixed_clock()
    assert not hasattr(a, "created_at")


def test_the_fields_are_contributed_to_the_model(backend: Any) -> None:
    Article = backend.model("timestamp")
    names = adapter_for(Article).field_names(Article)
    assert "created_at" in names and "updated_at" in names
    assert backend.new(Article).created_at is None


def test_instance_update_writes_updated_at(backend: Any) -> None:
    clock = TickingClock()
    Article = backend.model("timestamp", timestamp={"clock": clock})
    a = backend.create(Article, title="a")
    first = a.updated_at
    backend.update(a, title="b")
    row = backend.rows(Article)[a.id]
    assert row["title"] == "b"
    assert row["updated_at"] == first + timedelta(seconds=1)


def test_bulk_create_stamps_every_object(backend: Any) -> None:
    Article = backend.model("timestamp", timestamp={"clock": "_builtin_backends.fixed_clock"})
    objs = (backend.new(Article, title=t) for t in "xyz")  # a generator: consumed once
    backend.bulk_create(Article, objs)
    rows = backend.rows(Article)
    assert len(rows) == 3
    assert all(r["created_at"] == r["updated_at"] == fixed_clock() for r in rows.values())


def test_bulk_update_sets_updated_at_on_the_matched_rows_only(backend: Any) -> None:
    clock = TickingClock()
    Article = backend.model("timestamp", timestamp={"clock": clock})
    a = backend.create(Article, title="a")
    b = backend.create(Article, title="b")
    stamp_b = b.updated_at
    count = backend.bulk_update(backend.query(Article, title="a"), views=5)
    assert count == 1
    rows = backend.rows(Article)
    assert rows[a.id]["views"] == 5
    assert rows[a.id]["updated_at"] > a.updated_at
    assert rows[b.id]["updated_at"] == stamp_b


def test_bulk_update_keeps_an_explicit_updated_at(backend: Any) -> None:
    Article = backend.model("timestamp")
    a = backend.create(Article, title="a")
    chosen = datetime(2001, 1, 1, tzinfo=UTC)
    backend.bulk_update(backend.query(Article, title="a"), updated_at=chosen)
    assert backend.rows(Article)[a.id]["updated_at"] == chosen


def test_disabling_the_plugin_live_stops_the_stamping(backend: Any) -> None:
    Article = backend.model("timestamp")
    registry.disable("timestamp")
    try:
        a = backend.create(Article, title="a")
        assert a.created_at is None
    finally:
        registry.enable("timestamp")
    b = backend.create(Article, title="b")
    assert b.created_at is not None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"created_field": "x", "updated_field": "x"}, "must differ"),
        ({"updated_field": "not a name"}, "identifiers"),
        ({"clock": "no.such.module.clock"}, "clock"),
        ({"clock": 3}, "clock"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_bad_configuration_fails_at_class_creation(
    backend: Any, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(PluginConfigError, match="timestamp") as info:
        backend.model("timestamp", timestamp=config)
    assert message in str(info.value)


def test_config_schema_documents_each_option() -> None:
    schema = registry.get_plugin("timestamp").config_schema
    props = schema["properties"]
    assert set(props) == {
        "created_field",
        "updated_field",
        "touch_on_noop",
        "clock",
        "backfill_created_from",
        "backfill_updated_from",
    }
    assert props["created_field"]["default"] == "created_at"
    assert all(p.get("description") for p in props.values())
