"""Plugin-contributed fields as SQLAlchemy columns (``mapped_column``).

A plugin declares a field with a Python annotation (``FieldSpec("deleted_at",
datetime | None, index=True)``); SQLAlchemy needs a column type.  The mapping
is the obvious one (``datetime`` -> ``DateTime(timezone=True)``, ``str`` ->
``String``, ``dict`` -> ``JSON``...).  ``X | None`` or a default of ``None``
makes the column nullable.  A plugin that needs more control gives a
SQLAlchemy type (``Numeric(10, 2)``) or type class as the annotation.

The column is added with ``setattr(Model, name, mapped_column(...))``, which a
declarative class turns into a table column, an index and a mapper property
(``create_all`` and Alembic autogenerate see it).  It must happen before the
first query on an engine: compiled statements are cached per mapper.
"""

from __future__ import annotations

import datetime
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Interval,
    LargeBinary,
    String,
    Time,
    Uuid,
)
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from ...adapters._annotations import UnsupportedAnnotation, unwrap_annotation
from ...adapters.base import FieldSpec
from ...errors import PluginError

__all__ = ["AwareDateTime", "column_type", "sqlalchemy_column"]


class AwareDateTime(TypeDecorator[datetime.datetime]):
    """``DateTime(timezone=True)`` that reads back aware UTC datetimes on every database.

    PostgreSQL keeps the offset; SQLite and MySQL store none and return naive
    values.  A plugin's times (``created_at``, ``deleted_at``) are aware UTC,
    so they are stored as UTC and a naive value read back is UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
            if dialect.name != "postgresql":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value


# Checked in order: bool before int, datetime before date (subclasses first).
_SIMPLE: tuple[tuple[type, Any], ...] = (
    (bool, Boolean),
    (int, Integer),
    (float, Float),
    (str, lambda: String(255)),
    (datetime.datetime, lambda: AwareDateTime()),
    (datetime.date, Date),
    (datetime.time, Time),
    (datetime.timedelta, Interval),
    (uuid.UUID, Uuid),
    (bytes, LargeBinary),
)
_JSON: tuple[Any, ...] = (dict, list, tuple, Mapping, Sequence)


def sqlalchemy_column(spec: FieldSpec, where: str = "") -> Any:
    """A new ``mapped_column`` for ``spec``; ``where`` names the model in errors."""
    kind, nullable = column_type(spec, where)
    options: dict[str, Any] = {"nullable": nullable or spec.default is None}
    if spec.index:
        options["index"] = True
    if spec.default is not None:
        options["default"] = spec.default
    return mapped_column(kind, **options)


def column_type(spec: FieldSpec, where: str = "") -> tuple[TypeEngine[Any], bool]:
    """The column type of ``spec`` and whether ``None`` is allowed."""
    annotation = spec.annotation
    if isinstance(annotation, TypeEngine):
        return annotation, True
    if isinstance(annotation, type) and issubclass(annotation, TypeEngine):
        return annotation(), True
    base, nullable = _unwrap(annotation, spec, where)
    origin = typing.get_origin(base) or base
    if isinstance(origin, type):
        for python, factory in _SIMPLE:
            if issubclass(origin, python):
                return factory(), nullable
        if origin in _JSON or issubclass(origin, dict | list):
            return JSON(), nullable
    if base is typing.Any:
        return JSON(), nullable
    raise _unsupported(spec, where, repr(base))


def _unwrap(annotation: Any, spec: FieldSpec, where: str) -> tuple[Any, bool]:
    try:
        return unwrap_annotation(annotation)
    except UnsupportedAnnotation as exc:
        raise _unsupported(spec, where, exc.what) from None


def _unsupported(spec: FieldSpec, where: str, what: str) -> PluginError:
    on = f" on {where}" if where else ""
    return PluginError(
        f"field {spec.name!r}{on}: no SQLAlchemy column type for {what}; annotate the "
        "FieldSpec with bool, int, float, str, datetime, date, time, timedelta, UUID, bytes, "
        "dict/list (JSON), optionally '| None', or with a SQLAlchemy type such as Numeric(10, 2)"
    )
