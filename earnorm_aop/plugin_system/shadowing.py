"""A plugin registered under a built-in's name: the warning that it replaces the built-in.

``@plugin("timestamp")`` copied from the plugin page replaces the built-in
``timestamp`` for every model of the registry, which then lose its
``created_at``/``updated_at`` and their first query fails.  That is rarely
meant, so the registry warns once per name ([`PluginWarning`][earnorm_aop.PluginWarning]),
pointing at the user's line; ``register(..., replace=True)`` says it is meant.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from ..errors import PluginWarning

__all__ = ["BUILTIN_PREFIX", "builtin_path", "user_level", "warn_shadowing"]

BUILTIN_PREFIX = "earnorm_aop.plugins."
"""The built-ins are the entry points of ``earnorm_aop.plugins`` this package declares."""


def builtin_path(entry_point: Any) -> str | None:
    """``module:Class`` of a built-in's entry point; ``None`` for a third party's (or none)."""
    value = getattr(entry_point, "value", None)
    return value if isinstance(value, str) and value.startswith(BUILTIN_PREFIX) else None


def warn_shadowing(name: str, cls: type, builtin: str) -> None:
    """Warn that ``cls`` now answers to ``name``, the built-in ``builtin`` (``module:Class``)."""
    warnings.warn(
        f"plugin {name!r} ({cls.__module__}.{cls.__qualname__}) replaces the built-in "
        f"{name!r} ({builtin.replace(':', '.')}) for every model of this registry: "
        f"those models lose the built-in's fields and behaviour. To keep both, "
        f"register yours under another name (@plugin('my_{name}') or "
        f"registry.register('my_{name}', {cls.__qualname__})); to mean the "
        f"replacement, pass replace=True.",
        PluginWarning,
        stacklevel=user_level(),
    )


def user_level() -> int:
    """``stacklevel`` pointing a warning at the user's line, past this package's frames.

    For a ``warnings.warn`` called by the caller of this function.
    """
    frame = sys._getframe(2)  # our caller's caller: the warning is issued one level below
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("earnorm_aop."):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level
