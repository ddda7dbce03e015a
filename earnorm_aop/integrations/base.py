"""The adapter protocol: how plugins talk to one ORM's models.

Pointcuts in plugins name *logical operations* (``save``, ``delete``, ``get``,
``get_queryset``, ``update``, ``save_many``, ``update_many``,
``delete_many``); an adapter says which methods implement each one for a
model, so one plugin serves every ORM.  It also gives plugins a small,
ORM-neutral way to read and set fields, add fields a plugin contributes,
filter a queryset and snapshot an instance's persisted state.

For a plain class every operation is simply the method of that name, so the
plain adapter maps nothing and the weaver uses method names as they are.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OPERATIONS",
    "Adapter",
    "FieldSpec",
    "adapter_for",
    "register_adapter",
]

OPERATIONS = (
    "save",
    "delete",
    "get",
    "get_queryset",
    "update",
    "save_many",
    "update_many",
    "delete_many",
)


@dataclass(frozen=True)
class FieldSpec:
    """A field a plugin contributes to the models it is woven onto (``deleted_at``)."""

    name: str
    annotation: Any
    default: Any = None
    index: bool = False


class Adapter:
    """Base class of ORM adapters; the defaults are those of a plain Python class.

    Subclasses override what their ORM does differently.  ``operations``
    returns, for each logical operation the ORM implements somewhere other
    than a model method of the same name, the ``(owner class, attribute)``
    pairs to weave; each owner must belong to that one model (for Django, a
    per-model subclass of its manager), so weaving never leaks to other models.
    """

    name = "plain"

    def handles(self, model: type) -> bool:
        return True

    def operations(self, model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
        return {}

    # -- fields ------------------------------------------------------------

    def field_names(self, model: type) -> list[str]:
        """The persisted fields of ``model`` (annotations of a plain class, pydantic fields)."""
        fields = getattr(model, "model_fields", None)
        if isinstance(fields, Mapping):
            return list(fields)
        names: list[str] = []
        for klass in reversed(model.__mro__):
            for n in getattr(klass, "__annotations__", {}):
                if not n.startswith("_") and n not in names:
                    names.append(n)
        return names

    def has_field(self, model: type, name: str) -> bool:
        return name in self.field_names(model) or hasattr(model, name)

    def add_field(self, model: type, spec: FieldSpec) -> None:
        """Give ``model`` a field it lacks, with its default, before it is used."""
        if self.has_field(model, spec.name):
            return
        setattr(model, spec.name, spec.default)
        annotations = dict(getattr(model, "__annotations__", {}))
        annotations[spec.name] = spec.annotation
        model.__annotations__ = annotations

    def get_field(self, instance: Any, name: str) -> Any:
        return getattr(instance, name, None)

    def set_field(self, instance: Any, name: str, value: Any) -> None:
        setattr(instance, name, value)

    def pk(self, instance: Any) -> Any:
        for attr in ("pk", "id"):
            value = getattr(instance, attr, None)
            if value is not None:
                return value
        return id(instance)

    def snapshot(self, instance: Any) -> dict[str, Any]:
        """The field values as they are now (taken after load and after save)."""
        return {n: self.get_field(instance, n) for n in self.field_names(type(instance))}

    def filter(self, queryset: Any, **conditions: Any) -> Any:
        """Narrow ``queryset`` to items whose fields equal ``conditions``."""
        return [
            item
            for item in queryset
            if all(self.get_field(item, k) == v for k, v in conditions.items())
        ]


_adapters: list[Adapter] = []
_lock = threading.Lock()
_plain = Adapter()


def register_adapter(adapter: Adapter) -> None:
    """Make ``adapter`` handle the models it claims (later registrations are asked first)."""
    with _lock:
        if all(a is not adapter for a in _adapters):
            _adapters.insert(0, adapter)


def adapter_for(model: type) -> Adapter:
    """The adapter of ``model``: the first registered one that handles it, else the plain one."""
    for adapter in list(_adapters):
        if adapter.handles(model):
            return adapter
    return _plain


def operation_names(model: type) -> Iterable[str]:
    return adapter_for(model).operations(model).keys()
