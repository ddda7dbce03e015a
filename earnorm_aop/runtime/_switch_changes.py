"""The local switch changes a board's listener has still to write, and on what terms.

A change made while connected is written as it is, after whatever was
written before it (the last write wins); one made during an outage only over
the version it was made against (a newer shared state wins).  A field changed
again before being written is written once, with the last value, on the terms
of the first change; changed again *while* being written, the later change was
made on that write, so it is then written over the version that write took.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .switchboard import is_config_field

__all__ = ["Change", "LocalChanges"]


@dataclass(frozen=True)
class Change:
    """A local change to write: ``what`` (enabled, or ``(name, model, options)``), its origin,
    and ``expect``: the version it must not be older than (``None``: written whatever)."""

    what: Any
    origin: str
    expect: int | None


class LocalChanges:
    """Changes waiting to be written, by hash field (thread-safe)."""

    def __init__(self, remember: Callable[[Any], None]) -> None:
        self._items: dict[str, Change] = {}
        self._lock = threading.Lock()
        self._remember = remember  # what a written entry is noted with (the board's)

    def add(self, field: str, what: Any, origin: str, expect: Callable[[], int | None]) -> None:
        """Queue a change of ``field``; ``expect()`` gives its terms if none is queued."""
        with self._lock:
            queued = self._items.get(field)
            terms = queued.expect if queued is not None else expect()
            self._items[field] = Change(what, origin, terms)

    def first(self) -> tuple[str, Change] | None:
        """The change to write next (it stays queued until
        [`written`][earnorm_aop.runtime._switch_changes.LocalChanges.written])."""
        with self._lock:
            if not self._items:
                return None
            field = next(iter(self._items))
            return field, self._items[field]

    def written(self, field: str, change: Change, entry: Any) -> None:
        """``change`` was written as ``entry`` (``None``: refused), noted as one step."""
        with self._lock:
            if entry is not None:
                self._remember(entry)
            later = self._items.get(field)
            if later is change:
                del self._items[field]
            elif later is not None and entry is not None and later.expect is not None:
                self._items[field] = Change(later.what, later.origin, entry.version)

    def __contains__(self, field: object) -> bool:
        with self._lock:
            return field in self._items

    def fields(self) -> set[str]:
        with self._lock:
            return set(self._items)

    def view(self) -> dict[str, Any]:
        """Plugin name -> enabled, config field -> options."""
        with self._lock:
            return {
                field: change.what[2] if is_config_field(field) else change.what
                for field, change in self._items.items()
            }
