"""Fields: what an adapter reads, sets and adds on a model's persisted fields.

The part of [`Adapter`][earnorm_aop.adapters.base.Adapter] plugins use to
stay ORM-neutral about fields (``field_names``, ``get_field``, ``snapshot``,
``add_field`` for a field a plugin contributes, ``filter``), with
[`FieldSpec`][earnorm_aop.adapters._fields.FieldSpec], the description of such a field.  Plain
classes and pydantic models are handled here; an ORM's adapter overrides what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AdapterFields", "FieldSpec"]


@dataclass(frozen=True)
class FieldSpec:
    """A field a plugin contributes to the models it is woven onto (``deleted_at``)."""

    name: str
    annotation: Any
    default: Any = None
    index: bool = False


class AdapterFields:
    """The field methods of [`Adapter`][earnorm_aop.adapters.base.Adapter] (see the module doc)."""

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

    def field_aliases(self, model: type, name: str) -> frozenset[str]:
        """Every name field ``name`` is written under (``name`` included).

        Masking reads it, so a field masked by one name is masked under all:
        a foreign key ``patient`` may be written as its column ``patient_id``;
        the primary key as ``pk`` and as its own name.  A plain class's key is read from ``pk``,
        else ``id`` ([`pk`][earnorm_aop.adapters._fields.AdapterFields.pk]).
        """
        if name in ("pk", "id"):
            return frozenset(("pk", "id"))
        return frozenset((name,))

    def add_field(self, model: type, spec: FieldSpec) -> None:
        """Give ``model`` a field it lacks, with its default, before it is used."""
        if self.has_field(model, spec.name):
            return
        if isinstance(getattr(model, "__pydantic_fields__", None), dict):
            _add_pydantic_field(model, spec)
            return
        setattr(model, spec.name, spec.default)
        annotations = dict(getattr(model, "__annotations__", {}))
        annotations[spec.name] = spec.annotation
        model.__annotations__ = annotations

    def remove_field(self, model: type, spec: FieldSpec) -> None:
        """Take back a field [`add_field`][earnorm_aop.adapters._fields.AdapterFields.add_field]
        gave ``model`` (its weave failed afterwards)."""
        if isinstance(getattr(model, "__pydantic_fields__", None), dict):
            _remove_pydantic_field(model, spec)
            return
        if spec.name in vars(model):
            delattr(model, spec.name)
        annotations = vars(model).get("__annotations__")
        if isinstance(annotations, dict) and spec.name in annotations:
            model.__annotations__ = {k: v for k, v in annotations.items() if k != spec.name}

    def hide_rows(self, model: type, visible: Callable[[type], Mapping[str, Any]]) -> None:
        """Make lookups through relations into ``model`` skip the rows its plugins hide.

        ``visible(model)`` gives, when a query is built, the field values of the
        rows the plugins in force show (``{"deleted_at": None}``; empty: none
        hidden).  Called when a plugin declaring ``visible_rows`` is woven.
        Plain: nothing to do (no relations); an ORM with relations adds the
        condition to joins into the many side of a relation
        (``Author.objects.filter(articles__title="x")``).
        """

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

    def pk_reader(self, model: type) -> Callable[[Any], Any]:
        """[`pk`][earnorm_aop.adapters._fields.AdapterFields.pk] for instances of ``model``
        itself, made at weave time (an ORM may read the key's attribute directly)."""
        return self.pk

    def snapshot(self, instance: Any) -> dict[str, Any]:
        """The field values as they are now (taken after load and after save).

        A pydantic model's fields are its fields.  A plain class declares at
        most some annotations, and its users read the attributes its
        ``__init__`` sets (``self.title = title``) as its fields: so its public
        instance attributes count too, wherever they were set; names starting
        with ``_`` never do.
        """
        model = type(instance)
        values = {n: self.get_field(instance, n) for n in self.field_names(model)}
        if not isinstance(getattr(model, "__pydantic_fields__", None), dict):
            for name, value in getattr(instance, "__dict__", {}).items():
                if not name.startswith("_") and name not in values:
                    values[name] = value
        return values

    def filter(self, queryset: Any, **conditions: Any) -> Any:
        """Narrow ``queryset`` to items whose fields equal ``conditions``."""
        return [
            item
            for item in queryset
            if all(self.get_field(item, k) == v for k, v in conditions.items())
        ]


def _add_pydantic_field(model: type, spec: FieldSpec) -> None:
    """Make ``spec`` a real field of pydantic ``model`` and of its subclasses.

    Validated, dumped, settable.  The annotation goes into the model's own
    ``__annotations__`` as well, where pydantic looks for the fields of a
    subclass defined later (``class Sub(Memo): ...`` has ``updated_at`` too);
    subclasses that exist already get the field now.
    """
    from pydantic.fields import FieldInfo

    info = FieldInfo.from_annotated_attribute(spec.annotation, spec.default)
    fields = getattr(model, "__pydantic_fields__")  # noqa: B009
    fields[spec.name] = info
    model.__annotations__ = {**vars(model).get("__annotations__", {}), spec.name: spec.annotation}
    getattr(model, "model_rebuild")(force=True)  # noqa: B009
    for sub in _pydantic_subclasses(model):
        own = getattr(sub, "__pydantic_fields__")  # noqa: B009
        if spec.name not in own:
            own[spec.name] = info
            getattr(sub, "model_rebuild")(force=True)  # noqa: B009


def _remove_pydantic_field(model: type, spec: FieldSpec) -> None:
    """Take back what ``_add_pydantic_field`` added, from the model and its subclasses."""
    annotations = vars(model).get("__annotations__")
    if isinstance(annotations, dict) and spec.name in annotations:
        model.__annotations__ = {k: v for k, v in annotations.items() if k != spec.name}
    fields = getattr(model, "__pydantic_fields__")  # noqa: B009
    if fields.pop(spec.name, None) is not None:
        getattr(model, "model_rebuild")(force=True)  # noqa: B009
    for sub in _pydantic_subclasses(model):
        inherited = spec.name not in vars(sub).get("__annotations__", {})
        if inherited and getattr(sub, "__pydantic_fields__").pop(spec.name, None) is not None:  # noqa: B009
            getattr(sub, "model_rebuild")(force=True)  # noqa: B009


def _pydantic_subclasses(model: type) -> list[type]:
    """Every pydantic subclass of ``model`` (not ``model`` itself), parents before children."""
    found: list[type] = []
    todo: list[type] = list(type.__subclasses__(model))
    while todo:
        sub = todo.pop(0)
        if sub not in found and isinstance(getattr(sub, "__pydantic_fields__", None), dict):
            found.append(sub)
            todo.extend(type.__subclasses__(sub))
    return found
