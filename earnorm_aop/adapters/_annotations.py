"""Reading a [`FieldSpec`][earnorm_aop.adapters.FieldSpec]'s annotation, for the ORMs that turn it
into a column.

A plugin field says its type with an annotation (``datetime | None``,
``Optional[int]``, ``Annotated[str, ...]``, or the string a module with
``from __future__ import annotations`` hands over).  Every ORM adapter needs
the same two answers from it, the base type and whether ``None`` is allowed,
and then maps the base type onto its own column or field class.
"""

from __future__ import annotations

import datetime
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["UnsupportedAnnotation", "unwrap_annotation"]

_NONE = type(None)

# Names a string annotation may use.  Looked up, never evaluated.
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


class UnsupportedAnnotation(ValueError):
    """An annotation no column can be made from; ``what`` names the part that is not."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def unwrap_annotation(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; ``Annotated[X, ...]`` -> ``(X, False)``; strings parsed."""
    if isinstance(annotation, str):
        annotation = _parse(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return unwrap_annotation(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not _NONE]
        if len(rest) == 1:
            return rest[0], len(rest) < len(args)
        raise UnsupportedAnnotation("a union of several types")
    return annotation, False


def _parse(text: str) -> Any:
    parts = [p.strip() for p in text.replace("Optional[", "").rstrip("]").split("|")]
    if text.strip().startswith("Optional["):
        parts.append("None")
    found = []
    for part in parts:
        head = part.split("[", 1)[0].strip()
        if head not in _NAMES:
            raise UnsupportedAnnotation(f"the string annotation {text!r}")
        found.append(_NAMES[head])
    if len(found) == 1:
        return found[0]
    return typing.Union[tuple(found)]  # noqa: UP007 - built from parts at runtime
