"""The ``earnorm`` backend: EarnORM (Python 3.12+) on mongomock-motor, one database per backend.

Every EarnORM call is async: the backend runs each operation to completion on
its own event loop, so checks written once for every backend drive EarnORM's
real async methods.  A record is handed to the checks as a
[`Record`][earnorm_aop.testing._earnorm.Record] view: fields as attributes (read without ``await``,
set for the next save), ``save()`` (EarnORM ``create`` / ``write``), ``delete()`` (``unlink``) and
the methods plugins contribute; ``get`` is ``Model.get(id)``, which the adapter
adds (EarnORM's ``browse`` and a read).  EarnORM 0.1.4 has no bulk update or
delete, no instance ``update`` and MongoDB (mongomock) no transactions: the
checks needing them are skipped with that reason.  ``queries()`` records the
MongoDB operations (EarnORM's collection calls).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from ..adapters.base import FieldSpec, adapter_for
from ..plugin_system.model import with_plugins
from ..plugin_system.registry import PluginRegistry
from ..weaving import weaver
from ._base import Backend, Fields, Methods

__all__ = ["NO_BULK", "EarnORMBackend", "Record"]

_names = itertools.count(1)

# Collection methods that reach the database (what queries() records).
_OPERATIONS = frozenset(
    {
        "find",
        "find_one",
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "delete_one",
        "delete_many",
        "count_documents",
        "aggregate",
        "bulk_write",
    }
)

_VERBS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE", "bulk": "UPDATE"}

NO_BULK = (
    "EarnORM 0.1.4 has no query-wide update or delete (its update()/delete() classmethods "
    "take one id and are broken; a recordset's write()/unlink() is a save/delete per record)"
)


class _Counted:
    """A collection that logs each database operation asked of it."""

    def __init__(self, collection: Any, log: list[str]) -> None:
        self._collection = collection
        self._log = log

    def __getattr__(self, name: str) -> Any:
        if name in _OPERATIONS:  # named as SQL, which the tests count
            verb = _VERBS.get(name.split("_")[0], "SELECT")
            self._log.append(f"{verb} {name} {self._collection.name}")
        return getattr(self._collection, name)

    def __getitem__(self, name: str) -> Any:
        return self._collection[name]


class Record:
    """A sync view of one EarnORM record for the behaviour tests."""

    def __init__(self, backend: EarnORMBackend, record: Any) -> None:
        object.__setattr__(self, "_backend", backend)
        object.__setattr__(self, "_record", record)

    def __getattr__(self, name: str) -> Any:
        record = self._record
        adapter = adapter_for(type(record))
        if name == "id":
            return adapter.pk(record)
        if name in type(record).__fields__:
            return adapter.get_field(record, name)
        import inspect

        if inspect.getattr_static(record, name, None) is None:
            raise AttributeError(name)
        value = getattr(record, name)
        if callable(value):
            return lambda *a, **kw: self._backend.settle(value(*a, **kw))
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        adapter_for(self._backend.model_of(self._record)).set_field(self._record, name, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self.id == other.id

    __hash__ = None  # type: ignore[assignment]

    def save(self) -> Any:
        from ..integrations.earnorm import records

        record = self._record
        values = records.pending(record)
        if record._ids:
            return self._backend.run(record.write(dict(values)))
        return self._backend.run(records.then_saves(record._earnorm_aop_save(values)))

    def delete(self) -> Any:
        """The logical delete's own result (``unlink()`` answers ``True`` for every record)."""
        from ..integrations.earnorm import records

        record = self._record
        self._backend.run(records.load(record))  # as unlink() does first
        # The saves its advice asked for without await (record.save()), as unlink() does.
        return self._backend.run(records.then_saves(record._earnorm_aop_delete()))


class EarnORMBackend(Backend):
    """Models on a fresh mongomock-motor database, driven through EarnORM's async API."""

    name = "earnorm"
    # get() of a missing id (integrations.earnorm.NotFound) or of a soft-deleted one.
    NotFound = LookupError

    def __init__(self) -> None:
        from ..integrations.earnorm import use_mongomock

        self.loop = asyncio.new_event_loop()
        self.db = use_mongomock(f"builtins_{next(_names)}")
        self._log: list[str] | None = None
        self._models: list[type] = []
        from earnorm.base.env import Environment

        mongo = Environment.get_instance().adapter
        original = mongo._get_collection

        def counted(model_type: Any) -> Any:
            collection = original(model_type)
            return collection if self._log is None else _Counted(collection, self._log)

        mongo._get_collection = counted

    def run(self, call: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(call)

    def settle(self, value: Any) -> Any:
        """A method's result, run to completion if it is awaitable."""
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            return self.run(value)
        return value

    def model_of(self, record: Any) -> type:
        return type(record)

    def model(
        self,
        *plugins: str,
        fields: Fields | None = None,
        methods: Methods | None = None,
        registry: PluginRegistry | None = None,
        **configured: Any,
    ) -> Any:
        from earnorm import fields as ef
        from earnorm.base.model.base import BaseModel

        name = f"EarnormArticle{next(_names)}"
        body: dict[str, Any] = {
            "__module__": __name__,
            "__qualname__": name,
            "_name": name,
            # Without EarnORM's own created_at / updated_at, as on the other
            # backends: the timestamp plugin contributes them.
            "_skip_default_fields": True,
            "title": ef.StringField(default=""),
            "views": ef.IntegerField(default=0),
        }
        for method, func in (methods or {}).items():
            body[method] = self._on_view(func)
        model: type = type(name, (BaseModel,), body)
        setattr(sys.modules[__name__], name, model)  # found by pickle (the Redis cache)
        defaults: dict[str, Any] = {"title": "", "views": 0}
        adapter = adapter_for(model)
        adapter.operations(model)  # the façades, even on a model no plugin is woven onto
        for field, (annotation, default) in (fields or {}).items():
            adapter.add_field(model, FieldSpec(field, annotation, default))
            defaults[field] = default
        model._test_defaults = defaults  # type: ignore[attr-defined]
        self._models.append(model)
        return with_plugins(*plugins, registry=registry, **configured)(model)

    def _on_view(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """A test's model method, given a [`Record`][earnorm_aop.testing._earnorm.Record] view
        (fields without ``await``)."""
        backend = self

        def method(record: Any, *args: Any, **kwargs: Any) -> Any:
            return func(Record(backend, record), *args, **kwargs)

        method.__name__ = getattr(func, "__name__", "method")
        return method

    def close(self) -> None:
        for model in self._models:
            weaver.unweave(model)
            vars(sys.modules[__name__]).pop(model.__qualname__, None)
        self._models.clear()
        self.loop.close()

    # -- instances -----------------------------------------------------------------

    def new(self, model: Any, **values: Any) -> Record:
        from ..integrations.earnorm import records

        record = model()
        records.set_pending(record, {**model._test_defaults, **values})
        return Record(self, record)

    def create(self, model: Any, **values: Any) -> Record:
        obj = self.new(model, **values)
        obj.save()
        return obj

    def get(self, model: Any, pk: Any) -> Record:
        """The logical ``get``: ``Model.get(id)``, the record with its stored values."""
        return Record(self, self.run(model.get(pk)))

    def update(self, obj: Any, **values: Any) -> Any:
        pytest.skip("EarnORM has no instance-level update operation (write is the save)")

    # -- querysets -------------------------------------------------------------------

    def queryset(self, model: Any) -> Any:
        pytest.skip(NO_BULK)

    def query(self, model: Any, **conditions: Any) -> Any:
        pytest.skip(NO_BULK)

    def visible(self, model: Any) -> list[Any]:
        return sorted(self.run(model.search([])).ids)

    def bulk_create(self, model: Any, objs: Any) -> Any:
        records = [o._record for o in objs]
        return self.run(model._earnorm_aop_save_many(records))

    def bulk_update(self, queryset: Any, **values: Any) -> Any:
        pytest.skip(NO_BULK)

    def bulk_delete(self, queryset: Any) -> Any:
        pytest.skip(NO_BULK)

    # -- the database underneath -------------------------------------------------------

    def _converted(self, model: Any, doc: dict[str, Any]) -> dict[str, Any]:
        backend = "mongodb"
        row: dict[str, Any] = {"id": str(doc["_id"] if "_id" in doc else doc["id"])}
        for name, field in model.__fields__.items():
            if name != "id":
                row[name] = self.run(field.from_db(doc.get(name), backend))
        return row

    def rows(self, model: Any) -> dict[Any, dict[str, Any]]:
        """Every stored document by id, hidden ones included, read without EarnORM or plugins."""
        docs = self.run(self.db[model._name].find({}).to_list(None))
        return {str(d["_id"]): self._converted(model, d) for d in docs}

    def raw_delete(self, model: Any, pk: Any) -> None:
        from bson import ObjectId

        self.run(self.db[model._name].delete_one({"_id": ObjectId(pk)}))

    def raw_update(self, model: Any, pk: Any, **values: Any) -> None:
        from bson import ObjectId

        stored = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
        self.run(self.db[model._name].update_one({"_id": ObjectId(pk)}, {"$set": stored}))

    @contextmanager
    def queries(self) -> Iterator[list[str]]:
        log: list[str] = []
        self._log = log
        try:
            yield log
        finally:
            self._log = None

    def audit_rows(self, model: Any) -> list[dict[str, Any]]:
        from ..integrations.earnorm.adapter import AUDIT_COLLECTION

        docs = self.run(self.db[AUDIT_COLLECTION].find({"model": model._name}).to_list(None))
        return [
            {
                "model": d["model"],
                "id": d["id"],
                "action": d["action"],
                "changes": {name: tuple(pair) for name, pair in d["changes"].items()},
                "actor": d["actor"],
                # BSON datetimes come back naive (UTC), as pymongo gives them.
                "time": d["time"].replace(tzinfo=UTC) if d["time"].tzinfo is None else d["time"],
                "request_id": d.get("request_id"),
                "client": d.get("client"),
                "reason": d.get("reason"),
            }
            for d in docs
        ]
