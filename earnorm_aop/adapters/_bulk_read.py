"""What a bulk write stores in each row, split for the one read before it.

A value given to ``update_many`` is either stored as given (under the field's
attname, a related object as its key) or an expression only the database
evaluates, row by row (Django's ``F("views") + 1``, a SQLAlchemy column
expression).  An ORM's ``read_rows`` selects the rows with each expression as
a labelled column, so the database evaluates it in that same query, and gives
each row what the write stores in it: the plain values and that row's
evaluations.  Django and SQLAlchemy select their own way; this is what they share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Adapter

__all__ = ["BulkValues"]


class BulkValues:
    """The values of one bulk write: the plain ones, and the expressions under their labels."""

    __slots__ = ("_attnames", "computed", "plain")

    def __init__(self, adapter: Adapter, model: type, values: Mapping[str, Any]) -> None:
        self.plain: dict[str, Any] = {}  # attname -> the value stored
        # (label, field name, expression): the columns to select, in this order.
        self.computed: list[tuple[str, str, Any]] = []
        self._attnames: list[str] = []
        for i, (name, value) in enumerate(values.items()):
            if adapter.is_expression(value):
                self.computed.append((f"earnorm_aop_value_{i}", name, value))
                self._attnames.append(adapter.attname(model, name))
            else:
                self.plain[adapter.attname(model, name)] = adapter.stored_value(model, name, value)

    def written(self, evaluated: Iterable[Any]) -> dict[str, Any]:
        """What the write stores in one row, given the row's values of ``computed`` in order."""
        row = dict(self.plain)
        row.update(zip(self._attnames, evaluated, strict=True))
        return row
