"""How a plugin becomes the instance that serves a model.

One instance per (model, configuration) by default: a plugin may keep state
of the model it serves.  A plugin class saying ``shared_by_models = True``
keeps none (the built-ins timestamp, softdelete, audit, changes and
lifecycle: what they do per model they ask the adapter, or decide in advice
specialised per model), so one instance, one validated configuration and one
aspect serve every model configured alike: weaving one more model copies none
of them (issue 18, point 7).  The registry keeps both caches
([`aspect_for`][earnorm_aop.plugin_system.registry.PluginRegistry.aspect_for]).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import PluginSpec
from .versioning import KEY as VERSION_KEY

__all__ = ["instantiate", "shared_key"]

_PLAIN = (str, int, float, bool, type(None))


def shared_key(spec: PluginSpec, values: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """The key of ``spec``'s aspect shared by every model configured with ``values``; or None.

    A plugin whose class says ``shared_by_models = True`` keeps no state of the
    model it serves (the built-ins timestamp, softdelete, audit, changes and
    lifecycle: what they do per model they ask the adapter, or decide in advice
    specialised per model): one instance, validated configuration and aspect
    then serve every model with the same options.  Only plain option values
    (strings, numbers, booleans, None) and no ``config_version`` (whose
    upgrade may warn per model) make a key; anything else is validated per
    model, as other plugins are.
    """
    if not getattr(spec.cls, "shared_by_models", False):
        return None
    items = sorted((values or {}).items())
    if any(not isinstance(v, _PLAIN) or k == VERSION_KEY for k, v in items):
        return None
    return (spec.cls, spec.config, tuple((k, type(v), v) for k, v in items))


def instantiate(spec: PluginSpec, config: Any) -> Any:
    """An instance of ``spec``'s class with its validated ``config`` (nested or as keywords)."""
    cls = spec.cls
    if spec.uses_nested_config:
        obj: Any = object.__new__(cls)
        obj.config = config
        obj.__init__()
        return obj
    values = {field: getattr(config, field) for field in type(config).model_fields}
    values.update(config.model_extra or {})
    return cls(**values)
