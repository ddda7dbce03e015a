"""Why a plugin name is not found: hints about the class the user wrote for it.

``BasePlugin`` subclasses defined without a ``name`` (so never registered on
definition), and the names each plugin class is registered under in any
registry: when a name is not found, these say why the class a user wrote for
it is not the plugin.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

__all__ = ["note_registered", "note_unnamed", "unregistered_hint"]

_unnamed: weakref.WeakSet[type] = weakref.WeakSet()
_registered_as: weakref.WeakKeyDictionary[type, set[str]] = weakref.WeakKeyDictionary()


def note_unnamed(cls: type) -> None:
    """Remember ``cls``, a plugin class without a name, for the hints of ``PluginNotFoundError``."""
    _unnamed.add(cls)


def note_registered(cls: type, name: str) -> None:
    """Remember that ``cls`` is registered as ``name`` (in some registry)."""
    _registered_as.setdefault(cls, set()).add(name)


def _squash(name: str) -> str:
    return name.replace("_", "").lower()


def unregistered_hint(name: str, here: Mapping[str, type]) -> str:
    """Why a nameless plugin class that looks written for ``name`` does not answer to it.

    ``here`` is the plugin class of each name registered in the registry asked.
    """
    wanted = _squash(name)
    for cls in list(_unnamed):
        stem = _squash(cls.__name__)
        if wanted not in (stem, stem.removesuffix("plugin")):
            continue
        where = f"class {cls.__qualname__}(BasePlugin) in module {cls.__module__}"
        names = sorted(n for n, registered in here.items() if registered is cls)
        if names:
            return f"{where} is registered as {', '.join(map(repr, names))}; use that name"
        elsewhere = sorted(_registered_as.get(cls, ()))
        if elsewhere:
            return (
                f"{where} is registered as {', '.join(map(repr, elsewhere))} in another "
                "registry; name that registry (Meta.registry, or with_plugins(..., "
                "registry=...)) or register it in this one"
            )
        return (
            f"{where} has no `name`, so it was not registered; set name = {name!r} in "
            f"its class body, or register it with registry.register({name!r}, "
            f"{cls.__name__})"
        )
    return ""
