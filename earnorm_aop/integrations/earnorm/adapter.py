"""The EarnORM adapter: logical operations, fields and record state of EarnORM models.

=================  ======================================================
operation          woven on
=================  ======================================================
``save``           ``_earnorm_aop_save(self, values)``, run by the
                   façades ``create(values)`` (an unsaved record) and
                   ``write(vals)`` (each record of the recordset)
``save_many``      ``_earnorm_aop_save_many(cls, records)``, run by
                   ``create([values, ...])``
``delete``         ``_earnorm_aop_delete(self)``, run by ``unlink()``
                   (each record of the recordset)
``get``            ``get(record_id)``, a classmethod the adapter adds:
                   EarnORM's ``browse`` and a read of the document
``get_queryset``   ``_where_calc(domain)``: the query ``search`` and
                   EarnORM's own writes build
=================  ======================================================

Every EarnORM method is ``async``, so every operation gets async dispatch;
the built-in plugins' sync advice hands its post-write work on to the
awaitable (``plugins/_common.then``), and a plugin may write ``async def``
advice.  Plugins read and set a record's values without ``await``: the
façades read each record's document before its operation runs, and
[`EarnORMAdapter.set_field`][earnorm_aop.integrations.earnorm.adapter.EarnORMAdapter.set_field] sets
the values about to be written. Change tracking: a record's "before" is the document the façade read
before its write (``persisted_state``), its "after" the values about to be written
(``current_value``); EarnORM's own ``auto_now`` fields, which every
``write()`` restamps, are named by the ``stamps on write`` capability
(``capabilities.py``).
``browse`` alone is not ``get``: it builds a recordset from ids without
reading anything; ``read`` returns the raw document and is not woven.
See ``docs/earnorm.md`` for EarnORM's limitations met here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from earnorm.base.model.base import BaseModel

from ...adapters import loads
from ...adapters.base import Adapter, FieldSpec
from ...adapters.tracking import UNKNOWN
from . import fields, queries, records

__all__ = ["EarnORMAdapter", "adapter"]


class EarnORMAdapter(Adapter):
    """Maps the logical operations onto an EarnORM model (see the module docstring)."""

    name = "earnorm"

    def framework_bases(self) -> tuple[type, ...]:
        """Globs range over a model's own methods, not EarnORM ``BaseModel``'s."""
        return (*super().framework_bases(), BaseModel)

    def handles(self, model: type) -> bool:
        return isinstance(model, type) and issubclass(model, BaseModel)

    def operations(self, model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
        records.install(model)
        return {
            "save": ((model, "_earnorm_aop_save"),),
            "save_many": ((model, "_earnorm_aop_save_many"),),
            "delete": ((model, "_earnorm_aop_delete"),),
            "get": ((model, "get"),),
            "get_queryset": ((model, "_where_calc"),),
            # EarnORM's classmethods update() and delete() are broken in 0.1.4:
            # never woven, and there is no bulk update or delete.
            "update": (),
            "update_many": (),
            "delete_many": (),
        }

    # -- fields ------------------------------------------------------------------

    def field_names(self, model: type) -> list[str]:
        return list(model.__fields__)  # type: ignore[attr-defined]

    def add_field(self, model: type, spec: FieldSpec) -> None:
        if not self.has_field(model, spec.name):
            fields.add_field(model, spec)

    def get_field(self, instance: Any, name: str) -> Any:
        """A record's value about to be written, else the one read; a dict's (``read()``) item."""
        if isinstance(instance, Mapping):
            return instance.get(name)
        if name == "id":
            return self.pk(instance)
        values = records.pending(instance)
        if name in values:
            return values[name]
        return (records.state(instance) or {}).get(name)

    def current_value(self, instance: Any, name: str) -> Any:
        """The value about to be written, else the one read (change tracking); else unknown."""
        if isinstance(instance, Mapping):
            return instance.get(name, UNKNOWN)
        if name == "id":
            return self.pk(instance)
        values = records.pending(instance)
        if name in values:
            return values[name]
        return (records.state(instance) or {}).get(name, UNKNOWN)

    def set_field(self, instance: Any, name: str, value: Any) -> None:
        """Set the value the record's write (or next ``save_instance``) writes."""
        if isinstance(instance, dict):
            instance[name] = value
        else:
            records.pending(instance)[name] = value

    def pk(self, instance: Any) -> Any:
        if isinstance(instance, Mapping):
            return instance.get("id")
        ids: tuple[Any, ...] = getattr(instance, "_ids", ())
        return ids[0] if len(ids) == 1 else None

    def snapshot(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, Mapping):
            return dict(instance)
        return {n: self.get_field(instance, n) for n in self.field_names(type(instance))}

    def watch_loads(self, model: type, watcher: Callable[[Any], None]) -> bool:
        """Each record ``search()`` returns (EarnORM's query; its values are not read)."""
        setattr(model, loads.ATTRIBUTE, staticmethod(watcher))
        if "search" not in vars(model):
            setattr(model, "search", records.searching)  # noqa: B010
        return True

    def filter(self, queryset: Any, **conditions: Any) -> Any:
        """An EarnORM query narrowed with a MongoDB filter (``None`` matches a missing field).

        The query's own criteria stay, joined with ``$and`` (``queries.narrowed``).
        """
        if callable(getattr(queryset, "filter", None)) and not isinstance(queryset, list):
            return queries.narrowed(queryset, conditions)
        return super().filter(queryset, **conditions)

    # -- what an operation's call means ---------------------------------------------

    def model_label(self, model: type) -> str:
        """EarnORM's model name, also its collection's (``_name``)."""
        return str(model._name)  # type: ignore[attr-defined]

    def has_queryset(self, model: type) -> bool:
        return True  # the query of _where_calc

    def queryset(self, model: type) -> Any:
        """An awaitable of the default query (through the woven ``_where_calc``)."""
        return model._where_calc([])  # type: ignore[attr-defined]

    def lookup_pk(self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """``get(record_id)``."""
        record_id = args[0] if len(args) == 1 and not kwargs else kwargs.get("record_id")
        return record_id if isinstance(record_id, str) else None

    def with_save_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Sequence[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The save's values with ``names`` set as
        [`set_field`][earnorm_aop.integrations.earnorm.adapter.EarnORMAdapter.set_field] left them.

        They stay the record's pending values (what change tracking reads as
        "about to be written"), as the façades' calls start out.
        """
        kw = dict(kwargs)
        values = dict(args[0] if args else kw.pop("values", {}))
        for name in names:
            values[name] = self.get_field(instance, name)
        if records.is_record(instance):
            records.set_pending(instance, values)
        return (values, *args[1:]), kw

    def saves_nothing(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """A save cut down to its changes (``with_only_fields``) that has none."""
        if not kwargs.get("changed_only"):
            return False
        return not (args[0] if args else kwargs.get("values"))

    def finished(self, model: type, value: Any) -> Any:
        return _resolved(value)

    def read_if_unknown(self, instance: Any) -> Any:
        """An awaitable read of the document of a record that read nothing (``browse``)."""
        if not records.is_record(instance) or records.state(instance) is not None:
            return None
        if len(getattr(instance, "_ids", ())) != 1:
            return None
        return records.load(instance)

    def save_instance(self, instance: Any, fields: Sequence[str] | None = None) -> Any:
        """An awaitable ``write`` of ``fields`` (default: each value set) as set_field left them."""
        names = list(records.pending(instance) if fields is None else fields)
        return instance.write({n: self.get_field(instance, n) for n in names})

    def delete_instance(self, instance: Any) -> Any:
        return instance.unlink()

    # -- persisted state ------------------------------------------------------------------

    def remember_state(self, instance: Any, state: Mapping[str, Any] | None = None) -> None:
        """Record ``state`` (default: the values now) as read and as the tracked state."""
        if records.is_record(instance):
            records.set_state(instance, self.snapshot(instance) if state is None else state)

    def persisted_state(self, instance: Any) -> Mapping[str, Any] | None:
        """The document as read before the write in progress (or as last saved); no copy."""
        if not records.is_record(instance):
            return None
        return records.tracked(instance)

    def loaded_state(self, instance: Any) -> dict[str, Any] | None:
        found = self.persisted_state(instance)
        return None if found is None else dict(found)

    def forget_state(self, instance: Any) -> None:
        if records.is_record(instance):
            records.set_state(instance, None)


AUDIT_COLLECTION = "earnorm_aop_audit"


async def _resolved(value: Any) -> Any:
    return value


adapter = EarnORMAdapter()
