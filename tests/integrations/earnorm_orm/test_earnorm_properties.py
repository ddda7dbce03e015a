"""Properties of writes through the adapter, for any sequence of values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from _earnorm_helpers import run, unique
from _hypothesis_profiles import examples
from earnorm import fields
from earnorm.base.model.base import BaseModel
from hypothesis import given, settings
from hypothesis import strategies as st

from earnorm_aop import with_plugins
from earnorm_aop.integrations.earnorm import use_mongomock
from earnorm_aop.plugins.audit import AuditRecord

START = datetime(2024, 1, 1, tzinfo=UTC)

values = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=8),
        "views": st.integers(min_value=-(2**31), max_value=2**31),
    },
)


def test_a_document_is_what_was_written_and_audit_holds_each_change() -> None:
    """For any create and writes: the stored document holds the last value of each
    field; created_at never moves, updated_at moves on every write; each audit
    record's changes are exactly the values that differed from the document before."""
    clock: dict[str, Any] = {}
    trail: list[AuditRecord] = []
    runs: list[int] = []

    @with_plugins(timestamp={"clock": lambda: next(clock["ticks"])}, audit={"sink": trail.append})
    class Doc(BaseModel):
        _name = unique("doc")
        title = fields.StringField()
        views = fields.IntegerField()

    @settings(max_examples=examples(30))
    @given(first=values, writes=st.lists(values, max_size=5))
    def check(first: dict[str, Any], writes: list[dict[str, Any]]) -> None:
        clock["ticks"] = iter(START + timedelta(seconds=n) for n in range(1, 100))
        trail.clear()
        run(scenario(first, writes))
        runs.append(len(writes))

    async def scenario(first: dict[str, Any], writes: list[dict[str, Any]]) -> None:
        db = use_mongomock(unique("props"))
        doc = await Doc.create(dict(first))
        expected: dict[str, Any] = {"title": None, "views": None, **first}
        for n, change in enumerate(writes, start=2):
            await doc.write(dict(change))
            before = dict(expected)
            expected.update(change)
            record = trail[-1]
            assert record.action == "update"
            differing = {k: (before[k], v) for k, v in change.items() if before[k] != v}
            stamp = START + timedelta(seconds=n)
            moved = (stamp - timedelta(seconds=1), stamp)
            assert record.changes == {**differing, "updated_at": moved}
        (stored,) = await db[Doc._name].find({}).to_list(None)
        for name, value in expected.items():
            assert stored.get(name) == value
        assert stored["created_at"] == (START + timedelta(seconds=1)).isoformat()
        assert stored["updated_at"] == (START + timedelta(seconds=1 + len(writes))).isoformat()
        assert len(trail) == 1 + len(writes)

    check()
    assert len(runs) >= 10 and max(runs) > 0  # the examples ran, writes included
