"""Declaring plugins: the ``@plugin`` decorator and the
[`BasePlugin`][earnorm_aop.plugin_system.declaration.BasePlugin] base class.

Both register the class in a registry as soon as it is defined.  They live
apart from [`earnorm_aop.plugin_system.spec`][earnorm_aop.plugin_system.spec] (which reads a plugin
class) so that the registry can read plugins without importing the module that registers them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..weaving.aspect import ErrorPolicy
from ._hints import note_unnamed
from .registry import PluginRegistry
from .registry import registry as default_registry

__all__ = ["BasePlugin", "plugin"]

C = TypeVar("C", bound=type)

_UNSET = object()


def plugin(
    name: str,
    *,
    version: str = "0.1.0",
    requires: Sequence[str] | Mapping[str, str] = (),
    priority: int = 0,
    description: str | None = None,
    on_error: ErrorPolicy = "raise",
    max_failures: int = 3,
    registry: PluginRegistry | None = None,
    replace: bool = False,
) -> Callable[[C], C]:
    """Class decorator: make a class a plugin and register it (default registry unless given)."""

    def decorate(cls: C) -> C:
        attrs = {
            "name": name,
            "version": version,
            "requires": requires,
            "priority": priority,
            "description": description,
            "on_error": on_error,
            "max_failures": max_failures,
        }
        # The registry reads these attributes, so they are set first; a refused
        # registration puts the class back as it was.
        before = {attr: cls.__dict__.get(attr, _UNSET) for attr in attrs}
        for attr, value in attrs.items():
            setattr(cls, attr, value)
        try:
            (registry or default_registry).register(name, cls, replace=replace)
        except BaseException:
            for attr, value in before.items():
                if value is _UNSET:
                    delattr(cls, attr)
                else:
                    setattr(cls, attr, value)
            raise
        return cls

    return decorate


class BasePlugin:
    """Optional base class for plugins.

    A subclass that sets ``name`` in its own class body and is not abstract
    (``abstract = True`` or unimplemented abstract methods) is registered when
    it is defined, in ``registry`` if it sets one, else the default registry.
    With a nested ``Config`` model, the validated configuration is ``self.config``.
    """

    _earnorm_plugin_base = True  # plugin_spec skips this class when collecting hooks

    name: str | None = None
    version: str = "0.1.0"
    requires: Sequence[str] | Mapping[str, str] = ()
    priority: int = 0
    description: str | None = None
    on_error: ErrorPolicy = "raise"
    max_failures: int = 3
    registry: PluginRegistry | None = None
    config: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("abstract", False) or inspect.isabstract(cls):
            return
        if "name" not in cls.__dict__ or not cls.__dict__["name"]:
            # Not registered; remembered so that a model naming it is told why.
            note_unnamed(cls)
            return
        (cls.registry or default_registry).register(cls.__dict__["name"], cls)
