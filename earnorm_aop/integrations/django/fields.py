"""Plugin-contributed fields as real Django fields.

A plugin declares a field with a Python annotation (``FieldSpec("deleted_at",
datetime | None, index=True)``); Django needs a ``Field``.  The mapping is the
obvious one (``datetime`` -> ``DateTimeField``, ``str`` -> ``CharField``,
``dict`` -> ``JSONField``...).  ``X | None``, or a default of ``None``, makes
the column nullable (and ``blank``), since the plugin leaves it empty until it
has a value.  Every such field is ``editable=False``: the plugin writes it
(``created_at``, ``deleted_at``), so ModelForms and the admin leave it out, as
they do Django's own ``auto_now`` fields.  A plugin that needs more control
gives a Django field instance as the annotation; it is cloned for each model,
options (``editable`` included) as given.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import functools
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import models

from ...errors import PluginError
from ..base import FieldSpec

__all__ = ["django_field"]

_NONE = type(None)

# Checked in order: bool before int, datetime before date (subclasses first).
_SIMPLE: tuple[tuple[type, Any], ...] = (
    (bool, models.BooleanField),
    (int, models.IntegerField),
    (float, models.FloatField),
    (str, functools.partial(models.CharField, max_length=255)),
    (datetime.datetime, models.DateTimeField),
    (datetime.date, models.DateField),
    (datetime.time, models.TimeField),
    (datetime.timedelta, models.DurationField),
    (uuid.UUID, models.UUIDField),
    (bytes, models.BinaryField),
)
_JSON_ORIGINS: tuple[Any, ...] = (dict, list, tuple, Mapping, Sequence)

# Names a string annotation may use (a plugin module with ``from __future__
# import annotations`` may hand over ``"datetime | None"``).  Never evaluated.
_NAMES: dict[str, Any] = {
    "None": _NONE,
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "bytes": bytes,
    "datetime": datetime.datetime,
    "datetime.datetime": datetime.datetime,
    "date": datetime.date,
    "datetime.date": datetime.date,
    "time": datetime.time,
    "datetime.time": datetime.time,
    "timedelta": datetime.timedelta,
    "datetime.timedelta": datetime.timedelta,
    "UUID": uuid.UUID,
    "uuid.UUID": uuid.UUID,
    "Any": typing.Any,
    "typing.Any": typing.Any,
    "dict": dict,
    "list": list,
    "tuple": tuple,
    "Mapping": Mapping,
    "Sequence": Sequence,
}


def django_field(spec: FieldSpec, where: str = "") -> Any:
    """A new, unbound Django field for ``spec``; ``where`` names the model in errors."""
    if isinstance(spec.annotation, models.Field):
        return spec.annotation.clone()
    base, nullable = _unwrap(spec.annotation, spec, where)
    factory = _factory(base, spec, where)
    # The plugin owns the value: forms and the admin must not offer it for editing.
    options: dict[str, Any] = {"db_index": spec.index, "editable": False}
    if nullable or spec.default is None:
        options["null"] = True
        options["blank"] = True
    if spec.default is not None:
        options["default"] = _default(spec.default)
    return factory(**options)


def _unwrap(annotation: Any, spec: FieldSpec, where: str) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; ``Annotated[X, ...]`` -> X."""
    if isinstance(annotation, str):
        annotation = _parse(annotation, spec, where)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0], spec, where)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not _NONE]
        if len(rest) == 1:
            return rest[0], len(rest) < len(args)
        raise _unsupported(spec, where, "a union of several types")
    return annotation, False


def _parse(text: str, spec: FieldSpec, where: str) -> Any:
    parts = [p.strip() for p in text.replace("Optional[", "").rstrip("]").split("|")]
    if text.strip().startswith("Optional["):
        parts.append("None")
    found = []
    for part in parts:
        head = part.split("[", 1)[0].strip()
        if head not in _NAMES:
            raise _unsupported(spec, where, f"the string annotation {text!r}")
        found.append(_NAMES[head])
    if len(found) == 1:
        return found[0]
    return typing.Union[tuple(found)]  # noqa: UP007 - built from parts at runtime


def _factory(base: Any, spec: FieldSpec, where: str) -> Any:
    if base is typing.Any or base is object:
        return models.JSONField
    origin = typing.get_origin(base) or base
    if isinstance(origin, type):
        for kind, factory in _SIMPLE:
            if issubclass(origin, kind):
                return factory
        if issubclass(origin, decimal.Decimal):
            raise _unsupported(
                spec, where, "Decimal (its precision is not known; annotate with a DecimalField)"
            )
        if origin in _JSON_ORIGINS or issubclass(origin, dict | list):
            return models.JSONField
    raise _unsupported(spec, where, repr(base))


def _default(value: Any) -> Any:
    """A mutable default is copied for each row, as Django asks (fields.E010)."""
    if isinstance(value, dict | list):
        return functools.partial(copy.deepcopy, value)
    return value


def _unsupported(spec: FieldSpec, where: str, what: str) -> PluginError:
    on = f" on {where}" if where else ""
    return PluginError(
        f"field {spec.name!r}{on}: no Django field for {what}; annotate the FieldSpec with "
        "bool, int, float, str, datetime, date, time, timedelta, UUID, bytes, dict/list "
        "(JSON), optionally '| None', or with a Django field instance such as "
        "models.DecimalField(max_digits=10, decimal_places=2)"
    )
