"""Fields a plugin contributes, as EarnORM fields; EarnORM's automatic timestamps.

EarnORM keeps a model's fields in the class's own ``__fields__`` dict, each
behind an ``AsyncFieldDescriptor`` (``await record.title``); a field added
there after class creation is read, written and converted like a declared one.
"""

from __future__ import annotations

import copy
import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from earnorm.fields import (
    BaseField,
    BooleanField,
    DateField,
    DatetimeField,
    DecimalField,
    FloatField,
    IntegerField,
    JSONField,
    StringField,
    UUIDField,
)

from ...adapters.base import FieldSpec
from ...errors import PluginError
from .state import FieldValue

__all__ = ["add_field", "auto_fields", "created_fields", "store_as_given"]

_FIELD_TYPES: dict[Any, type[BaseField[Any]]] = {
    datetime: DatetimeField,
    date: DateField,
    Decimal: DecimalField,
    uuid.UUID: UUIDField,
    str: StringField,
    int: IntegerField,
    float: FloatField,
    bool: BooleanField,
    dict: JSONField,
    list: JSONField,
}


def _base_type(annotation: Any) -> Any:
    """``datetime | None`` -> ``datetime``; other unions and generics -> their origin."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _base_type(args[0])
    return origin or annotation


def add_field(model: type, spec: FieldSpec) -> None:
    """Add ``spec`` to ``model.__fields__`` behind a descriptor, as ModelMeta does at creation."""
    kind = _FIELD_TYPES.get(_base_type(spec.annotation))
    if kind is None:
        known = ", ".join(sorted(t.__name__ for t in _FIELD_TYPES))
        raise PluginError(
            f"cannot add field {spec.name!r} of type {spec.annotation!r} to EarnORM model "
            f"{model.__qualname__}: the EarnORM adapter maps {known} (declare the field "
            "on the model yourself to use another type)"
        )
    options: dict[str, Any] = {"use_tz": True} if kind is DatetimeField else {}
    field = kind(required=False, default=spec.default, **options)
    field.name = spec.name
    field.model_name = getattr(model, "_name", "")
    env = vars(model).get("_env")
    if env is not None:  # ModelMeta sets env on fields after __init_subclass__
        field.env = env
    vars(model)["__fields__"][spec.name] = field
    setattr(model, spec.name, FieldValue(field))


def auto_fields(model: type) -> list[str]:
    """EarnORM's automatic datetime fields (``created_at``, ``updated_at``) of ``model``."""
    return [
        name
        for name, field in model.__fields__.items()  # type: ignore[attr-defined]
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]


def created_fields(model: type) -> list[str]:
    """Fields EarnORM sets once at creation (``auto_now_add``) and, in 0.1.4, again on write."""
    return [
        name
        for name, field in model.__fields__.items()  # type: ignore[attr-defined]
        if getattr(field, "auto_now_add", False)
    ]


async def store_as_given(field: BaseField[Any], value: Any, backend: str) -> Any:
    """``value`` converted for the database without EarnORM replacing it by "now".

    ``DatetimeField.to_db`` swaps any value of an ``auto_now`` field for the
    current time, so a plugin's clock (or a preserved ``created_at``) would be
    lost; a copy of the field with the automatic flags off converts it as it is.
    """
    plain = copy.copy(field)
    plain.auto_now = False
    plain.auto_now_add = False
    return await plain.to_db(value, backend)
