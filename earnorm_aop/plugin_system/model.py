"""Models that declare plugins: ``with_plugins(...)``, ``PluginModel`` and runtime weaving.

A model names plugins with ``@with_plugins("timestamp", cache={"ttl": 60})``
or, on a [`PluginModel`][earnorm_aop.plugin_system.model.PluginModel], with ``class Meta: plugins =
[...]`` (or a ``{name: config}`` dict).  Either way the names are resolved in a registry,
requirements are added, configurations are validated, and all the aspects are
woven in one step: a bad name or option fails at class creation and leaves the
class as it was.  Subclasses inherit their parent's plugins; their own
``Meta.plugins`` adds to them (a dict entry re-configures an inherited one).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..adapters.base import adapter_for
from ..errors import PluginConfigError, PluginNotFoundError, PluginWarning
from ..weaving import weaver
from ..weaving.aspect import Aspect
from .conditions import needs_tracking
from .contributions import (
    contribute,
    copy_contributions,
    follow_parent,
    withdraw,
    withdraw_unwoven,
)
from .dependencies import resolve_requirements
from .events import QUERY_LOAD, fire_query_load, listens_to_lifecycle
from .masking import mask as mask_fields
from .registry import PluginRegistry
from .registry import registry as default_registry
from .services import LIFECYCLE_EVENTS, TRACKING, serving
from .shadowing import user_level
from .unfired import warn_unfired

__all__ = [
    "PluginModel",
    "apply_plugins",
    "forget_registry",
    "on_copy",
    "on_subclass",
    "unweave",
    "weave",
    "with_plugins",
]

T = TypeVar("T", bound=type)

# The registry a model (and so its subclasses) resolves plugin names in.
_registries: weakref.WeakKeyDictionary[type, PluginRegistry] = weakref.WeakKeyDictionary()
# Classes whose own Meta.plugins has been applied (guards double processing).
_processed: weakref.WeakSet[type] = weakref.WeakSet()
# Classes declared with plugins: their subclasses read Meta.plugins too.
_declared: weakref.WeakSet[type] = weakref.WeakSet()


def registry_of(model: type) -> PluginRegistry:
    """The registry ``model`` resolves names in: its own, its nearest parent's, or the default."""
    for klass in model.__mro__:
        found = _registries.get(klass)
        if found is not None:
            return found
    return default_registry


def forget_registry(registry: PluginRegistry) -> None:
    """Models declared with ``registry=registry`` resolve names as if they had not been.

    For the ``plugin_registry`` fixture's teardown: a module-level model a
    test declared with the test's registry goes back to its parent's (or the
    default) registry.
    """
    for model in [m for m, r in list(_registries.items()) if r is registry]:
        _registries.pop(model, None)


def _normalize(where: str, plugins: Any) -> dict[str, dict[str, Any]]:
    """``["a", "b"]`` or ``{"a": {...}, "b": None}`` -> ``{"a": {...}, "b": {}}``."""
    if plugins is None:
        return {}
    if isinstance(plugins, str):
        plugins = [plugins]
    if isinstance(plugins, Mapping):
        out: dict[str, dict[str, Any]] = {}
        for name, config in plugins.items():
            if config is None:
                config = {}
            if not isinstance(config, Mapping):
                raise PluginConfigError(
                    f"plugin {name!r} on {where}: configuration must be a dict "
                    f"of options, not {config!r}"
                )
            out[str(name)] = dict(config)
        return out
    if isinstance(plugins, Sequence):
        return {str(name): {} for name in plugins}
    raise PluginConfigError(
        f"{where}: plugins must be a list of names or a dict of "
        f"name -> configuration, not {plugins!r}"
    )


def apply_plugins(
    model: type, requested: Mapping[str, Mapping[str, Any]], reg: PluginRegistry | None = None
) -> None:
    """Resolve, configure and weave ``requested`` plugins onto ``model``, all or nothing."""
    reg = reg or registry_of(model)
    board = reg.switchboard
    # What applies to the model before this weave (nothing below weaves): asked once.
    woven = weaver.effective_aspects(model)
    woven_names = {a.name for a in woven}
    if board is not None:
        # A plugin reconfigured for every process (board.reconfigure) takes the
        # shared options when this process first weaves it on the model.
        requested = {
            name: (
                shared
                if name not in woven_names
                and (shared := board.shared_config(name, model)) is not None
                else config
            )
            for name, config in requested.items()
        }
    where = f" (named by {model.__qualname__})"
    for name in requested:
        try:
            reg.spec(name)
        except PluginNotFoundError as exc:
            raise PluginNotFoundError(name, exc.known, where, exc.hint) from None
    order = resolve_requirements(list(requested), reg.spec, model.__qualname__)
    aspects = []
    for name in order:
        if name in requested:
            aspects.append(reg.aspect_for(name, model, requested[name]))
        elif name not in woven_names:
            aspects.append(reg.aspect_for(name, model, {}))  # a requirement, default config
    # Services woven by themselves, found by role (plugin_system/services.py).
    if not _served(LIFECYCLE_EVENTS, aspects, woven) and any(
        listens_to_lifecycle(a) for a in aspects
    ):
        # A listener of after_change / after_access: the system fires them by
        # itself, through the plugin serving the lifecycle events (which needs tracking).
        aspects.append(_service_aspect(reg, serving(reg, LIFECYCLE_EVENTS, model), model))
    if not _served(TRACKING, aspects, woven) and (
        _served(LIFECYCLE_EVENTS, aspects, ()) or any(needs_tracking(model, a) for a in aspects)
    ):
        # Conditions, ``changes`` and the lifecycle events read the shared tracking.
        aspects.insert(0, _service_aspect(reg, serving(reg, TRACKING, model), model))
    if aspects:
        added = contribute(model, aspects)
        try:
            _check_fit(model, aspects)
            weaver.weave_many(model, aspects)
        except BaseException:
            withdraw(model, added)
            raise
        _watch_loads(model, aspects)
        now = weaver.effective_aspects(model)
        warn_unfired(model, aspects, now)
        withdraw_unwoven(model, now)  # methods a plugin woven again no longer contributes
        follow_parent(model)


def _watch_loads(model: type, aspects: Sequence[Aspect]) -> None:
    """Where a handler asked for the records queries load (``loads=True``), watch them.

    Only then: on every other model a loaded row costs nothing more.  An
    adapter that cannot see its loads (a plain class's queries are its own
    code) leaves the handler to ``get``, and says so once, at weave time.
    """
    asking = [
        (aspect, spec) for aspect in aspects for spec in aspect.advices if spec.target == QUERY_LOAD
    ]
    if not asking:
        return
    adapter = adapter_for(model)
    if not adapter.watch_loads(model, fire_query_load):
        aspect, spec = asking[0]
        warnings.warn(
            f"plugin {aspect.name!r}: handler {spec.name!r} asks for the records a query "
            f"loads (loads=True), but {model.__qualname__}'s adapter ({adapter.name}) "
            "cannot see its queries load rows (a plain class's queries are its own code): "
            "it runs for get() only. Call emit(instance, 'after_query_load') where your "
            "queries build records, or drop loads=True",
            PluginWarning,
            stacklevel=user_level(),
        )


def _served(role: str, *groups: Sequence[Aspect]) -> bool:
    """Whether one of the aspects in ``groups`` serves ``role``."""
    return any(getattr(a.plugin, "serves", None) == role for group in groups for a in group)


def _service_aspect(reg: PluginRegistry, name: str, model: type) -> Aspect:
    """Service ``name``'s aspect, default configuration, from ``reg`` if it knows it."""
    source = reg if name in reg else default_registry
    return source.aspect_for(name, model, {})


def _check_fit(model: type, aspects: Sequence[Aspect]) -> None:
    """Let each plugin refuse a configuration that does not fit ``model`` (``check_model``).

    Asked after the contributions, so a rule may name a field another plugin
    of the same weave adds (softdelete's ``deleted_at``), and before anything
    is woven: a refusal leaves the class as it was.
    """
    for aspect in aspects:
        check = getattr(aspect.plugin, "check_model", None)
        if callable(check):
            check(model)


def with_plugins(
    *names: str,
    registry: PluginRegistry | None = None,
    mask: Sequence[str] = (),
    **configured: Mapping[str, Any],
) -> Callable[[T], T]:
    """Class decorator: weave plugins onto a model in place and return the same class.

    ``with_plugins("timestamp", "softdelete", cache={"ttl": 1800})``; its
    subclasses may add plugins with ``class Meta: plugins = [...]``.
    ``mask=["pin"]`` marks fields of the model no plugin writes down in clear
    (see [`earnorm_aop.plugin_system.masking`][earnorm_aop.plugin_system.masking]).
    """

    def decorate(model: T) -> T:
        if not isinstance(model, type):
            raise TypeError(f"with_plugins decorates a class, not {model!r}")
        if mask:
            mask_fields(*_mask_names(model, mask), model=model)
        requested = _normalize(model.__qualname__, dict.fromkeys(names))
        requested.update(_normalize(model.__qualname__, configured))
        if registry is not None:
            _registries[model] = registry
        apply_plugins(model, requested, registry)
        _declared.add(model)
        _apply_meta(model)
        return model

    return decorate


def _mask_names(model: type, names: Any) -> list[str]:
    if isinstance(names, str):
        return [names]
    if not isinstance(names, Sequence | set | frozenset):
        raise PluginConfigError(
            f"{model.__qualname__}: mask must be a list of field names such as "
            f"['password'], not {names!r}"
        )
    return list(names)


def _meta_plugins(model: type) -> tuple[Any, PluginRegistry | None]:
    meta = model.__dict__.get("Meta")
    if meta is None:
        return None, None
    return getattr(meta, "plugins", None), getattr(meta, "registry", None)


def _apply_meta(model: type) -> None:
    """Apply ``model``'s own ``Meta.plugins`` once."""
    if model in _processed:
        return
    plugins, reg = _meta_plugins(model)
    meta_mask = getattr(model.__dict__.get("Meta"), "mask", None)
    if plugins is None and reg is None and not meta_mask:
        return  # no Meta of its own: nothing to apply, nothing to guard (no entry per model)
    _processed.add(model)
    if meta_mask:
        mask_fields(*_mask_names(model, meta_mask), model=model)
    if reg is not None:
        _registries[model] = reg
    requested = _normalize(model.__qualname__, plugins)
    if requested:
        try:
            apply_plugins(model, requested)
        except BaseException:
            _processed.discard(model)
            raise


def on_subclass(cls: type) -> None:
    """A subclass of a woven class was created: apply its own ``Meta`` if it declares."""
    if any(base in _declared for base in cls.__mro__[1:]):
        _declared.add(cls)
        _apply_meta(cls)


def on_copy(old: type, new: type) -> None:
    """``new`` re-creates ``old`` (``@dataclass(slots=True)``): it declares what ``old`` did."""
    if old in _registries:
        _registries[new] = _registries[old]
    if old in _declared:
        _declared.add(new)
    if old in _processed:
        _processed.add(new)
    copy_contributions(old, new)


class PluginModel:
    """Optional base for models: subclasses read ``class Meta: plugins = [...]`` at creation."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _declared.add(cls)
        _apply_meta(cls)


def weave(model: type, name: str, *, registry: PluginRegistry | None = None, **config: Any) -> None:
    """Add plugin ``name`` to ``model`` at runtime (again with new options: re-configure it)."""
    apply_plugins(model, {name: config}, registry)


def unweave(
    model: type, name: str | None = None, *, registry: PluginRegistry | None = None
) -> None:
    """Remove plugin ``name`` (or every plugin) from ``model`` at runtime."""
    if name is not None and not weaver.is_woven(model, name):
        # Unknown name -> PluginNotFoundError (a woven one may be unregistered since).
        (registry or registry_of(model)).spec(name)
    weaver.unweave(model, name)
    withdraw_unwoven(model)
    follow_parent(model)
