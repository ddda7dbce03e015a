"""The operations an ORM adapter maps for each model, worked out once per model.

Working out a model's operations installs things (Django's load hooks, the
SQLAlchemy flush bodies), so it runs once per model, under a lock: two
threads weaving the same model must not install twice.  A model may come
with a stamp (Django: its private manager and QuerySet classes, made again
when the model is woven again): a different stamp works them out again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["OperationCache", "Operations"]

Operations = Mapping[str, Sequence[tuple[type, str]]]
"""Logical operation -> the ``(class, method name)`` pairs it runs as."""


class OperationCache:
    """Each model's operations, by model (weakly: a dropped model is forgotten)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: weakref.WeakKeyDictionary[type, tuple[Any, Operations]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, model: type, make: Callable[[], Operations], stamp: Any = None) -> Operations:
        """``model``'s operations: those made with ``stamp`` before, else ``make()``'s."""
        with self._lock:
            known = self._known.get(model)
            if known is not None and known[0] is stamp:
                return known[1]
            made = make()
            self._known[model] = (stamp, made)
            return made
