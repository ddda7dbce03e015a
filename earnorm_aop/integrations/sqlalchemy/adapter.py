"""The SQLAlchemy adapter: logical operations, fields and state of mapped classes.

=================  =====================================================
operation          woven on (private methods of the mapped class)
=================  =====================================================
``get``            ``_earnorm_get``: a ``Session.get`` that misses the
                   identity map (what the cache answers)
``save``           ``_earnorm_save``: the flush writing an object of
                   ``session.new`` / ``session.dirty`` (INSERT, UPDATE)
``delete``         ``_earnorm_delete``: the flush deleting an object of
                   ``session.deleted``
``get_queryset``   ``_earnorm_select``: every ORM SELECT (``select(M)``,
                   ``Session.get`` misses, relationship loads), a chain
``save_many``      ``_earnorm_insert_many``: ``session.execute(insert(M),
                   [dicts])``
``update_many``    ``_earnorm_update_many``: ``session.execute(update(M)
                   .where(...).values(...))``
``delete_many``    ``_earnorm_delete_many``: ``session.execute(delete(M)
                   .where(...))``
=================  =====================================================

The listeners that call them are installed once on the ``Session`` class
(``flush.py``, ``statements.py``, ``transactions.py``); the methods are per
model, so weaving, ``explain``, ``trace``, toggles and unweaving work as for
any model.  ``update`` has no SQLAlchemy counterpart (an update is a save),
so a model's own ``update`` method, if any, is woven as it is.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Mapper, object_session
from sqlalchemy.orm.base import instance_state
from sqlalchemy.orm.exc import UnmappedClassError
from sqlalchemy.sql.elements import ClauseElement

from ...adapters import loads
from ...adapters._bulk_read import BulkValues
from ...adapters._operation_cache import OperationCache, Operations
from ...adapters.base import Adapter, FieldSpec
from ...adapters.tracking import UNKNOWN
from ...adapters.visibility import is_unfiltered
from ...errors import PluginError
from . import context, flush, statements, transactions
from .fields import sqlalchemy_column
from .statements import RowSet

__all__ = ["SQLAlchemyAdapter", "adapter"]


_OPERATIONS = {
    "save": flush.SAVE,
    "delete": flush.DELETE,
    "get": statements.GET,
    "get_queryset": statements.SELECT,
    "save_many": statements.INSERT_MANY,
    "update_many": statements.UPDATE_MANY,
    "delete_many": statements.DELETE_MANY,
}


# The database identities cache keys were made with in this process (what writes invalidate).
_identities_seen: set[str] = set()
_identities: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def bind_identity(bind: Any) -> str:
    """The database a bind (engine or connection) reaches, as part of a cache key.

    Its URL without the password (``postgresql+psycopg://app:***@db:5432/shop``):
    every process naming the database by the same URL shares its entries, and
    a session on another database never gets them.  An in-memory SQLite
    database belongs to its engine alone, so its identity names the engine too.
    """
    engine = getattr(bind, "engine", bind)
    found = _identities.get(engine)
    if found is None:
        url = engine.url
        found = url.render_as_string(hide_password=True)
        database = url.database or ""
        if url.get_backend_name() == "sqlite" and (
            database in ("", ":memory:") or "mode=memory" in found
        ):
            found += f"#engine-{id(engine):x}"
        _identities[engine] = found
        _identities_seen.add(found)
    return found


def identities_seen() -> tuple[str, ...]:
    """Every database identity a cache key was made with in this process, sorted."""
    return tuple(sorted(_identities_seen))


def mapper_of(model: type) -> Mapper[Any] | None:
    try:
        found: Any = sa_inspect(model, raiseerr=False)
    except UnmappedClassError:
        return None
    return found if isinstance(found, Mapper) else None


class SQLAlchemyAdapter(Adapter):
    """Maps the logical operations onto private methods of mapped classes, called at flush."""

    name = "sqlalchemy"

    def framework_bases(self) -> tuple[type, ...]:
        """Globs range over a mapped class's own methods, not ``DeclarativeBase``'s."""
        return (*super().framework_bases(), DeclarativeBase)

    # An attribute not loaded (expired after a commit, deferred) is not known.
    unloaded = UNKNOWN
    # A mapped object's history is its persisted state (remember_state): the changes
    # plugin weaves nothing after a save of a mapped class.
    remembers_saves = False

    def __init__(self) -> None:
        self._operations = OperationCache()

    def watch_loads(self, model: type, watcher: Callable[[Any], None]) -> bool:
        """Each object the ORM's ``load`` event reports: the first load into its session.

        An object the session holds already is not loaded again by a query
        (the identity map), so it is not reported again; nor with
        ``populate_existing``, which SQLAlchemy reports as a refresh (so is the
        reload of an expired object's attributes, which no query of the user's
        asked for).  ``Session.get``'s own load is quiet (it fires ``after_access``).
        """
        setattr(model, loads.ATTRIBUTE, staticmethod(watcher))
        if not event.contains(model, "load", _loaded):
            event.listen(model, "load", _loaded, propagate=True)
        return True

    def handles(self, model: type) -> bool:
        return isinstance(model, type) and mapper_of(model) is not None

    def operations(self, model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
        def make() -> Operations:
            install()
            bodies = {**flush.make_bodies(), **statements.make_bodies()}
            for name, body in bodies.items():
                if name not in vars(model):
                    setattr(model, name, body)
            statements.models.add(model)
            return {op: ((model, name),) for op, name in _OPERATIONS.items()}

        return self._operations.get(model, make)

    # -- fields ------------------------------------------------------------------

    def field_names(self, model: type) -> list[str]:
        mapper = mapper_of(model)
        if mapper is None:
            return super().field_names(model)
        return [attr.key for attr in mapper.column_attrs]

    def has_field(self, model: type, name: str) -> bool:
        mapper = mapper_of(model)
        if mapper is not None and name in mapper.attrs:
            return True
        return hasattr(model, name)

    def field_aliases(self, model: type, name: str) -> frozenset[str]:
        """A many-to-one's name and its foreign key columns' (``patient``, ``patient_id``).

        The primary key columns are also ``pk``; a column masked by name masks
        the relationships it is the foreign key of.
        """
        mapper = mapper_of(model)
        if mapper is None:
            return super().field_aliases(model, name)
        key_names = {mapper.get_property_by_column(c).key for c in mapper.primary_key}
        names = {name}
        if name == "pk" or name in key_names:
            names.update(key_names, ("pk",))
        for rel in mapper.relationships:
            if rel.direction.name != "MANYTOONE":
                continue  # only a many-to-one writes its own columns (the foreign key)
            columns = {mapper.get_property_by_column(c).key for c in rel.local_columns}
            if rel.key == name:
                names.update(columns)
            elif name in columns:
                names.add(rel.key)
        return frozenset(names)

    def add_field(self, model: type, spec: FieldSpec) -> None:
        """``setattr(Model, name, mapped_column(...))``: a column, index and mapper property."""
        if self.has_field(model, spec.name):
            return
        setattr(model, spec.name, sqlalchemy_column(spec, model.__qualname__))

    def remove_field(self, model: type, spec: FieldSpec) -> None:
        """Take back a column ``add_field`` gave (its weave failed afterwards), if still possible.

        A mapped class cannot un-map an attribute (SQLAlchemy raises
        ``NotImplementedError``): once mapped, the column stays, unused by any
        plugin, until the class is defined again.
        """
        if spec.name not in vars(model):
            return
        with contextlib.suppress(NotImplementedError):
            delattr(model, spec.name)

    def get_field(self, instance: Any, name: str) -> Any:
        if isinstance(instance, dict):
            return instance.get(name)
        return getattr(instance, name, None)

    def set_field(self, instance: Any, name: str, value: Any) -> None:
        if isinstance(instance, dict):
            instance[name] = value
        else:
            setattr(instance, name, value)

    def pk(self, instance: Any) -> Any:
        if isinstance(instance, dict):
            return instance.get("id")
        state = instance_state(instance)
        if state.identity is not None:
            key = state.identity
        else:
            mapper = state.mapper
            key = tuple(
                state.dict.get(mapper.get_property_by_column(c).key) for c in mapper.primary_key
            )
            if all(k is None for k in key):
                return None
        return key[0] if len(key) == 1 else tuple(key)

    def snapshot(self, instance: Any) -> dict[str, Any]:
        """The loaded column values by attribute name; unloaded (expired) ones are left out."""
        if isinstance(instance, dict):
            return dict(instance)
        state = instance_state(instance)
        values = state.dict
        return {a.key: values[a.key] for a in state.mapper.column_attrs if a.key in values}

    def filter(self, queryset: Any, **conditions: Any) -> Any:
        """A RowSet narrowed by WHERE; a SELECT by ``with_loader_criteria`` (joins, loads)."""
        if isinstance(queryset, RowSet):
            return queryset.filter(**conditions)
        if isinstance(queryset, ClauseElement):
            # The model whose get_queryset chain runs (the listener says), else every
            # model of the statement that has the fields.
            chained = statements.CHAIN_MODEL.get()
            models = [chained] if chained is not None else _entities(queryset)
            out: Any = queryset
            for model in models:
                if all(self.has_field(model, k) for k in conditions):
                    out = out.options(statements.criteria_option(model, conditions))
            return out
        return super().filter(queryset, **conditions)

    # -- what an operation's call means -------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC)

    def has_queryset(self, model: type) -> bool:
        return True

    def queryset(self, model: type) -> Any:
        """``select(model)`` as the ``get_queryset`` chain leaves it (a Select statement)."""
        statement: Any = select(model)
        if is_unfiltered():  # with_deleted(): still unfiltered when it is executed later
            statement = statement.execution_options(**{statements.INCLUDE_DELETED: True})
        token = statements.CHAIN_MODEL.set(model)
        try:
            return getattr(model, statements.SELECT)(statement)
        finally:
            statements.CHAIN_MODEL.reset(token)

    def bulk_objects(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[list[Any], tuple[Any, ...], dict[str, Any]]:
        return super().bulk_objects(args, kwargs)

    def bulk_queryset(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if args:
            return args[0]
        return kwargs.get("rows")

    def is_expression(self, value: Any) -> bool:
        return isinstance(value, ClauseElement)

    def evaluate(self, queryset: Any, values: Mapping[str, Any]) -> dict[Any, dict[str, Any]]:
        """One SELECT of the rows with each value as a labelled column."""
        model = queryset.model
        mapper = mapper_of(model)
        assert mapper is not None
        pk = mapper.primary_key[0]
        labels = [
            (v if self.is_expression(v) else _literal(v)).label(f"v{i}")
            for i, v in enumerate(values.values())
        ]
        statement = select(pk, *labels).where(*queryset.criteria)
        out = {}
        for row in queryset.session.execute(statement, execution_options=_advised()):
            out[row[0]] = dict(zip(values, row[1:], strict=True))
        return out

    def reread(
        self, queryset: Any, pks: Sequence[Any], names: Sequence[str]
    ) -> dict[Any, dict[str, Any]]:
        model = queryset.model
        mapper = mapper_of(model)
        assert mapper is not None
        pk = mapper.primary_key[0]
        columns = [getattr(model, n) for n in names]
        statement = select(pk, *columns).where(pk.in_(list(pks)))
        found: dict[Any, dict[str, Any]] = {}
        for row in queryset.session.execute(statement, execution_options=_advised()):
            found[row[0]] = dict(zip(names, row[1:], strict=True))
        return found

    def with_update_values(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], values: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return tuple(a for a in args if not isinstance(a, Mapping)), dict(values)

    def save_instance(self, instance: Any, fields: Sequence[str] | None = None) -> Any:
        """Write ``instance`` at its session's flush, in the current context (labels).

        Inside a flush (softdelete turning a delete into an update) the object
        is written by that flush; otherwise by the next one.
        """
        session = object_session(instance) or context.SESSION.get()
        if session is None:
            raise PluginError(
                f"{type(instance).__qualname__}: a SQLAlchemy object is saved by its session's "
                "flush, and this one is in no session; session.add() it first"
            )
        flush.capture(instance)
        if not flush.queue_save(session, instance):
            session.add(instance)
        return None

    def delete_instance(self, instance: Any) -> Any:
        """``session.delete(instance)``, deleted at the next flush in the current context."""
        session = object_session(instance)
        if session is None:
            raise PluginError(
                f"{type(instance).__qualname__}: a SQLAlchemy object is deleted by its "
                "session's flush, and this one is in no session"
            )
        flush.capture(instance)
        session.delete(instance)
        return None

    def update_queryset(self, model: type, queryset: Any, values: Mapping[str, Any]) -> Any:
        result = getattr(model, statements.UPDATE_MANY)(queryset, **values)
        return getattr(result, "rowcount", 0)

    def deleted_result(self, model: type, count: int) -> Any:
        return count

    def fetch(self, queryset: Any) -> list[Any]:
        """The rows of a RowSet as detached copies (never the session's own objects)."""
        if isinstance(queryset, RowSet):
            return queryset.fetch()
        return list(queryset)

    def pks(self, queryset: Any) -> list[Any]:
        if isinstance(queryset, RowSet):
            mapper = mapper_of(queryset.model)
            assert mapper is not None
            statement = select(mapper.primary_key[0]).where(*queryset.criteria)
            return list(queryset.session.scalars(statement, execution_options=_advised()))
        return super().pks(queryset)

    # -- caching ----------------------------------------------------------------------

    def lookup_pk(self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """The key of a ``Session.get``; ``None`` for a locking or refreshing one.

        ``with_for_update=True`` must take its lock and ``populate_existing=True``
        must read the row as the database has it: neither may be answered by
        a cache.
        """
        if statements.locking_or_refreshing():
            return None
        return super().lookup_pk(model, args, kwargs)

    # -- transactions ---------------------------------------------------------------

    def session_of(self, subject: Any) -> Any:
        """The session ``subject`` (an instance, a statement's rows) is written in, or None."""
        if isinstance(subject, RowSet):
            return subject.session
        try:
            found = object_session(subject)
        except Exception:
            found = None
        return found or context.SESSION.get()

    def in_transaction(self, model: type, subject: Any) -> bool:
        session = self.session_of(subject)
        return bool(session is not None and session.in_transaction())

    def defer(
        self,
        model: type,
        subject: Any,
        on_commit: Callable[[], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
        *,
        robust: bool = False,
    ) -> None:
        """Queued on the session of ``subject`` (see ``transactions.py``)."""
        transactions.defer(self.session_of(subject), on_commit, on_rollback, robust=robust)

    # -- change tracking ------------------------------------------------------------

    def current_value(self, instance: Any, name: str) -> Any:
        """The loaded value (``state.dict``): an expired attribute is unknown, never loaded."""
        if isinstance(instance, dict):
            return instance.get(name, UNKNOWN)
        if not _is_mapped(instance):
            return super().current_value(instance, name)
        return instance_state(instance).dict.get(name, UNKNOWN)

    def read_rows(
        self,
        model: type,
        queryset: Any,
        values: Mapping[str, Any],
        fields: Collection[str] | None = None,
    ) -> list[tuple[Any, dict[str, Any], dict[str, Any]]]:
        """One SELECT of the rows, each SQL expression a labelled column the database evaluates.

        ``fields``: only those columns, the key's and the written ones (the others
        are not loaded in the rows given to the plugins).
        """
        if not isinstance(queryset, RowSet):
            return super().read_rows(model, queryset, values)
        mapper = mapper_of(model)
        assert mapper is not None
        keys = [a.key for a in mapper.column_attrs]
        if fields is not None:
            wanted = {
                *fields,
                *values,
                *(mapper.get_property_by_column(c).key for c in mapper.primary_key),
            }
            keys = [k for k in keys if k in wanted]
        split = BulkValues(self, model, values)
        labels = [value.label(label) for label, _, value in split.computed]
        columns = [getattr(model, k) for k in keys]
        statement = select(*columns, *labels).where(*queryset.criteria)
        out = []
        result = queryset.session.execute(statement, execution_options=_advised())
        for row in result:
            now = dict(zip(keys, row[: len(keys)], strict=True))
            out.append((statements.detached(mapper, now), now, split.written(row[len(keys) :])))
        return out

    # -- persisted state ------------------------------------------------------------

    def remember_state(self, instance: Any, state: Mapping[str, Any] | None = None) -> None:
        """SQLAlchemy tracks a mapped object's loaded state itself (attribute history)."""
        # A mapped object has its state here (what ``instance_state`` reads): asked
        # inline, as for every write of every flush.
        if getattr(instance, "_sa_instance_state", None) is not None:
            return
        super().remember_state(instance, state)

    def remember_written(self, instance: Any) -> None:
        """Nothing to keep for a mapped object after its save (its history is the state)."""
        if getattr(instance, "_sa_instance_state", None) is None:
            super().remember_written(instance)

    def loaded_state(self, instance: Any) -> dict[str, Any] | None:
        """The committed values of a persistent object (attribute history); a new one: ``None``."""
        state = getattr(instance, "_sa_instance_state", None)  # see remember_state
        if state is None:
            return super().loaded_state(instance)
        during: Any = flush.before_write.get(state, flush.NOT_WRITING)
        if during is not flush.NOT_WRITING:  # its write is running: as before the flush
            return None if during is None else dict(during)
        return flush.committed_state(instance)

    def forget_state(self, instance: Any) -> None:
        if not _is_mapped(instance):
            super().forget_state(instance)

    # -- validation and audit storage ---------------------------------------------------

    def validate(self, instance: Any) -> dict[str, list[str]]:
        """What the columns say of the loaded values: NOT NULL, String length, Python type.

        SQLAlchemy itself checks nothing before the database does (SQLite
        stores ``"many"`` in an INTEGER column); these are the rules its column
        definitions state.  A value computed by the database (an SQL
        expression) is left alone.
        """
        if not _is_mapped(instance):
            return super().validate(instance)
        state = instance_state(instance)
        errors: dict[str, list[str]] = {}
        for attr in state.mapper.column_attrs:
            if attr.key not in state.dict or len(attr.columns) != 1:
                continue
            problem = _column_problem(attr.columns[0], state.dict[attr.key])
            if problem:
                errors.setdefault(attr.key, []).append(problem)
        return errors


def _column_problem(column: Any, value: Any) -> str | None:
    if isinstance(value, ClauseElement):
        return None
    if value is None:
        filled = column.default is not None or column.server_default is not None
        if not column.nullable and not filled and not column.primary_key:
            return "cannot be null"
        return None
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return None
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        return f"must be {expected.__name__}, not {type(value).__name__}"
    length = getattr(column.type, "length", None)
    if isinstance(value, str) and length is not None and len(value) > length:
        return f"must have at most {length} characters"
    return None


def _literal(value: Any) -> Any:
    from sqlalchemy import literal

    return literal(value)


def _advised() -> dict[str, Any]:
    return {statements.ADVISED: True}


def _is_mapped(instance: Any) -> bool:
    try:
        instance_state(instance)
    except Exception:
        return False
    return True


def _entities(statement: Any) -> list[type]:
    """The mapped classes a SELECT's columns come from."""
    found = []
    for description in getattr(statement, "column_descriptions", ()):
        entity = description.get("entity")
        if isinstance(entity, type) and entity not in found:
            found.append(entity)
    return found


@functools.cache  # once per process
def install() -> None:
    """Install the listeners on the ``Session`` class (once)."""
    flush.install()
    statements.install()
    transactions.install()


adapter = SQLAlchemyAdapter()


def _loaded(target: Any, _context: Any) -> None:
    """SQLAlchemy's ``load`` event of a watched model (``watch_loads``)."""
    loads.notify(type(target), target)
