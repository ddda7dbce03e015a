"""The database behind [`earnorm_aop.integrations.memory`][earnorm_aop.integrations.memory]: tables
in a dict, a statement log.

Kept apart from the model side (querysets, ``MemoryModel``, the adapter) because
it knows nothing of models beyond their class as a table key: it stores rows,
matches conditions and logs one statement per operation, which is what the
tests count.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Condition", "IntegrityError", "MemoryStore", "default_store", "parse_conditions"]

# Lookups a filter condition may use: ``field=value``, ``field__in=[...]``,
# ``field__isnull=True``.
_LOOKUPS = ("exact", "in", "isnull")


class IntegrityError(ValueError):
    """A row would break the table's primary key (``save_many`` of an existing key)."""


Condition = tuple[str, str, Any]  # (field, lookup, value)


def parse_conditions(conditions: Mapping[str, Any]) -> tuple[Condition, ...]:
    """``filter()`` keywords as conditions: an unknown lookup is refused here, not at the read."""
    out = []
    for key, value in conditions.items():
        field, _, lookup = key.partition("__")
        lookup = lookup or "exact"
        if lookup not in _LOOKUPS:
            raise ValueError(
                f"unsupported lookup {key!r}; the memory store knows "
                f"{', '.join('field__' + x for x in _LOOKUPS)}"
            )
        out.append((field, lookup, value))
    return tuple(out)


def _matches(row: Mapping[str, Any], conditions: Iterable[Condition]) -> bool:
    for field, lookup, value in conditions:
        actual = row.get(field)
        if lookup == "exact" and actual != value:
            return False
        if lookup == "in" and actual not in value:
            return False
        if lookup == "isnull" and (actual is None) != bool(value):
            return False
    return True


class MemoryStore:
    """A database in a dict: tables of rows by primary key, an audit table, a statement log."""

    def __init__(self) -> None:
        self._tables: dict[type, dict[Any, dict[str, Any]]] = {}
        self._counters: dict[type, Iterator[int]] = {}
        self._captures: list[list[str]] = []
        self._lock = threading.RLock()
        self.log: list[str] = []
        """Every statement run, oldest first (``"SELECT Note"``, ``"UPDATE Note (2 rows)"``)."""
        self.audit: list[dict[str, Any]] = []
        """Audit records written by the ``audit`` plugin's ``table`` sink."""

    # -- statements -------------------------------------------------------------

    def _run(self, statement: str) -> None:
        self.log.append(statement)
        for captured in self._captures:
            captured.append(statement)

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Collect the statements run inside the block: ``with store.capture() as q:``."""
        captured: list[str] = []
        with self._lock:
            self._captures.append(captured)
        try:
            yield captured
        finally:
            with self._lock:
                self._captures.remove(captured)

    def table(self, model: type) -> dict[Any, dict[str, Any]]:
        """The rows of ``model`` by primary key (the live table: read it, don't write it)."""
        with self._lock:
            return self._tables.setdefault(model, {})

    def rows(self, model: type) -> list[dict[str, Any]]:
        """Copies of every row of ``model``, hidden ones included; runs no statement."""
        with self._lock:
            return [copy.deepcopy(r) for r in self.table(model).values()]

    def next_pk(self, model: type) -> int:
        with self._lock:
            counter = self._counters.get(model)
            if counter is None:
                start = max((k for k in self.table(model) if isinstance(k, int)), default=0)
                counter = self._counters[model] = itertools.count(start + 1)
            return next(counter)

    def insert(self, model: type, rows: Sequence[tuple[Any, Mapping[str, Any]]]) -> None:
        """Insert ``(pk, row)`` pairs in one statement; an existing key is an IntegrityError."""
        with self._lock:
            table = self.table(model)
            for pk, _ in rows:
                if pk in table:
                    raise IntegrityError(f"{model.__qualname__}: primary key {pk!r} exists")
            self._run(f"INSERT {model.__qualname__} ({len(rows)} rows)")
            for pk, row in rows:
                table[pk] = copy.deepcopy(dict(row))

    def write(self, model: type, pk: Any, row: Mapping[str, Any]) -> None:
        """Replace (or insert) the row of ``pk``."""
        with self._lock:
            table = self.table(model)
            self._run(f"{'UPDATE' if pk in table else 'INSERT'} {model.__qualname__}")
            table[pk] = copy.deepcopy(dict(row))

    def select(self, model: type, conditions: Iterable[Condition] = ()) -> list[dict[str, Any]]:
        """Copies of the rows matching ``conditions``."""
        conditions = tuple(conditions)
        with self._lock:
            self._run(f"SELECT {model.__qualname__}")
            return [copy.deepcopy(r) for r in self.table(model).values() if _matches(r, conditions)]

    def count(self, model: type, conditions: Iterable[Condition] = ()) -> int:
        conditions = tuple(conditions)
        with self._lock:
            self._run(f"SELECT COUNT {model.__qualname__}")
            return sum(1 for r in self.table(model).values() if _matches(r, conditions))

    def select_pks(self, model: type, conditions: Iterable[Condition] = ()) -> list[Any]:
        conditions = tuple(conditions)
        with self._lock:
            self._run(f"SELECT pk {model.__qualname__}")
            return [pk for pk, r in self.table(model).items() if _matches(r, conditions)]

    def update(
        self, model: type, conditions: Iterable[Condition], values: Mapping[str, Any]
    ) -> int:
        """Set ``values`` on the rows matching ``conditions`` in one statement; return the count."""
        conditions = tuple(conditions)
        with self._lock:
            rows = [r for r in self.table(model).values() if _matches(r, conditions)]
            self._run(f"UPDATE {model.__qualname__} ({len(rows)} rows)")
            for row in rows:
                row.update(copy.deepcopy(dict(values)))
            return len(rows)

    def delete(self, model: type, conditions: Iterable[Condition]) -> int:
        """Delete the rows matching ``conditions`` in one statement; return the count."""
        conditions = tuple(conditions)
        with self._lock:
            table = self.table(model)
            gone = [pk for pk, r in table.items() if _matches(r, conditions)]
            self._run(f"DELETE {model.__qualname__} ({len(gone)} rows)")
            for pk in gone:
                del table[pk]
            return len(gone)

    def write_audit(self, record: Mapping[str, Any]) -> None:
        with self._lock:
            self._run("INSERT audit")
            self.audit.append(copy.deepcopy(dict(record)))


default_store = MemoryStore()
"""The store of memory models that do not name one with ``__store__``."""
