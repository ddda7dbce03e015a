"""An in-memory database for plain classes and pydantic models, with its adapter.

[`MemoryStore`][earnorm_aop.integrations.memory._store.MemoryStore] is the database: one table per
model (rows are copies of the field values, keyed by primary key), an ``audit`` table, and a log of
every statement it runs, so ``with store.capture() as queries:`` counts queries the
way Django's ``CaptureQueriesContext`` does.
[`MemoryModel`][earnorm_aop.integrations.memory.MemoryModel] gives a class the logical operations in
the plain convention of
[`earnorm_aop.adapters.base`][earnorm_aop.adapters.base]: ``save``, ``delete`` and
``update(**values)`` on instances; ``get(pk)``, ``get_queryset()``,
``save_many(objs)``, ``update_many(queryset, **values)`` and
``delete_many(queryset)`` on the class.  Every built-in plugin therefore works
on it, which makes it the backend of the demo, of the plugin tests and of
small tools that want plugins without a database server.

It behaves like a database, not like a list of objects: reads build fresh
instances from the stored rows (a change is visible to others only once
saved), querysets are lazy and re-read the table when iterated, and
``queryset.update()`` / ``queryset.delete()`` are the bulk operations
``update_many`` / ``delete_many`` — so plugins see them, unlike Django's
``QuerySet.update()`` signals.  Not persistent and not transactional.

::

    store = MemoryStore()

    @with_plugins("timestamp", "softdelete")
    class Note(MemoryModel):
        __store__ = store
        id: int | None = None
        text: str = ""

    Note(text="hi").save()
    Note.get_queryset().filter(text="hi").update(text="hello")

A pydantic model mixes it in the same way: ``class Note(MemoryModel, BaseModel)``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from ...adapters import loads
from ...adapters.base import Adapter, register_adapter
from ...adapters.capabilities import provide
from ...adapters.capability_keys import AUDIT_STORE
from ...plugin_system.masking import MASK, masked_fields
from ._store import (
    Condition,
    IntegrityError,
    MemoryStore,
    default_store,
    parse_conditions,
)

__all__ = [
    "IntegrityError",
    "MemoryAdapter",
    "MemoryModel",
    "MemoryQuerySet",
    "MemoryStore",
    "MultipleFound",
    "NotFound",
    "default_store",
]

M = TypeVar("M", bound="MemoryModel")


class NotFound(LookupError):
    """No row matches a ``get``."""


class MultipleFound(LookupError):
    """Several rows match a ``get`` that expects one."""


class MemoryQuerySet(Iterable[M]):
    """A lazy query on one memory model: conditions now, rows when iterated.

    ``filter`` narrows (``field=value``, ``field__in=[...]``,
    ``field__isnull=True``); iterating, ``count()``, ``exists()``, ``first()``
    and ``get()`` read the table at that moment (no ``len()``: ``list(qs)``
    would run a count before the select); ``update(**values)`` and
    ``delete()`` are the model's bulk operations ``update_many`` /
    ``delete_many``, so plugins advise them.
    """

    def __init__(self, model: type[M], conditions: tuple[Condition, ...] = ()) -> None:
        self.model = model
        self.conditions = conditions

    def __repr__(self) -> str:
        # A condition on a masked field shows the field, not the value it looks for.
        hidden = masked_fields(self.model)
        where = " AND ".join(
            f"{f}__{lk}={MASK if f in hidden and v is not None else repr(v)}"
            for f, lk, v in self.conditions
        )
        return f"<MemoryQuerySet {self.model.__qualname__}{' WHERE ' + where if where else ''}>"

    def filter(self, **conditions: Any) -> MemoryQuerySet[M]:
        return MemoryQuerySet(self.model, self.conditions + parse_conditions(conditions))

    def all(self) -> MemoryQuerySet[M]:
        return MemoryQuerySet(self.model, self.conditions)

    def __iter__(self) -> Iterator[M]:
        model = self.model
        rows = _store(model).select(model, self.conditions)
        return iter([model._from_row(row) for row in rows])

    def count(self) -> int:
        return _store(self.model).count(self.model, self.conditions)

    def exists(self) -> bool:
        return self.count() > 0

    def first(self) -> M | None:
        for item in self:
            return item
        return None

    def pks(self) -> list[Any]:
        """The primary keys of the matching rows (one statement, no instances built)."""
        return _store(self.model).select_pks(self.model, self.conditions)

    def get(self, **conditions: Any) -> M:
        found = list(self.filter(**conditions))
        if not found:
            raise NotFound(f"no {self.model.__qualname__} matches {conditions or 'the query'}")
        if len(found) > 1:
            raise MultipleFound(
                f"{len(found)} {self.model.__qualname__} rows match {conditions or 'the query'}"
            )
        return found[0]

    def update(self, **values: Any) -> int:
        """The bulk operation ``update_many``: set ``values`` on every matching row.

        A write a plugin vetoed (``update_many`` returned ``None``) updated no row.
        """
        return int(self.model.update_many(self, **values) or 0)

    def delete(self) -> int:
        """The bulk operation ``delete_many``: delete every matching row (0 if vetoed)."""
        return int(self.model.delete_many(self) or 0)


def _store(model: type) -> MemoryStore:
    store = getattr(model, "__store__", None)
    return store if isinstance(store, MemoryStore) else default_store


def _pk_name(model: type) -> str:
    return str(getattr(model, "__pk__", "id"))


class MemoryModel:
    """Mixin: instances of the class are rows of a
    [`MemoryStore`][earnorm_aop.integrations.memory._store.MemoryStore].

    Set ``__store__`` to the store (default:
    [`default_store`][earnorm_aop.integrations.memory.default_store]) and ``__pk__`` to the
    primary-key field (default ``"id"``; ``None`` until the first save, then a number).  Fields are
    the class's annotations, or a pydantic model's fields.
    """

    __store__: ClassVar[MemoryStore | None] = None
    __pk__: ClassVar[str] = "id"

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        if isinstance(getattr(cls, "__pydantic_fields__", None), dict):
            import pydantic

            pydantic.BaseModel.__init__(self, **values)  # type: ignore[arg-type]
            return
        names = _ADAPTER.field_names(cls)
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise TypeError(
                f"{cls.__qualname__} has no field {', '.join(map(repr, unknown))}; "
                f"its fields are {', '.join(names)}"
            )
        for name in names:
            setattr(self, name, values[name] if name in values else getattr(cls, name, None))

    @classmethod
    def _from_row(cls: type[M], row: Mapping[str, Any]) -> M:
        """An instance loaded from ``row``; the adapter remembers it as persisted state."""
        data = copy.deepcopy(dict(row))
        construct = getattr(cls, "model_construct", None)
        if construct is not None:
            obj: M = construct(**data)
        else:
            obj = cls.__new__(cls)
            for name, value in data.items():
                setattr(obj, name, value)
        _ADAPTER.remember_state(obj, row)
        loads.notify(cls, obj)
        return obj

    def _check_fields(self, values: Mapping[str, Any]) -> None:
        cls = type(self)
        names = _ADAPTER.field_names(cls)
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise TypeError(f"{cls.__qualname__} has no field {', '.join(map(repr, unknown))}")

    # -- instance operations -----------------------------------------------------

    def save(self) -> None:
        """Insert the instance (giving it a primary key) or write all its fields."""
        cls = type(self)
        pk_name = _pk_name(cls)
        row = _ADAPTER.snapshot(self)
        if row.get(pk_name) is None:
            store = _store(cls)
            row[pk_name] = store.next_pk(cls)
            setattr(self, pk_name, row[pk_name])
            store.insert(cls, [(row[pk_name], row)])
        else:
            _store(cls).write(cls, row[pk_name], row)

    def delete(self) -> int:
        """Delete the row; the instance's primary key becomes ``None`` (as in Django)."""
        cls = type(self)
        pk_name = _pk_name(cls)
        pk = getattr(self, pk_name, None)
        if pk is None:
            raise ValueError(f"{cls.__qualname__} cannot be deleted: its {pk_name} is None")
        count = _store(cls).delete(cls, ((pk_name, "exact", pk),))
        setattr(self, pk_name, None)
        return count

    def update(self, **values: Any) -> None:
        """Set ``values`` on the instance and write only those fields."""
        cls = type(self)
        self._check_fields(values)
        pk_name = _pk_name(cls)
        pk = getattr(self, pk_name, None)
        if pk is None:
            raise ValueError(f"{cls.__qualname__} cannot be updated before its first save")
        for name, value in values.items():
            setattr(self, name, value)
        _store(cls).update(cls, ((pk_name, "exact", pk),), values)

    # -- class operations --------------------------------------------------------

    @classmethod
    def get(cls: type[M], pk: Any) -> M:
        """The instance with primary key ``pk``, through ``get_queryset()``; else NotFound."""
        return cls.get_queryset().get(**{_pk_name(cls): pk})

    @classmethod
    def get_queryset(cls: type[M]) -> MemoryQuerySet[M]:
        """Every row of the model (plugins narrow it: softdelete hides deleted rows)."""
        return MemoryQuerySet(cls)

    @classmethod
    def save_many(cls: type[M], objs: Iterable[M]) -> list[M]:
        """Insert ``objs`` in one statement, giving each a primary key (``bulk_create``)."""
        objs = list(objs)
        store = _store(cls)
        pk_name = _pk_name(cls)
        adapter = _ADAPTER
        rows = []
        for obj in objs:
            row = adapter.snapshot(obj)
            if row.get(pk_name) is None:
                row[pk_name] = store.next_pk(cls)
            rows.append((row[pk_name], row))
        store.insert(cls, rows)
        for obj, (pk, _) in zip(objs, rows, strict=True):
            setattr(obj, pk_name, pk)
        return objs

    @classmethod
    def update_many(cls, queryset: MemoryQuerySet[Any], **values: Any) -> int:
        """Set ``values`` on every row ``queryset`` matches, in one statement; return the count."""
        names = _ADAPTER.field_names(cls)
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise TypeError(f"{cls.__qualname__} has no field {', '.join(map(repr, unknown))}")
        return _store(cls).update(cls, _conditions_of(cls, queryset), values)

    @classmethod
    def delete_many(cls, queryset: MemoryQuerySet[Any]) -> int:
        """Delete every row ``queryset`` matches, in one statement; return the count."""
        return _store(cls).delete(cls, _conditions_of(cls, queryset))


def _conditions_of(model: type, queryset: Any) -> tuple[Condition, ...]:
    if not isinstance(queryset, MemoryQuerySet) or not issubclass(queryset.model, model):
        raise TypeError(
            f"{model.__qualname__}: expected a queryset of {model.__qualname__} "
            f"(from get_queryset()), not {queryset!r}"
        )
    return queryset.conditions


class MemoryAdapter(Adapter):
    """The adapter of [`MemoryModel`][earnorm_aop.integrations.memory.MemoryModel] classes:
    querysets stay lazy, audits go to the store."""

    name = "memory"

    def handles(self, model: type) -> bool:
        return isinstance(model, type) and issubclass(model, MemoryModel)

    def pk(self, instance: Any) -> Any:
        return getattr(instance, _pk_name(type(instance)), None)

    def field_aliases(self, model: type, name: str) -> frozenset[str]:
        """The key field (``__pk__``) is also ``pk``."""
        key = _pk_name(model)
        return frozenset((key, "pk")) if name in (key, "pk") else frozenset((name,))

    def snapshot(self, instance: Any) -> dict[str, Any]:
        """The declared fields only: a row has the table's columns, not every attribute set."""
        return {n: self.get_field(instance, n) for n in self.field_names(type(instance))}

    def watch_loads(self, model: type, watcher: Callable[[Any], None]) -> bool:
        """Every instance built from a row (a queryset's, and ``get``'s, which is quiet)."""
        setattr(model, loads.ATTRIBUTE, staticmethod(watcher))
        return True

    def filter(self, queryset: Any, **conditions: Any) -> Any:
        if isinstance(queryset, MemoryQuerySet):
            return queryset.filter(**conditions)
        return super().filter(queryset, **conditions)

    def pks(self, queryset: Any) -> list[Any]:
        if isinstance(queryset, MemoryQuerySet):
            return queryset.pks()
        return super().pks(queryset)


class MemoryAuditStore:
    """The audit plugin's ``audit store``: the records go to the model's store (``store.audit``)."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    def write_audit_record(self, model: type, record: Mapping[str, Any]) -> None:
        _store(model).write_audit(record)

    def write_audit_records(self, model: type, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        for record in records:
            _store(model).write_audit(record)
        return []


# The store's own adapter: what a row of a memory model is (its fields, its snapshot) is the
# memory database's to say, so its methods use this one, known here, and look nothing up.
_ADAPTER = MemoryAdapter()
register_adapter(_ADAPTER)
provide(MemoryAdapter, AUDIT_STORE, MemoryAuditStore)
