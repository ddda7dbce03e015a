"""The Alembic integration's pieces in this process, on SQLite (batch mode) and PostgreSQL.

``test_sqlalchemy_alembic.py`` runs Alembic's commands on a project with the
built-in plugins.  Here a plugin of the test's own covers what those do not
declare: a column that must not be empty (added nullable, filled with its
default, then ``NOT NULL``), an index over two fields, a table of its own.
``op.enable_plugin`` / ``op.disable_plugin`` run on a real database through
Alembic's ``Operations``; ``process_revision_directives`` rewrites what
``produce_migrations`` (autogenerate's comparison) finds; the backfill and
its reverse render as a revision would show them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("alembic")

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.operations import ops as alembic_ops
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from earnorm_aop import PluginError, plugin, with_plugins
from earnorm_aop.adapters.base import FieldSpec
from earnorm_aop.integrations import alembic as plugins
from earnorm_aop.plugin_system.schema import Index, Schema, Table

RANK = "rank_for_alembic"


class RankPlugin:
    """Every row has a ``rank`` (not empty: 0 for old rows) and an optional indexed ``label``."""

    def schema(self) -> Schema:
        return Schema(
            fields=(
                FieldSpec("rank", int, 0),
                FieldSpec("label", str | None, None, index=True),
            ),
            indexes=(Index(("rank", "label")),),
            tables=(Table("rank_log", (FieldSpec("note", str, ""),), (Index(("note",)),)),),
        )


@pytest.fixture
def rank(default_names: list[str]) -> str:
    """``RankPlugin`` in the default registry (the one ``op.enable_plugin`` looks names up in)."""
    plugin(RANK)(RankPlugin)
    default_names.append(RANK)
    return RANK


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database with table ``item`` holding two rows (ids 1 and 2) and nothing of the plugin."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    else:
        from test_sqlalchemy_alembic import _postgres_url

        url = _postgres_url()
    made = sa.create_engine(url)
    with made.begin() as conn:
        conn.execute(sa.text("CREATE TABLE item (id INTEGER PRIMARY KEY, title VARCHAR(20))"))
        conn.execute(sa.text("INSERT INTO item (id, title) VALUES (1, 'a'), (2, 'b')"))
    yield made
    made.dispose()


def _operations(conn: sa.Connection) -> Operations:
    return Operations(MigrationContext.configure(conn))


def _described(engine: sa.Engine) -> dict[str, Any]:
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM item ORDER BY id"))]
    return {
        "columns": {c["name"]: c["nullable"] for c in inspector.get_columns("item")},
        "indexes": sorted(i["name"] for i in inspector.get_indexes("item")),
        "rows": rows,
    }


def test_enable_plugin_adds_fills_constrains_and_indexes_and_disable_takes_them_away(
    engine: sa.Engine, rank: str
) -> None:
    with engine.begin() as conn:
        _operations(conn).enable_plugin("item", rank)  # type: ignore[attr-defined]
    enabled = _described(engine)
    assert enabled["columns"] == {**enabled["columns"], "rank": False, "label": True}
    assert enabled["indexes"] == ["ix_item_label", "ix_item_rank_label"]
    assert enabled["rows"] == [(1, "a", 0, None), (2, "b", 0, None)]  # old rows get the default

    with engine.begin() as conn:
        _operations(conn).disable_plugin("item", rank)  # type: ignore[attr-defined]
    disabled = _described(engine)
    assert list(disabled["columns"]) == ["id", "title"]
    assert disabled["indexes"] == []
    assert disabled["rows"] == [(1, "a"), (2, "b")]


def test_enable_and_disable_are_each_others_reverse() -> None:
    enable = plugins.EnablePluginOp("item", RANK, {"x": 1}, schema="app")
    disable = enable.reverse()
    assert isinstance(disable, plugins.DisablePluginOp)
    assert vars(disable) == vars(enable)
    again = disable.reverse()
    assert isinstance(again, plugins.EnablePluginOp) and vars(again) == vars(enable)


def test_backfill_with_a_value_fills_only_the_empty_rows_and_its_reverse_changes_nothing(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE item ADD COLUMN score INTEGER"))
        conn.execute(sa.text("UPDATE item SET score = 9 WHERE id = 2"))
    backfill = plugins.BackfillColumnOp("item", "score", value=5)
    with engine.begin() as conn:
        ops = _operations(conn)
        ops.invoke(backfill)
        ops.invoke(backfill.reverse())
    assert _described(engine)["rows"] == [(1, "a", 5), (2, "b", 9)]
    assert backfill.to_diff_tuple() == ("backfill_column", "item", "score")


def test_a_backfill_from_a_column_and_a_value_is_refused() -> None:
    with pytest.raises(
        PluginError, match="backfill_column 'score': from_column= or value=, not both"
    ):
        plugins.BackfillColumnOp("item", "score", from_column="title", value=5)


def test_a_backfill_and_its_reverse_render_as_a_revision_writes_them() -> None:
    backfill = plugins.BackfillColumnOp("item", "score", value=5, schema="app")
    code = render_python_code(alembic_ops.UpgradeOps([backfill, backfill.reverse()]))
    assert "op.backfill_column('item', 'score', value=5, schema='app')" in code
    assert "pass  # a backfill has nothing to undo" in code


@pytest.fixture
def item_model(rank: str) -> type:
    """``Item`` on ``item``, woven with the plugin (its ``rank`` and ``label`` are columns)."""

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str | None] = mapped_column(sa.String(20))

    with_plugins(rank)(Item)
    return Item


@pytest.mark.parametrize("batch", [True, False])
def test_a_required_column_is_added_nullable_filled_then_made_not_null(
    engine: sa.Engine, item_model: type, batch: bool
) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": batch})
        script = produce_migrations(context, item_model.metadata)  # type: ignore[attr-defined]
        plugins.process_revision_directives(context, None, [script])
    (upgrade,) = script.upgrade_ops_list
    kinds = [type(op).__name__ for op in upgrade.ops]
    added = {
        op.column.name: op.column.nullable
        for group in upgrade.ops
        if isinstance(group, alembic_ops.ModifyTableOps)
        for op in group.ops
        if isinstance(op, alembic_ops.AddColumnOp)
    }
    assert added == {"rank": True, "label": True}  # rank is NOT NULL only once filled
    (backfill,) = [op for op in upgrade.ops if isinstance(op, plugins.BackfillColumnOp)]
    assert (backfill.column_name, backfill.value) == ("rank", 0)
    after = upgrade.ops[upgrade.ops.index(backfill) + 1]
    if batch:  # SQLite: in a batch block of its own
        assert isinstance(after, alembic_ops.ModifyTableOps)
        (after,) = after.ops
    assert isinstance(after, alembic_ops.AlterColumnOp), kinds
    assert (after.column_name, after.modify_nullable) == ("rank", False)
    # and the revision says so (an AlterColumnOp given nullable= would render without it)
    code = render_python_code(upgrade)
    assert "op.backfill_column('item', 'rank', value=0)" in code
    assert "'rank',\n" in code and "nullable=False)" in code


def test_a_column_added_outside_a_table_block_is_backfilled_too(item_model: type) -> None:
    column = sa.Column("rank", sa.Integer, nullable=True)
    script = alembic_ops.MigrationScript(
        "rev1",
        alembic_ops.UpgradeOps([alembic_ops.AddColumnOp("item", column)]),
        alembic_ops.DowngradeOps([]),
    )
    context = MigrationContext.configure(dialect_name="postgresql")
    plugins.process_revision_directives(context, None, [script])
    ops = script.upgrade_ops.ops
    assert [type(op).__name__ for op in ops] == ["AddColumnOp", "BackfillColumnOp"]
    assert ops[1].value == 0


def test_target_metadata_adds_each_plugin_table_once(item_model: type, rank: str) -> None:
    @with_plugins(rank)
    class Unmapped:  # woven, but no table of the metadata: ignored
        pass

    metadata = item_model.metadata  # type: ignore[attr-defined]
    (own, extra) = plugins.target_metadata(metadata)
    assert own is metadata
    log = extra.tables["rank_log"]
    assert [c.name for c in log.columns] == ["pk", "note"]
    assert [i.name for i in log.indexes] == ["ix_rank_log_note"]
    # A table the metadata given already has is not added again.
    with_log = sa.MetaData()
    sa.Table("rank_log", with_log, sa.Column("pk", sa.Integer, primary_key=True))
    *_, none_added = plugins.target_metadata(metadata, with_log)
    assert "rank_log" not in none_added.tables
