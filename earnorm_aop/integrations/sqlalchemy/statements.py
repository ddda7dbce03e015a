"""ORM statements: SELECTs get the plugins' criteria, bulk writes run woven methods.

One ``do_orm_execute`` listener on the ``Session`` class sees every ORM
statement a session executes (``AsyncSession`` through its ``sync_session``):

- a SELECT (``session.execute(select(M))``, ``Session.get`` misses, lazy,
  joined, selectin and subquery relationship loads) is passed through the
  woven ``_earnorm_select`` of every model of this integration that has
  ``get_queryset`` advice: a chain advice narrows it (softdelete's
  ``hide_deleted`` adds ``with_loader_criteria(M, M.deleted_at.is_(None),
  include_aliases=True)``, which reaches joins, aliases and relationship loads
  of M).  Column loads (refreshing an expired attribute, ``session.refresh``)
  are left alone: they must find the row whatever the plugins hide.
- ``update(M)``, ``delete(M)`` and ``insert(M)`` call the model's woven
  ``_earnorm_update_many(rows, **values)``, ``_earnorm_delete_many(rows)`` and
  ``_earnorm_insert_many(objs)``: ``rows`` is a
  [`RowSet`][earnorm_aop.integrations.sqlalchemy.statements.RowSet] (the rows the statement's WHERE
  matches, narrowed by the ``get_queryset`` chain), ``values`` the values the UPDATE sets, ``objs``
  the parameter dictionaries of the INSERT.  The original bodies run the user's own statement,
  extended by the plugins' criteria and the values the advice added or changed
  (``invoke_statement`` of the event's state): RETURNING, dialect clauses,
  prefixes, SQL expressions and execution options stay as the user wrote them.
- ``session.execute(update(M), [dicts])`` (the ORM bulk UPDATE by primary key)
  is one ``_earnorm_update_many`` per dictionary, on its row.

``.execution_options(include_deleted=True)`` (or the library's
``including_deleted()`` block) runs the ``get_queryset`` chain inside
``including_hidden()``, so rows the plugins hide are shown / written.
Statements a woven body runs itself carry
[`ADVISED`][earnorm_aop.integrations.sqlalchemy.statements.ADVISED] and are not advised again.  Core
``Table`` statements and ``Connection.execute`` never reach a ``Session`` event: the plugins do not
see them.
"""

from __future__ import annotations

import contextvars
import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Delete, Update, and_, delete, event, insert, select, update
from sqlalchemy.orm import Mapper, Session, with_loader_criteria
from sqlalchemy.sql.elements import BindParameter, ClauseElement, ColumnElement
from sqlalchemy.sql.selectable import Select

from ...adapters.visibility import including_hidden
from ...plugin_system.gathering import gathering
from . import context

__all__ = [
    "ADVISED",
    "DELETE_MANY",
    "INCLUDE_DELETED",
    "INSERT_MANY",
    "SELECT",
    "UPDATE_MANY",
    "RowSet",
    "install",
    "make_bodies",
    "update_values",
]

SELECT = "_earnorm_select"
GET = "_earnorm_get"
UPDATE_MANY = "_earnorm_update_many"
DELETE_MANY = "_earnorm_delete_many"
INSERT_MANY = "_earnorm_insert_many"

ADVISED = "earnorm_aop_advised"
"""Execution option of statements a woven body runs: not advised a second time."""

INCLUDE_DELETED = "include_deleted"
"""Execution option: ``select(M).execution_options(include_deleted=True)`` shows hidden rows."""

# The ORMExecuteState of the statement being advised, for the original bodies.
_STATE: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "earnorm_aop_sqlalchemy_state", default=None
)

# The model whose get_queryset chain is running (what adapter.filter narrows).
CHAIN_MODEL: contextvars.ContextVar[type | None] = contextvars.ContextVar(
    "earnorm_aop_sqlalchemy_chain_model", default=None
)

# Models whose _earnorm_select may carry advice (weakly; checked per SELECT).
models: weakref.WeakSet[type] = weakref.WeakSet()
_originals: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass
class RowSet:
    """The rows a bulk statement acts on: ``select(model).where(*criteria)`` in ``session``.

    What ``update_many`` / ``delete_many`` advice gets as the queryset.  The
    adapter's ``filter`` narrows it (a new RowSet); ``fetch`` reads its rows as
    detached copies (changing them changes nothing in the session).
    """

    session: Session
    model: type
    criteria: tuple[ColumnElement[Any], ...] = ()
    statement: Any = None  # the user's UPDATE / DELETE, if that is where the rows came from
    options: Mapping[str, Any] = field(default_factory=dict)
    # Shared by the narrowed copies: the Result of the statement that wrote the rows.
    outcome: dict[str, Any] = field(default_factory=dict)
    # How many of ``criteria`` are the statement's own WHERE (the rest: the plugins').
    own: int = 0
    # The values the statement's own UPDATE sets, by attribute name (read once).
    sets: Mapping[str, Any] | None = None

    @property
    def result(self) -> Any:
        return self.outcome.get("result")

    @result.setter
    def result(self, value: Any) -> None:
        self.outcome["result"] = value

    def filter(self, **conditions: Any) -> RowSet:
        extra = tuple(_equals(self.model, k, v) for k, v in conditions.items())
        # As dataclasses.replace() would make it, without reading the fields per call.
        return RowSet(
            self.session,
            self.model,
            self.criteria + extra,
            self.statement,
            self.options,
            self.outcome,
            self.own,
            self.sets,
        )

    def select(self) -> Any:
        return select(self.model).where(*self.criteria)

    def __iter__(self) -> Any:
        return iter(self.fetch())

    def fetch(self) -> list[Any]:
        """The rows now, as detached copies: one SELECT of the mapped columns (not advised)."""
        from sqlalchemy import inspect as sa_inspect

        mapper: Any = sa_inspect(self.model)
        keys = [a.key for a in mapper.column_attrs]
        columns = [getattr(self.model, k) for k in keys]
        statement = select(*columns).where(*self.criteria)
        result = self.session.execute(statement, execution_options={ADVISED: True})
        return [detached(mapper, dict(zip(keys, row, strict=True))) for row in result]


def detached(mapper: Any, values: Mapping[str, Any]) -> Any:
    """A transient instance whose loaded state is ``values`` (in no session)."""
    from sqlalchemy.orm import attributes

    obj = mapper.class_manager.new_instance()
    for name, value in values.items():
        attributes.set_committed_value(obj, name, value)
    return obj


def _equals(model: type, name: str, value: Any) -> ColumnElement[Any]:
    if value is None:
        return _is_null(model, name)
    column = getattr(model, name)
    return column == value  # type: ignore[no-any-return]


# ``column IS NULL`` per model and field, made once: softdelete's criterion, added to
# every SELECT and bulk statement of its models (an SQL expression is immutable).
_null_criteria: weakref.WeakKeyDictionary[type, dict[str, ColumnElement[Any]]] = (
    weakref.WeakKeyDictionary()
)


def _is_null(model: type, name: str) -> ColumnElement[Any]:
    known = _null_criteria.get(model)
    if known is None:
        known = _null_criteria[model] = {}
    found = known.get(name)
    if found is None:
        found = known[name] = getattr(model, name).is_(None)
    return found


def criteria_option(model: type, conditions: Mapping[str, Any]) -> Any:
    """``with_loader_criteria`` keeping the rows of ``model`` whose fields equal ``conditions``."""
    clause = and_(*(_equals(model, k, v) for k, v in conditions.items()))
    return with_loader_criteria(model, clause, include_aliases=True)


class KeywordSelect(Select):  # type: ignore[type-arg]
    """The SELECT ``get_queryset`` advice receives: ``filter()`` also takes keywords.

    ``queryset.filter(deleted_at=None)`` (the plugin page's soft delete, written
    for Django's querysets) is ``filter_by(deleted_at=None)`` here; SQL
    expressions (``filter(M.deleted_at.is_(None))``) work as on any ``Select``.
    Compiled and cached as a ``Select`` (``inherit_cache``).
    """

    inherit_cache = True

    def filter(self, *criteria: Any, **conditions: Any) -> Any:
        narrowed = super().filter(*criteria) if criteria else self
        return narrowed.filter_by(**conditions) if conditions else narrowed


def _answering_keywords(statement: Any) -> Any:
    if type(statement) is not Select:
        return statement
    copy = statement._generate()
    copy.__class__ = KeywordSelect
    return copy


# -- the original bodies ----------------------------------------------------------------


def make_bodies() -> dict[str, Any]:
    """Fresh original classmethods for one model."""

    def _earnorm_select(cls: type, statement: Any) -> Any:
        """A SELECT about to run, woven as ``get_queryset`` (chain advice narrows it).

        It answers ``filter(**kwargs)`` as a Django queryset does
        ([`KeywordSelect`][earnorm_aop.integrations.sqlalchemy.statements.KeywordSelect]).
        """
        return _answering_keywords(statement)

    def _earnorm_update_many(cls: type, rows: RowSet, **values: Any) -> Any:
        """An UPDATE of ``rows`` setting ``values``, woven as ``update_many``; its Result."""
        return _run_update(cls, rows, values)

    def _earnorm_delete_many(cls: type, rows: RowSet) -> Any:
        """A DELETE of ``rows``, woven as ``delete_many``; its Result.

        The user's own DELETE, extended by the plugins' criteria: its RETURNING,
        prefixes and options reach the database as written.
        """
        if isinstance(rows.statement, Delete):
            statement = rows.statement.where(*rows.criteria[rows.own :])
        else:
            statement = delete(cls).where(*rows.criteria)
        rows.result = _invoke(rows, statement)
        return rows.result

    def _earnorm_insert_many(cls: type, objs: list[Any]) -> Any:
        """An INSERT of ``objs`` (new, unsaved instances of ``cls``), woven as ``save_many``."""
        execution = _STATE.get()
        state = None if execution is None else execution.state
        if execution is not None:
            execution.used = True
        rows = [_row_values(obj) for obj in objs]
        statement: Any = insert(cls)
        params: list[dict[str, Any]] | None = rows
        if state is not None and state.is_insert:
            statement, params = _extended_insert(state, rows)
        keys = _returned_keys(cls, statement, rows)
        if keys:
            statement = statement.returning(*keys, sort_by_parameter_order=True)
        if state is None or not isinstance(state.parameters, list):
            # invoke_statement merges params into the event's own: only a list is replaced.
            session = context.SESSION.get() if state is None else state.session
            options = {ADVISED: True}
            if state is not None:
                options = {**state.execution_options, ADVISED: True}
            result = session.execute(statement, params, execution_options=options)
        else:
            result = state.invoke_statement(statement=statement, params=params)
        if keys:
            # The keys the database assigned, in the order of ``objs`` (audit, cache).
            names = [k.key for k in keys]
            for obj, row in zip(objs, result.all(), strict=False):
                for name, value in zip(names, row, strict=True):
                    _give_key(obj, name, value)
        return result

    def _earnorm_get(cls: type, pk: Any) -> Any:
        """``Session.get(cls, pk)`` missing the identity map, woven as ``get``: object or None."""
        execution = _STATE.get()
        if execution is None or execution.used:
            session = context.SESSION.get()
            return None if session is None else session.get(cls, pk)
        execution.used = True
        return execution.state.invoke_statement().unique().scalars().first()

    bodies = {
        GET: _earnorm_get,
        SELECT: _earnorm_select,
        UPDATE_MANY: _earnorm_update_many,
        DELETE_MANY: _earnorm_delete_many,
        INSERT_MANY: _earnorm_insert_many,
    }
    for func in bodies.values():
        _originals.add(func)
    return {name: classmethod(func) for name, func in bodies.items()}  # type: ignore[arg-type]


def _row_values(obj: Any) -> dict[str, Any]:
    """The values an INSERT writes for ``obj`` (a new instance, or already a dict)."""
    if isinstance(obj, Mapping):
        return dict(obj)
    from sqlalchemy.orm.base import instance_state

    state = instance_state(obj)
    keys = {a.key for a in state.mapper.column_attrs}
    return {k: v for k, v in state.dict.items() if k in keys}


def _give_key(obj: Any, name: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj.setdefault(name, value)
        return
    from sqlalchemy.orm import attributes
    from sqlalchemy.orm.base import instance_state

    if name not in instance_state(obj).dict:
        attributes.set_committed_value(obj, name, value)


def _records(mapper: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """New, unsaved instances holding the rows' values: what ``save_many`` advice sees.

    Built without calling the class (its ``__init__`` may do more than set
    attributes); in no session, so what advice changes on them is only what
    the INSERT writes.
    """
    from sqlalchemy.orm import configure_mappers

    configure_mappers()  # a first statement may come before any query configured them
    out = []
    for row in rows:
        obj = mapper.class_manager.new_instance()
        for name, value in row.items():
            setattr(obj, name, value)
        out.append(obj)
    return out


def vetoed() -> Any:
    """The Result of a bulk statement its advice vetoed: no row, ``rowcount`` 0."""
    from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

    result: Any = IteratorResult(SimpleResultMetaData([]), iter([]))
    result.rowcount = 0
    return result


def _returned_keys(model: type, statement: Any, objs: list[dict[str, Any]]) -> list[Any]:
    """Primary key columns to return, when the caller asked for nothing back itself.

    Only where the dialect returns rows of an executemany in parameter order
    (``insertmanyvalues``: SQLite 3.35+, PostgreSQL...).
    """
    from sqlalchemy import inspect as sa_inspect

    if getattr(statement, "_returning", ()) or _inline_values(statement) or not objs:
        return []  # the caller's own RETURNING, or inline VALUES (not sortable by parameter)
    mapper: Any = sa_inspect(model)
    session = context.SESSION.get()
    dialect = None if session is None else session.get_bind(mapper).dialect
    if dialect is None or not getattr(dialect, "insert_executemany_returning", False):
        return []
    keys = [getattr(model, mapper.get_property_by_column(c).key) for c in mapper.primary_key]
    if all(k.key in obj for obj in objs for k in keys):
        return []
    return keys


def _run_update(model: type, rows: RowSet, values: Mapping[str, Any]) -> Any:
    rows.result = _invoke(rows, _update_statement(model, rows, values))
    return rows.result


def _update_statement(model: type, rows: RowSet, values: Mapping[str, Any]) -> Any:
    """The user's UPDATE extended by what the advice added; else a new one.

    The user's statement keeps its RETURNING, prefixes, hints, options and
    expressions; only the plugins' criteria and the values the advice added or
    changed are added to it.  A DELETE the advice answers with an UPDATE
    (softdelete) returns what the DELETE asked to return.
    """
    statement = rows.statement
    extra = rows.criteria[rows.own :]
    if isinstance(statement, Update):
        own = rows.sets
        if own is None:
            own = update_values(mapper_of(model), statement) or {}
        if own.keys() <= values.keys():
            changed = {k: v for k, v in values.items() if k not in own or own[k] is not v}
            out = statement.where(*extra)
            return out.values(_by_attribute(model, changed)) if changed else out
    out = update(model).where(*rows.criteria).values(**values)
    returning = getattr(statement, "_returning", ())
    if isinstance(statement, Delete | Update) and returning:
        out = out.returning(*returning)
    return out


def _by_attribute(model: type, values: Mapping[str, Any]) -> dict[Any, Any]:
    """``values`` keyed by the mapped attributes (a column may be named otherwise)."""
    return {getattr(model, k): v for k, v in values.items()}


def mapper_of(model: type) -> Mapper[Any]:
    from sqlalchemy import inspect as sa_inspect

    return sa_inspect(model)


def _invoke(rows: RowSet, statement: Any) -> Any:
    """Run ``statement`` as the event's own execution if there is one, else in the session."""
    execution = _STATE.get()
    options = {**rows.options, ADVISED: True}
    if rows.statement is not None:
        own = rows.statement.get_execution_options()
        # An extended statement (a generative copy) has them already, as the same mapping.
        if own and statement.get_execution_options() is not own:
            statement = statement.execution_options(**own)
    if execution is not None and not execution.used:
        execution.used = True
        return execution.state.invoke_statement(statement=statement, execution_options=options)
    return rows.session.execute(statement, execution_options=options)


def _extended_insert(
    state: Any, rows: list[dict[str, Any]]
) -> tuple[Any, list[dict[str, Any]] | None]:
    """The user's INSERT with the values the advice gave; and the parameters to run it with.

    Values given as parameters are passed as the advice left them.  Inline
    ``values()`` stay in the statement: the ones the advice added or replaced
    are set on it (a single row), or the rows replace the statement's own (many),
    so dialect clauses (``on_conflict_do_nothing``), prefixes (``OR IGNORE``),
    RETURNING and SQL expressions reach the database as the user wrote them.
    """
    statement = state.statement
    if not _inline_values(statement):
        return statement, rows
    mapper = state.bind_mapper
    multi: Any = getattr(statement, "_multi_values", ())
    if multi:
        original = [_by_name(mapper, row) for batch in multi for row in batch]
        out = statement._generate()
        out._multi_values = ()
        out._values = None
        if _plain(statement, rows):  # run as an executemany: the keys come back in order
            return out, rows
        if _same_rows(original, rows):
            return statement, None
        return out.values(rows), None
    if _plain(statement, rows):  # as parameters: the key the database gives comes back
        out = statement._generate()
        out._values = None
        return out, rows
    own = _by_name(mapper, statement._values)
    (row,) = rows
    if not own.keys() <= row.keys():
        return insert(mapper.class_).values(**row), None
    changed = {k: v for k, v in row.items() if k not in own or own[k] is not v}
    return (statement.values(_by_attribute(mapper.class_, changed)) if changed else statement), None


def _plain(statement: Any, rows: list[dict[str, Any]]) -> bool:
    """No clause, prefix or RETURNING of the user's, no SQL expression: parameters will do."""
    if statement._post_values_clause is not None or statement._prefixes:
        return False
    if getattr(statement, "_returning", ()):
        return False
    return not any(isinstance(v, ClauseElement) for row in rows for v in row.values())


def _same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """The same keys and the very same values (SQL expressions are not compared by ``==``)."""
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(x[k] is y[k] for k in x) for x, y in zip(a, b, strict=True)
    )


def _has_advice(model: type, name: str) -> bool:
    found = vars(model).get(name)
    if found is None:
        for klass in model.__mro__[1:]:
            if name in vars(klass):
                found = vars(klass)[name]
                break
    # By type first: a woven wrapper compares and hashes as what it wraps.
    return found is not None and not (type(found) is classmethod and found.__func__ in _originals)


# -- what an UPDATE / INSERT sets ------------------------------------------------------


def update_values(mapper: Mapper[Any], statement: Any) -> dict[str, Any] | None:
    """The values ``statement`` (``update(M).values(...)``) sets, by attribute name.

    SQLAlchemy has no public accessor for them: the statement keeps them in
    ``_values`` (2.0 and 2.1), keyed by column, attribute or string, each a
    ``BindParameter`` for a plain value (its ``.value`` is returned) or an SQL
    expression (returned as it is: the adapter's ``is_expression``).  ``None``
    when the statement has none (values given as execute parameters) or uses
    ordered or multiple values.
    """
    raw = getattr(statement, "_values", None)
    if not raw or getattr(statement, "_multi_values", None):
        return None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _attribute_name(mapper, key)
        if name is None:
            return None
        out[name] = value.value if isinstance(value, BindParameter) else value
    return out


def _inline_values(statement: Any) -> bool:
    return bool(getattr(statement, "_values", None) or getattr(statement, "_multi_values", ()))


def _attribute_name(mapper: Mapper[Any], key: Any) -> str | None:
    if isinstance(key, str):
        if key in mapper.attrs:
            return key
        column = mapper.local_table.c.get(key)
        key = column if column is not None else key
        if isinstance(key, str):
            return None
    prop = getattr(key, "property", None)  # an InstrumentedAttribute
    if prop is not None:
        return str(prop.key)
    try:
        return str(mapper.get_property_by_column(key).key)
    except Exception:
        return None


def insert_rows(mapper: Mapper[Any], state: Any) -> list[dict[str, Any]] | None:
    """The rows ``insert(M)`` writes: its parameter list, or its inline ``values()``."""
    params = state.parameters
    statement = state.statement
    if isinstance(params, Sequence) and not isinstance(params, Mapping) and params:
        return [dict(p) for p in params]
    if isinstance(params, Mapping) and params and not _inline_values(statement):
        return [dict(params)]
    multi: Any = getattr(statement, "_multi_values", ())
    if multi:
        rows = []
        for batch in multi:
            for row in batch:
                if not isinstance(row, Mapping):
                    return None
                rows.append(_by_name(mapper, row))
        return rows
    values = getattr(statement, "_values", None)
    if values:
        return [_by_name(mapper, values)]
    return None


def _by_name(mapper: Mapper[Any], values: Mapping[Any, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        name = _attribute_name(mapper, key) or str(key)
        out[name] = value.value if isinstance(value, BindParameter) else value
    return out


# -- the listener -------------------------------------------------------------------------


def _do_orm_execute(state: Any) -> Any:
    options = state.execution_options
    if options.get(ADVISED):
        return None
    unfiltered = bool(options.get(INCLUDE_DELETED))
    if state.is_select:
        if state.is_column_load:
            return None
        pk = _identity_lookup(state)
        _narrow_select(state, unfiltered)
        if pk is not None and _has_advice(state.bind_mapper.class_, GET):
            return _get(state, pk, unfiltered)
        return None
    mapper = state.bind_mapper
    if mapper is None or not (state.is_update or state.is_delete or state.is_insert):
        return None
    model = mapper.class_
    if state.is_insert:
        if _has_advice(model, INSERT_MANY):
            return _insert(state, mapper, model)
        return None
    name = UPDATE_MANY if state.is_update else DELETE_MANY
    if not (_has_advice(model, name) or _has_advice(model, SELECT)):
        return None
    return _bulk(state, mapper, model, name, unfiltered)


def _narrow_select(state: Any, unfiltered: bool) -> None:
    statement = state.statement
    original = statement
    with _scope(state.session, state, unfiltered):
        for model in list(models):
            if _has_advice(model, SELECT):
                token = CHAIN_MODEL.set(model)
                try:
                    statement = getattr(model, SELECT)(statement)
                finally:
                    CHAIN_MODEL.reset(token)
    if statement is not original:
        state.statement = statement


def _identity_lookup(state: Any) -> Any:
    """The primary key of a ``Session.get`` that missed the identity map, else ``None``.

    Such a SELECT has the mapper's own get clause as its only criterion (the
    object SQLAlchemy caches per mapper, ``Mapper._get_clause``: itself on 2.1,
    an annotated copy on 2.0) and the key as its parameters, under the clause's
    own bind names (a ``select(M).where(M.id == 1)`` has inline values instead).
    """
    mapper = state.bind_mapper
    statement = state.statement
    params = state.parameters
    if mapper is None or not isinstance(params, Mapping) or not hasattr(mapper, "_get_clause"):
        return None
    criteria: Any = getattr(statement, "_where_criteria", None) or ()
    clause, binds = mapper._get_clause
    # 2.1 uses the clause itself; 2.0 an annotated copy ({"_orm_adapt": True}).
    if len(criteria) != 1 or not (criteria[0] is clause or criteria[0].compare(clause)):
        return None
    try:
        key = tuple(params[binds[column].key] for column in mapper.primary_key)
    except KeyError:
        return None
    return key[0] if len(key) == 1 else key


def locking_or_refreshing() -> bool:
    """Whether the ``Session.get`` running now locks (``with_for_update``) or refreshes
    (``populate_existing``): a read only the database may answer."""
    execution = _STATE.get()
    if execution is None:
        return False
    state = execution.state
    if getattr(state.statement, "_for_update_arg", None) is not None:
        return True
    options = state.execution_options
    load_options = options.get("_sa_orm_load_options")
    return bool(
        options.get("populate_existing") or getattr(load_options, "_populate_existing", False)
    )


def _get(state: Any, pk: Any, unfiltered: bool) -> Any:
    """Run the woven ``get``; its object (a cache hit: merged in, no SQL) as the Result."""
    from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
    from sqlalchemy.orm import object_session

    model = state.bind_mapper.class_
    with _scope(state.session, state, unfiltered):
        found = getattr(model, GET)(pk)
    if found is not None and object_session(found) is not state.session:
        found = state.session.merge(found, load=False)
    rows = [(found,)] if found is not None else []
    return IteratorResult(SimpleResultMetaData([model.__name__]), iter(rows))


def _bulk(state: Any, mapper: Mapper[Any], model: type, name: str, unfiltered: bool) -> Any:
    statement = state.statement
    criteria = () if statement.whereclause is None else (statement.whereclause,)
    rows = RowSet(state.session, model, criteria, statement, own=len(criteria))
    with _scope(state.session, state, unfiltered):
        rows = getattr(model, SELECT)(rows)
        if name == DELETE_MANY:
            result = getattr(model, DELETE_MANY)(rows)
        else:
            values = update_values(mapper, statement)
            if values is None:  # values passed as parameters (bulk UPDATE by primary key)
                return _by_primary_key(state, mapper, model, rows)
            rows.sets = values
            result = getattr(model, UPDATE_MANY)(rows, **values)
    if isinstance(result, int | tuple) or result is None:
        # softdelete answered a DELETE with an UPDATE: its Result is the statement's;
        # no statement at all: the advice vetoed the write.
        return vetoed() if rows.result is None else rows.result
    return result


def _by_primary_key(state: Any, mapper: Mapper[Any], model: type, rows: RowSet) -> Any:
    """``session.execute(update(M), [dicts])``: each dict an ``update_many`` of its row.

    The ORM bulk UPDATE by primary key sets different values on each row, so
    each dictionary is one woven call (its row narrowed by its key, the other
    keys its values): timestamp stamps it, audit records it, the cache drops
    it, a vetoed row is not written.  Inside a scope whose event state is
    marked used, so each runs as a statement of its own.  The Result: the
    number of rows written as ``rowcount``.
    """
    params = state.parameters
    if not isinstance(params, Sequence) or isinstance(params, Mapping) or not params:
        return None
    keys = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    written = 0
    execution = _STATE.get()

    for row in params:  # all checked before any row is written
        if not all(k in row for k in keys):
            raise ValueError(
                f"{model.__qualname__}: a bulk UPDATE by primary key needs "
                f"{', '.join(keys)} in every parameter dictionary; got {sorted(row)}"
            )

    with gathering():  # the rows' audit records: one INSERT for the statement
        for row in params:
            values = {k: v for k, v in row.items() if k not in keys}
            if execution is not None:
                execution.used = True
            one = replace(rows.filter(**{k: row[k] for k in keys}), outcome={})
            getattr(model, UPDATE_MANY)(one, **values)
            written += getattr(one.result, "rowcount", 0) or 0
    result = vetoed()
    result.rowcount = written
    return result


def _insert(state: Any, mapper: Mapper[Any], model: type) -> Any:
    objs = insert_rows(mapper, state)
    if objs is None:
        return None
    with _scope(state.session, state, False) as execution:
        result = getattr(model, INSERT_MANY)(_records(mapper, objs))
    if not execution.used:
        return vetoed()
    return result


@dataclass
class _Execution:
    """The event's state, and whether a body already ran it (``invoke_statement`` once)."""

    state: Any
    used: bool = False


class _scope:
    """Set the session and the event's state for the woven call; ``unfiltered``: show all."""

    def __init__(self, session: Session, state: Any, unfiltered: bool) -> None:
        self._session = session
        self._state = state
        self._unfiltered = unfiltered

    def __enter__(self) -> _Execution:
        execution = _Execution(self._state)
        self._tokens = (context.SESSION.set(self._session), _STATE.set(execution))
        self._hidden = including_hidden() if self._unfiltered else None
        if self._hidden is not None:
            self._hidden.__enter__()
        return execution

    def __exit__(self, *exc: Any) -> None:
        if self._hidden is not None:
            self._hidden.__exit__(*exc)
        _STATE.reset(self._tokens[1])
        context.SESSION.reset(self._tokens[0])


@functools.cache  # once per process
def install() -> None:
    event.listen(Session, "do_orm_execute", _do_orm_execute)


Hook = Callable[..., Any]
