"""Small plugins for the adapter tests, in a registry of their own (no entry points)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from earnorm_aop import PluginRegistry, hook, plugin
from earnorm_aop.integrations import FieldSpec

registry = PluginRegistry(group=None)

# (operation, model, class of the object the call ran on, detail)
journal: list[tuple[str, str, str, Any]] = []


def now() -> datetime:
    return datetime.now(UTC)


@plugin("journal", registry=registry)
class Journal:
    """Records every logical operation, with the model it ran for."""

    def _log(self, op: str, model: type, instance: Any, detail: Any = None) -> None:
        owner = instance if isinstance(instance, type) else type(instance)
        journal.append((op, model.__name__, owner.__name__, detail))

    @hook("before:save", optional=True)
    def saving(self, model: type, instance: Any) -> None:
        self._log("save", model, instance)

    @hook("before:delete", optional=True)
    def deleting(self, model: type, instance: Any) -> None:
        self._log("delete", model, instance)

    @hook("before:get", optional=True)
    def getting(self, model: type, instance: Any, kwargs: dict[str, Any]) -> None:
        self._log("get", model, instance, dict(kwargs))

    @hook("before:get_queryset", optional=True)
    def querying(self, model: type, instance: Any) -> None:
        self._log("get_queryset", model, instance)

    @hook("before:save_many", optional=True)
    def saving_many(self, model: type, joinpoint: Any, objs: Any) -> None:
        # ``instance`` is the objects (the operation's subject); the queryset
        # the method was called on is ``joinpoint.target``.
        self._log("save_many", model, joinpoint.target, len(objs))

    @hook("before:update_many", optional=True)
    def updating_many(self, model: type, instance: Any, kwargs: dict[str, Any]) -> None:
        self._log("update_many", model, instance, sorted(kwargs))

    @hook("before:delete_many", optional=True)
    def deleting_many(self, model: type, instance: Any) -> None:
        self._log("delete_many", model, instance)


@plugin("hidden", registry=registry)
class Hidden:
    """A soft delete in miniature: rows get ``hidden_at`` instead of being deleted."""

    fields = (FieldSpec("hidden_at", datetime | None, index=True),)

    def get_queryset(self, queryset: Any) -> Any:  # chain advice, by its name
        return queryset.filter(hidden_at=None)

    @hook("around:delete")
    def hide(self, instance: Any) -> Any:
        instance.hidden_at = now()
        instance.save(update_fields=["hidden_at"])
        return 1, {instance._meta.label: 1}

    @hook("around:delete_many")
    def hide_many(self, instance: Any) -> Any:
        count = instance.update(hidden_at=now())
        return count, {instance.model._meta.label: count}


@plugin("stamp", registry=registry)
class Stamp:
    """Contributes fields of every mapped kind and writes them on every kind of write."""

    fields = (
        FieldSpec("stamped_at", datetime | None),
        FieldSpec("revision", int, default=0),
        FieldSpec("stamp_note", "str | None"),
        FieldSpec("stamp_flags", dict[str, Any], default={}),
        FieldSpec("stamp_active", bool, default=True, index=True),
    )

    def before_save(self, instance: Any) -> None:
        instance.stamped_at = now()
        instance.revision += 1

    @hook("around:update_many")
    def stamp_update(self, proceed: Any, kwargs: dict[str, Any]) -> Any:
        return proceed(**{**kwargs, "stamped_at": now()})

    @hook("before:save_many")
    def stamp_bulk(self, objs: Any) -> None:
        for obj in objs:
            obj.stamped_at = now()


@plugin("guard", registry=registry)
class Guard:
    """Vetoes a save of a 'veto' title and fails one of a 'boom' title."""

    def before_save(self, instance: Any) -> Any:
        if instance.title == "veto":
            return False
        if instance.title == "boom":
            raise ValueError("boom refused")
        return None


@plugin("veil", registry=registry)
class Veil:
    """Hides rows whose ``veiled`` flag is set, and says so: ``visible_rows`` (not softdelete)."""

    fields = (FieldSpec("veiled", bool, default=False),)

    def get_queryset(self, queryset: Any) -> Any:
        return queryset.filter(veiled=False)

    def visible_rows(self, model: type) -> dict[str, Any]:
        return {"veiled": False}
