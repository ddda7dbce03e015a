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
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import models

from ...adapters._annotations import UnsupportedAnnotation, unwrap_annotation
from ...adapters.base import FieldSpec
from ...errors import PluginError

__all__ = ["django_field"]


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
    try:
        return unwrap_annotation(annotation)
    except UnsupportedAnnotation as exc:
        raise _unsupported(spec, where, exc.what) from None


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
