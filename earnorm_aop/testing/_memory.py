"""The in-memory backends: plain classes (``memory``) and pydantic models (``pydantic``).

Both store rows in a [`MemoryStore`][earnorm_aop.integrations.memory.MemoryStore] of
their own, so they need nothing installed beyond the core.  The store has no
transactions, so [`transaction`][earnorm_aop.testing.Backend.transaction] is skipped here.
"""

from __future__ import annotations

import itertools
import sys
from contextlib import AbstractContextManager
from typing import Any

from ..integrations.memory import MemoryModel, MemoryStore, NotFound
from ..plugin_system.model import with_plugins
from ..plugin_system.registry import PluginRegistry
from ..weaving import weaver
from ._base import FIELDS, Backend, Fields, Methods

__all__ = ["MemoryBackend"]

_names = itertools.count(1)


class MemoryBackend(Backend):
    """The in-memory store with plain classes (``"memory"``) or pydantic models."""

    NotFound = NotFound

    def __init__(self, flavour: str = "memory") -> None:
        if flavour not in ("memory", "pydantic"):
            raise ValueError(f"flavour must be 'memory' or 'pydantic', not {flavour!r}")
        self.name = flavour
        self.store = MemoryStore()
        self._models: list[type] = []

    def model(
        self,
        *plugins: str,
        fields: Fields | None = None,
        methods: Methods | None = None,
        registry: PluginRegistry | None = None,
        **configured: Any,
    ) -> Any:
        # Published in this module under a unique name, so pickle (the Redis
        # cache) finds the class as it would a model defined in a module.
        spec = {"id": (int | None, None), **FIELDS, **(fields or {})}
        name = f"{self.name.capitalize()}Article{next(_names)}"
        body: dict[str, Any] = {"__store__": self.store, **(methods or {})}
        if self.name == "pydantic":
            import pydantic

            model: type = pydantic.create_model(  # type: ignore[call-overload]
                name,
                __base__=(MemoryModel, pydantic.BaseModel),
                __module__=__name__,
                **spec,
            )
            for key, value in body.items():
                setattr(model, key, value)
        else:
            body["__annotations__"] = {k: t for k, (t, _) in spec.items()}
            body.update({k: default for k, (_, default) in spec.items()})
            body["__module__"] = __name__
            model = type(name, (MemoryModel,), body)
        model.__qualname__ = name
        setattr(sys.modules[__name__], name, model)
        self._models.append(model)
        return with_plugins(*plugins, registry=registry, **configured)(model)

    def close(self) -> None:
        """Unweave and unpublish the models, so later checks (and rebuilds) never see them."""
        for model in self._models:
            weaver.unweave(model)
            vars(sys.modules[__name__]).pop(model.__qualname__, None)
        self._models.clear()

    def get(self, model: Any, pk: Any) -> Any:
        return model.get(pk)

    def update(self, obj: Any, **values: Any) -> Any:
        return obj.update(**values)

    def queryset(self, model: Any) -> Any:
        return model.get_queryset()

    def bulk_create(self, model: Any, objs: Any) -> Any:
        return model.save_many(objs)

    def rows(self, model: Any) -> dict[Any, dict[str, Any]]:
        return {row["id"]: row for row in self.store.rows(model)}

    def raw_delete(self, model: Any, pk: Any) -> None:
        del self.store.table(model)[pk]

    def raw_update(self, model: Any, pk: Any, **values: Any) -> None:
        self.store.table(model)[pk].update(values)

    def queries(self) -> AbstractContextManager[list[str]]:
        return self.store.capture()

    def audit_rows(self, model: Any) -> list[dict[str, Any]]:
        return list(self.store.audit)
