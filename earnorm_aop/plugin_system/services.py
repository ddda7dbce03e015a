"""Services the plugin layer weaves by itself, known by role, never by a plugin's name.

Some plugins are not asked for by users but needed by what other plugins do:
the shared change tracking (for hook conditions, the ``changes`` parameter,
and the lifecycle events), and the firing of the lifecycle events (for their
listeners).  Each is a *role*; the plugin that fills it says so with a
``serves`` class attribute (``serves = TRACKING``), and
[`apply_plugins`][earnorm_aop.plugin_system.model.apply_plugins] finds it through the
registry ([`PluginRegistry.serving`][earnorm_aop.plugin_system.registry.PluginRegistry.serving]),
so the plugin layer names no plugin of the layer above it and a replacement
registered under another name serves as well.
"""

from __future__ import annotations

from ..errors import PluginError
from .registry import PluginRegistry
from .registry import registry as default_registry

__all__ = ["LIFECYCLE_EVENTS", "TRACKING", "serving"]

TRACKING = "tracking"
"""What each write changes, read once and shared by every plugin of the model."""

LIFECYCLE_EVENTS = "lifecycle events"
"""Firing the events the system fires by itself (``after_change``, ``after_access``, ...)."""


def serving(reg: PluginRegistry, role: str, model: type) -> str:
    """The plugin that serves ``role`` in ``reg`` (else in the default registry).

    A registry without one (an isolated registry: plugins registered by hand,
    no discovery) falls back to the default registry's built-ins; none at all
    is a ``PluginError`` naming the role, the model that needs it and the fix.
    """
    for source in (reg, default_registry):
        found = source.serving(role)
        if found is not None:
            return found
    raise PluginError(
        f"{model.__qualname__} needs a plugin serving {role!r} and no registry has one: "
        f"register a plugin class whose 'serves' attribute is {role!r} (the built-ins "
        "have one; is earnorm_aop installed with its entry points?)"
    )
