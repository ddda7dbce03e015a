"""Plugins declared on a Django model class, and classes Django finishes preparing.

Django rejects unknown ``Meta`` options, so a Django model names its plugins in
a class attribute instead::

    class Article(models.Model):
        plugins = ["timestamp", "softdelete"]          # or {"cache": {"ttl": 60}}
        plugin_registry = my_registry                  # optional
        plugin_mask = ["pin"]                          # optional: masked fields

It is read when Django sends ``class_prepared`` for the class, before the
model is registered, so plugin fields are real fields of the model by the time
``makemigrations`` looks at it.  An abstract model's ``plugins`` apply to each
concrete model derived from it; a concrete parent's apply to its subclasses by
inheritance, as with ``@with_plugins``.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models.signals import class_prepared

from ...plugin_system.masking import mask
from ...plugin_system.model import with_plugins
from ...weaving import weaver

__all__ = ["ATTRIBUTE", "REGISTRY_ATTRIBUTE", "declared_plugins", "prepare"]

ATTRIBUTE = "plugins"
REGISTRY_ATTRIBUTE = "plugin_registry"
MASK_ATTRIBUTE = "plugin_mask"

_prepared: weakref.WeakSet[type] = weakref.WeakSet()


def _declared_on(klass: type) -> Any:
    value = vars(klass).get(ATTRIBUTE)
    # A model field called ``plugins`` is a descriptor by now, not a declaration.
    if isinstance(value, str | Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, bytes)
    ):
        return value
    return None


def _is_django_model(klass: type) -> bool:
    return "_meta" in vars(klass)


def declared_plugins(model: type) -> tuple[dict[str, Any], Any]:
    """``{name: config}`` declared by ``model`` and the abstract models it derives from.

    Abstract bases come first; a dict entry configures a plugin (a later one
    re-configures it), a list entry adds it with its current configuration.
    The registry is the nearest ``plugin_registry`` among the same classes.
    """
    concrete_parents = [
        k
        for k in model.__mro__[1:]
        if _is_django_model(k) and not k._meta.abstract  # type: ignore[attr-defined]
    ]
    requested: dict[str, Any] = {}
    registry = None
    for klass in reversed(model.__mro__):
        if klass is not model:
            if not _is_django_model(klass) or not klass._meta.abstract:  # type: ignore[attr-defined]
                continue
            if any(issubclass(parent, klass) for parent in concrete_parents):
                continue  # that parent applied them already
        value = _declared_on(klass)
        if value is not None:
            if isinstance(value, str):
                value = [value]
            if isinstance(value, Mapping):
                for name, config in value.items():
                    requested[str(name)] = config  # checked by with_plugins
            else:
                for name in value:
                    requested.setdefault(str(name), {})
        registry = vars(klass).get(REGISTRY_ATTRIBUTE, registry)
    return requested, registry


def prepare(model: type) -> None:
    """Apply ``model``'s declared plugins and weave what it inherits onto its manager."""
    if model in _prepared or getattr(model._meta, "abstract", False):  # type: ignore[attr-defined]
        return
    _prepared.add(model)
    requested, registry = declared_plugins(model)
    masked = getattr(model, MASK_ATTRIBUTE, None)  # abstract bases included
    if masked:
        mask(*([masked] if isinstance(masked, str) else masked), model=model)
    try:
        if requested:
            with_plugins(registry=registry, **requested)(model)
        if weaver.effective_aspects(model):
            weaver.refresh(model)
    except BaseException:
        _prepared.discard(model)
        raise


def _on_class_prepared(sender: type, **kwargs: Any) -> None:
    prepare(sender)


class_prepared.connect(_on_class_prepared, dispatch_uid="earnorm_aop.integrations.django")
