"""Plugins declared on a SQLAlchemy model: ``PluginModel`` and ``with_plugins``.

A declarative class maps itself in ``__init_subclass__`` (``DeclarativeBase``)
or in its metaclass (``declarative_base()``).
[`PluginModel`][earnorm_aop.integrations.sqlalchemy.declaration.PluginModel], mixed into the
declarative base, reads a ``plugins = [...]`` (or ``{name: config}``) attribute of each class before
the base maps it, adds the plugins' columns to the class body, lets SQLAlchemy map the class with
them, then weaves the
plugins::

    class Base(PluginModel, DeclarativeBase):
        pass

    class Article(Base):
        __tablename__ = "article"
        plugins = ["timestamp", "softdelete"]
        id: Mapped[int] = mapped_column(primary_key=True)

``@with_plugins(...)`` (``earnorm_aop.with_plugins``) on a class already
mapped adds the columns with ``setattr(Model, name, mapped_column(...))``
(before the first query on an engine: compiled statements are cached).
Subclasses inherit their parent's plugins; a subclass's own ``plugins`` adds
to them.  ``plugin_registry = ...`` on the class picks another registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...plugin_system.contributions import contributed_fields
from ...plugin_system.dependencies import resolve_requirements
from ...plugin_system.model import _normalize, registry_of, with_plugins
from ...plugin_system.registry import PluginRegistry
from .fields import sqlalchemy_column

__all__ = ["ATTRIBUTE", "REGISTRY_ATTRIBUTE", "PluginModel"]

ATTRIBUTE = "plugins"
REGISTRY_ATTRIBUTE = "plugin_registry"


def _declared(klass: type) -> Any:
    value = vars(klass).get(ATTRIBUTE)
    if isinstance(value, str | Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, bytes)
    ):
        return value
    return None


class PluginModel:
    """Mixin for a declarative base: subclasses read ``plugins = [...]`` before mapping."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        requested: dict[str, Any] = _normalize(cls.__qualname__, _declared(cls))
        registry: PluginRegistry | None = vars(cls).get(REGISTRY_ATTRIBUTE)
        if requested and ("__tablename__" in vars(cls) or "__table__" in vars(cls)):
            _add_columns(cls, requested, registry)
        super().__init_subclass__(**kwargs)
        if requested:
            with_plugins(registry=registry, **requested)(cls)


def _add_columns(
    cls: type, requested: Mapping[str, Mapping[str, Any]], registry: PluginRegistry | None
) -> None:
    """Put the plugins' columns in the class body, so the mapping includes them."""
    reg = registry or registry_of(cls)
    order = resolve_requirements(list(requested), reg.spec, cls.__qualname__)
    for name in order:
        aspect = reg.aspect_for(name, cls, requested.get(name, {}))
        for spec in contributed_fields(name, aspect.plugin):
            if any(spec.name in vars(k) for k in cls.__mro__):
                continue
            setattr(cls, spec.name, sqlalchemy_column(spec, cls.__qualname__))
