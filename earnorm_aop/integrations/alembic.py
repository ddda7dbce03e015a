"""Alembic migrations of SQLAlchemy models that get plugins (the ``alembic`` extra).

A plugin's columns are real columns of the model's table (``mapped_column``,
see [`earnorm_aop.integrations.sqlalchemy.fields`][earnorm_aop.integrations.sqlalchemy.fields]), so
autogenerate sees them, with their indexes.  What it cannot know is what the rows already in
the table should hold: that is the plugin's schema
([`earnorm_aop.plugin_system.schema`][earnorm_aop.plugin_system.schema]).  Three things in
``env.py`` make ``alembic revision --autogenerate`` write a revision that applies to a table
with rows::

    from earnorm_aop.integrations import alembic as plugins

    context.configure(
        connection=connection,
        target_metadata=plugins.target_metadata(Base.metadata),  # + the audit table
        **plugins.options(connection),  # backfills, type rendering, batch on SQLite
    )

- [`target_metadata`][earnorm_aop.integrations.alembic.target_metadata] adds the tables plugins
  declare (``audit``'s ``earnorm_aop_audit`` with the ``table`` sink) to the model's metadata;
- [`process_revision_directives`][earnorm_aop.integrations.alembic.process_revision_directives] puts
  ``op.backfill_column(...)`` after the columns a plugin adds (and, for a column that must not be
  empty, adds it nullable, fills it, then makes it ``NOT NULL``);
- [`render_item`][earnorm_aop.integrations.alembic.render_item] writes the plugin's own column types
  as plain SQLAlchemy ones, so the revision imports nothing but ``sqlalchemy``;
- ``render_as_batch`` on SQLite, whose ``ALTER TABLE`` cannot do everything.

For a revision written by hand, ``op.enable_plugin("article", "timestamp")``
adds a plugin's columns, fills them and creates their indexes (in batch
mode on SQLite), and ``op.disable_plugin(...)`` takes them away; each is the
other's reverse.  Importing this module registers the operations.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import MigrateOperation, Operations
from alembic.operations import ops as alembic_ops

from ..errors import PluginError
from ..plugin_system.registry import PluginRegistry, registry
from ..plugin_system.schema import NOW, Backfill, Schema, Table, model_backfill, schema_of
from ..weaving import weaver
from .sqlalchemy.audit import audit_table
from .sqlalchemy.fields import AwareDateTime, column_type

__all__ = [
    "BackfillColumnOp",
    "DisablePluginOp",
    "EnablePluginOp",
    "options",
    "process_revision_directives",
    "render_item",
    "target_metadata",
]

_IMPORT = "import earnorm_aop.integrations.alembic"


# -- the tables plugins declare -------------------------------------------------------


def target_metadata(*metadata: sa.MetaData) -> list[sa.MetaData]:
    """``metadata`` and a MetaData of the tables the plugins woven on their models declare.

    Alembic compares each table of the list with the database, so the audit
    table of ``audit(sink="table")`` is created (and dropped) by the revision
    that adds (or removes) the plugin, like the plugin's columns.
    """
    tables: dict[str, Table] = {}
    for model in _models(metadata):
        for aspect in weaver.effective_aspects(model):
            for table in schema_of(aspect.name, aspect.plugin).tables:
                tables.setdefault(table.name, table)
    known = {t.name for md in metadata for t in md.tables.values()}
    extra = sa.MetaData()
    for name, table in sorted(tables.items()):
        if name not in known:
            _table_for(table, extra)
    return [*metadata, extra]


def _table_for(table: Table, metadata: sa.MetaData) -> sa.Table:
    """The SQLAlchemy table of a plugin's ``table``: ours where we define it, else built."""
    if table.name == audit_table.name:
        return audit_table.to_metadata(metadata)
    columns: list[sa.Column[Any]] = [
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True)
    ]
    for spec in table.columns:
        kind, nullable = column_type(spec, table.name)
        columns.append(sa.Column(spec.name, kind, nullable=nullable or spec.default is None))
    built = sa.Table(table.name, metadata, *columns)
    for index in table.indexes:
        name = index.name or f"ix_{table.name}_{'_'.join(index.fields)}"
        sa.Index(name, *(built.c[f] for f in index.fields), unique=index.unique)
    return built


def _models(metadata: Sequence[sa.MetaData]) -> Iterator[type]:
    """The woven classes mapped to a table of ``metadata``."""
    tables = {id(t) for md in metadata for t in md.tables.values()}
    for model in weaver.woven_classes():
        table = getattr(model, "__table__", None)
        if table is not None and id(table) in tables:
            yield model


# -- autogenerate -----------------------------------------------------------------------


def options(connection: Any = None) -> dict[str, Any]:
    """The ``context.configure(...)`` keywords this integration needs, for ``connection``.

    ``render_as_batch`` is on for SQLite (dropping a column or an index there
    may recreate the table, which batch mode does with the rows).
    """
    sqlite = connection is not None and connection.dialect.name == "sqlite"
    return {
        "process_revision_directives": process_revision_directives,
        "render_item": render_item,
        "render_as_batch": sqlite,
    }


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Our ``AwareDateTime`` as ``sa.DateTime(timezone=True)``: the column the database has.

    Chain it from your own ``render_item``: return its result when it is not ``False``.
    """
    if type_ == "type" and isinstance(obj, AwareDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def process_revision_directives(context: Any, revision: Any, directives: list[Any]) -> None:
    """Backfill the plugin columns an autogenerated revision adds (``env.py``'s hook).

    After the ``add_column`` (or the batch block holding it) of each column a
    plugin woven on the table's model declares a backfill for, it puts
    ``op.backfill_column(...)``; a column that must not be empty is added
    nullable and made ``NOT NULL`` once filled.  Downgrades are unchanged.
    """
    batch = bool(context.opts.get("render_as_batch"))
    for script in directives:
        for upgrade in _upgrades(script):
            upgrade.ops = list(_with_backfills(upgrade.ops, batch))


def _upgrades(script: Any) -> list[Any]:
    return list(script.upgrade_ops_list)  # one per database (multidb templates), else one


def _with_backfills(operations: Iterable[Any], batch: bool) -> Iterator[Any]:
    for operation in operations:
        added = _added_columns(operation)
        yield operation
        after: list[Any] = []
        for table_name, schema, column in added:
            backfill = _backfill_of(table_name, schema, column.name)
            if backfill is None:
                continue
            after.append(_backfill_op(table_name, column.name, backfill, schema))
            if not column.nullable:
                column.nullable = True  # the rows get their value below, then NOT NULL
                after.append(_not_null(table_name, column, schema, batch))
        yield from after


def _added_columns(operation: Any) -> list[tuple[str, str | None, sa.Column[Any]]]:
    if isinstance(operation, alembic_ops.AddColumnOp):
        return [(operation.table_name, operation.schema, operation.column)]
    if isinstance(operation, alembic_ops.ModifyTableOps):
        return [
            (op.table_name, op.schema, op.column)
            for op in operation.ops
            if isinstance(op, alembic_ops.AddColumnOp)
        ]
    return []


def _not_null(table_name: str, column: sa.Column[Any], schema: str | None, batch: bool) -> Any:
    # modify_nullable: AlterColumnOp keeps an unknown ``nullable=`` in ``kw``, which the
    # revision's rendering leaves out (the column would stay nullable).
    alter = alembic_ops.AlterColumnOp(
        table_name, column.name, modify_nullable=False, existing_type=column.type, schema=schema
    )
    if batch:
        return alembic_ops.ModifyTableOps(table_name, [alter], schema=schema)
    return alter


def _backfill_of(table_name: str, schema: str | None, column: str) -> Backfill | None:
    for model in weaver.woven_classes():
        table = getattr(model, "__table__", None)
        if isinstance(table, sa.Table) and (table.name, table.schema) == (table_name, schema):
            found = model_backfill(model, column)
            if found is not None:
                return found
    return None


def _backfill_op(table: str, column: str, backfill: Backfill, schema: str | None) -> Any:
    value = None if backfill.value is NOW else backfill.value
    return BackfillColumnOp(
        table, column, from_column=backfill.from_field, value=value, schema=schema
    )


# -- operations -------------------------------------------------------------------------


@Operations.register_operation("backfill_column")
class BackfillColumnOp(MigrateOperation):
    """``op.backfill_column(table, column, from_column=None, value=None)``: fill empty rows.

    With neither, the rows get the time the migration runs (one time for the
    whole revision); with ``value``, that constant; with ``from_column``, that
    column of the same row (now where it is empty too).  Only rows where the
    column is ``NULL`` change; its reverse does nothing (the downgrade drops
    the column).
    """

    def __init__(
        self,
        table_name: str,
        column_name: str,
        *,
        from_column: str | None = None,
        value: Any = None,
        schema: str | None = None,
    ) -> None:
        if from_column is not None and value is not None:
            raise PluginError(f"backfill_column {column_name!r}: from_column= or value=, not both")
        self.table_name = table_name
        self.column_name = column_name
        self.from_column = from_column
        self.value = value
        self.schema = schema

    @classmethod
    def backfill_column(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str,
        *,
        from_column: str | None = None,
        value: Any = None,
        schema: str | None = None,
    ) -> None:
        """Fill ``column_name`` of the rows where it is empty (see
        [`BackfillColumnOp`][earnorm_aop.integrations.alembic.BackfillColumnOp])."""
        operations.invoke(
            cls(table_name, column_name, from_column=from_column, value=value, schema=schema)
        )

    def reverse(self) -> MigrateOperation:
        return _Nothing()

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("backfill_column", self.table_name, self.column_name)


class _Nothing(MigrateOperation):
    """The reverse of a backfill: the column it filled is dropped by the downgrade."""


@Operations.implementation_for(_Nothing)
def _do_nothing(operations: Operations, operation: _Nothing) -> None:
    return None


@Operations.implementation_for(BackfillColumnOp)
def _backfill(operations: Operations, operation: BackfillColumnOp) -> None:
    now = _now(operations)
    columns: list[sa.ColumnClause[Any]] = [sa.column(operation.column_name)]
    if operation.from_column is not None:
        columns.append(sa.column(operation.from_column))
    table = sa.table(operation.table_name, *columns, schema=operation.schema)
    target = table.c[operation.column_name]
    stamp = sa.literal(now, sa.DateTime(timezone=True))
    if operation.from_column is not None:
        value: Any = sa.func.coalesce(table.c[operation.from_column], stamp)
    elif operation.value is not None:
        value = sa.literal(operation.value)
    else:
        value = stamp
    operations.execute(sa.update(table).where(target.is_(None)).values({target: value}))


def _now(operations: Operations) -> datetime.datetime:
    """One time per migration context (a revision's columns filled together agree)."""
    context = operations.get_context()
    now: datetime.datetime | None = getattr(context, _NOW_ATTRIBUTE, None)
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
        setattr(context, _NOW_ATTRIBUTE, now)
    return now


_NOW_ATTRIBUTE = "_earnorm_aop_backfill_now"


@renderers.dispatch_for(BackfillColumnOp)
def _render_backfill(autogen_context: AutogenContext, operation: BackfillColumnOp) -> str:
    autogen_context.imports.add(f"{_IMPORT}  # noqa: F401 - registers op.backfill_column")
    args = [repr(operation.table_name), repr(operation.column_name)]
    if operation.from_column is not None:
        args.append(f"from_column={operation.from_column!r}")
    if operation.value is not None:
        args.append(f"value={operation.value!r}")
    if operation.schema is not None:
        args.append(f"schema={operation.schema!r}")
    return f"op.backfill_column({', '.join(args)})"


@renderers.dispatch_for(_Nothing)
def _render_nothing(autogen_context: AutogenContext, operation: _Nothing) -> str:
    return "pass  # a backfill has nothing to undo"


# -- enabling and disabling a plugin by hand ------------------------------------------


class _PluginOp(MigrateOperation):
    """What enabling and disabling a plugin on a table both hold (each is the other's reverse)."""

    def __init__(
        self, table_name: str, plugin: str, config: dict[str, Any], schema: str | None = None
    ) -> None:
        self.table_name = table_name
        self.plugin = plugin
        self.config = config
        self.schema = schema


@Operations.register_operation("enable_plugin")
class EnablePluginOp(_PluginOp):
    """``op.enable_plugin(table, plugin, **config)``: add, fill and index a plugin's columns.

    The plugin is looked up by name (the default registry, entry points
    included) and configured as the model will configure it, so the columns
    are named as it names them.  On SQLite the columns go through a batch
    block.  The reverse is [`DisablePluginOp`][earnorm_aop.integrations.alembic.DisablePluginOp].
    """

    @classmethod
    def enable_plugin(
        cls,
        operations: Operations,
        table_name: str,
        plugin: str,
        *,
        schema: str | None = None,
        **config: Any,
    ) -> None:
        """Give the rows of ``table_name`` plugin ``plugin``'s columns, filled and indexed."""
        operations.invoke(cls(table_name, plugin, config, schema))

    def reverse(self) -> MigrateOperation:
        return DisablePluginOp(self.table_name, self.plugin, self.config, self.schema)


@Operations.register_operation("disable_plugin")
class DisablePluginOp(_PluginOp):
    """``op.disable_plugin(table, plugin, **config)``: drop a plugin's indexes and columns."""

    @classmethod
    def disable_plugin(
        cls,
        operations: Operations,
        table_name: str,
        plugin: str,
        *,
        schema: str | None = None,
        **config: Any,
    ) -> None:
        """Drop plugin ``plugin``'s indexes and columns from ``table_name`` (rows stay)."""
        operations.invoke(cls(table_name, plugin, config, schema))

    def reverse(self) -> MigrateOperation:
        return EnablePluginOp(self.table_name, self.plugin, self.config, self.schema)


def _schema_for(
    plugin: str, config: dict[str, Any], table_name: str, plugins: PluginRegistry = registry
) -> Schema:
    """The schema of ``plugin`` configured with ``config`` (as a model naming it would be)."""
    holder = type(f"{table_name}_migration", (), {"__module__": __name__})
    aspect = plugins.aspect_for(plugin, holder, config)
    return schema_of(plugin, aspect.plugin)


def _indexes(table_name: str, schema: Schema) -> list[tuple[str, list[str]]]:
    """(name, columns) of the indexes: each ``index=True`` field's, then the schema's own.

    Named as SQLAlchemy names a column's ``index=True`` (``ix_<table>_<column>``),
    so autogenerate finds the model's and the migration's the same.
    """
    found = [(f"ix_{table_name}_{spec.name}", [spec.name]) for spec in schema.fields if spec.index]
    for index in schema.indexes:
        found.append(
            (index.name or f"ix_{table_name}_{'_'.join(index.fields)}", list(index.fields))
        )
    return found


@Operations.implementation_for(EnablePluginOp)
def _enable(operations: Operations, operation: EnablePluginOp) -> None:
    schema = _schema_for(operation.plugin, operation.config, operation.table_name)
    table, where = operation.table_name, operation.schema
    columns: list[sa.Column[Any]] = [
        sa.Column(spec.name, column_type(spec, table)[0], nullable=True) for spec in schema.fields
    ]
    required = [
        spec
        for spec in schema.fields
        if not column_type(spec, table)[1] and spec.default is not None
    ]
    with _altering(operations, table, where) as alter:
        for column in columns:
            alter.add_column(column)
    for backfill in schema.all_backfills():
        value = None if backfill.value is NOW else backfill.value
        operations.invoke(
            BackfillColumnOp(
                table, backfill.field, from_column=backfill.from_field, value=value, schema=where
            )
        )
    with _altering(operations, table, where) as alter:
        for spec in required:
            alter.alter_column(spec.name, nullable=False, existing_type=column_type(spec, table)[0])
        for name, fields in _indexes(table, schema):
            alter.create_index(name, fields)


@Operations.implementation_for(DisablePluginOp)
def _disable(operations: Operations, operation: DisablePluginOp) -> None:
    schema = _schema_for(operation.plugin, operation.config, operation.table_name)
    table, where = operation.table_name, operation.schema
    with _altering(operations, table, where) as alter:
        for name, _fields in reversed(_indexes(table, schema)):
            alter.drop_index(name)
        for spec in reversed(schema.fields):
            alter.drop_column(spec.name)


class _Plain:
    """``Operations`` with a batch block's signatures (table given once), for non-SQLite."""

    def __init__(self, operations: Operations, table: str, schema: str | None) -> None:
        self._ops, self._table, self._schema = operations, table, schema

    def add_column(self, column: sa.Column[Any]) -> None:
        self._ops.add_column(self._table, column, schema=self._schema)

    def alter_column(self, name: str, **kwargs: Any) -> None:
        self._ops.alter_column(self._table, name, schema=self._schema, **kwargs)

    def create_index(self, name: str, fields: list[str]) -> None:
        self._ops.create_index(name, self._table, fields, schema=self._schema)

    def drop_index(self, name: str) -> None:
        self._ops.drop_index(name, table_name=self._table, schema=self._schema)

    def drop_column(self, name: str) -> None:
        self._ops.drop_column(self._table, name, schema=self._schema)


class _altering:
    """A batch block on SQLite (its ALTER TABLE is limited), plain operations elsewhere."""

    def __init__(self, operations: Operations, table: str, schema: str | None) -> None:
        self._operations, self._table, self._schema = operations, table, schema
        self._batch: Any = None

    def __enter__(self) -> Any:
        if self._operations.get_context().dialect.name == "sqlite":
            self._batch = self._operations.batch_alter_table(self._table, schema=self._schema)
            return self._batch.__enter__()
        return _Plain(self._operations, self._table, self._schema)

    def __exit__(self, *exc: Any) -> None:
        if self._batch is not None:
            self._batch.__exit__(*exc)
