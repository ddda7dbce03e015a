"""What a plugin adds to the models it is woven onto: fields and methods.

A plugin declares its fields in its schema (``schema()`` returning a
[`Schema`][earnorm_aop.plugin_system.schema.Schema], which also says how rows
that already exist are filled) or, shorter, ``fields`` (``{"deleted_at":
FieldSpec(...)}``, a list of [`FieldSpec`][earnorm_aop.adapters.base.FieldSpec], or a method
returning either, so field names can come from its configuration), and ``model_methods`` (a mapping
of name to callable, or a method returning one; each callable gets the model
instance first, unless it is a ``classmethod`` / ``staticmethod`` object, which
is installed as such, e.g. ``Model.with_deleted()``).  They are added through
the model's adapter when the plugin is woven, before any advice, so an ORM sees
the fields before migrations are made.  A model's own attribute of the same name always wins.

A plugin that hides rows from the default queryset may also define
``visible_rows(model)``: the field values of the rows it shows *now*
(softdelete: ``{"deleted_at": None}``, or ``{}`` inside ``including_deleted()``).
When it is woven, the adapter's ``hide_rows`` is told, so lookups through
relations (Django: ``Author.objects.filter(articles__title="x")``) skip the
hidden rows too; [`visible_rows`][earnorm_aop.plugin_system.contributions.visible_rows] asks, at
query time, only the plugins in force on the model (woven, enabled, not disabled in the current
context).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..adapters.base import FieldSpec, adapter_for
from ..errors import PluginError
from ..weaving import scope, weaver
from ..weaving.aspect import Aspect, Switch
from .schema import schema_of

__all__ = [
    "Added",
    "contribute",
    "contributed_fields",
    "contributed_methods",
    "copy_contributions",
    "visible_rows",
    "withdraw",
    "withdraw_fields",
    "withdraw_unwoven",
]

# model -> names of the methods we added to it (so they can be taken back).
_added: weakref.WeakKeyDictionary[type, dict[str, str]] = weakref.WeakKeyDictionary()
# model -> the fields we added to it, each with the switch of the plugin that
# contributed it (so a test's isolated registry can take its own back).
_fields_added: weakref.WeakKeyDictionary[type, list[tuple[Switch, FieldSpec]]] = (
    weakref.WeakKeyDictionary()
)


def _declared(plugin: object, attr: str) -> Any:
    value = getattr(plugin, attr, None)
    if callable(value) and not isinstance(value, Mapping):
        value = value()
    return value


def contributed_fields(name: str, plugin: object) -> list[FieldSpec]:
    """The fields plugin ``name`` (an instance) contributes: its ``schema()``'s, or ``fields``."""
    return list(_contributions(name, plugin)[0])


def contributed_methods(name: str, plugin: object) -> dict[str, Callable[..., Any]]:
    """The methods plugin ``name`` (an instance) adds to its models (``model_methods``)."""
    return dict(_contributions(name, plugin)[1])


# What each plugin instance serving every model contributes (``shared_by_models``:
# its configuration is fixed, so is what it declares), read once for all the
# models it is woven on.  Weak on the instance; by name too (one instance may
# serve two names, whose errors name each).
_contributed: weakref.WeakKeyDictionary[
    object, dict[str, tuple[tuple[FieldSpec, ...], dict[str, Callable[..., Any]]]]
] = weakref.WeakKeyDictionary()


def _contributions(
    name: str, plugin: object
) -> tuple[tuple[FieldSpec, ...], dict[str, Callable[..., Any]]]:
    """(fields, methods) of plugin ``name``: read again per call unless the instance is shared."""
    if not getattr(type(plugin), "shared_by_models", False):
        return tuple(schema_of(name, plugin).fields), _methods_of(name, plugin)
    try:
        by_name = _contributed.get(plugin)
    except TypeError:  # not weakly referenceable: read each time
        return tuple(schema_of(name, plugin).fields), _methods_of(name, plugin)
    found = by_name.get(name) if by_name is not None else None
    if found is None:
        found = (tuple(schema_of(name, plugin).fields), _methods_of(name, plugin))
        _contributed.setdefault(plugin, {})[name] = found
    return found


def _methods_of(name: str, plugin: object) -> dict[str, Callable[..., Any]]:
    value = _declared(plugin, "model_methods")
    if not value:
        return {}
    if not isinstance(value, Mapping) or not all(
        callable(v) or isinstance(v, classmethod | staticmethod) for v in value.values()
    ):
        raise PluginError(
            f"plugin {name!r}: model_methods must map method names to callables, not {value!r}"
        )
    return dict(value)


# The model methods of plugin instances that serve every model (``shared_by_models``:
# the registry keeps them), by (plugin, method, name, on_class): each model gets the
# same function, made once.  Another plugin's are made per model, as they die with it.
_methods: dict[tuple[Any, ...], Callable[..., Any]] = {}


def _model_method(
    plugin_name: str, name: str, func: Callable[..., Any], *, on_class: bool = False
) -> Callable[..., Any]:
    """``_as_method``, made once for a shared plugin instance's method."""
    owner = getattr(func, "__self__", None)
    if owner is None or not getattr(type(owner), "shared_by_models", False):
        return _as_method(plugin_name, name, func, on_class=on_class)
    key = (plugin_name, name, owner, func.__func__, on_class)  # type: ignore[attr-defined]
    found = _methods.get(key)
    if found is None:
        found = _methods[key] = _as_method(plugin_name, name, func, on_class=on_class)
    return found


def _as_method(
    plugin_name: str, name: str, func: Callable[..., Any], *, on_class: bool = False
) -> Callable[..., Any]:
    """``func`` as a model method that runs the plugin configured for the caller's class.

    A subclass may weave the same plugin again with other options
    (``softdelete`` with ``field="removed_at"``); the method it inherits must
    use that configuration, so each call asks which instance of the plugin is
    in force on ``type(self)`` (or ``cls``) and runs its method of that name.
    """

    @functools.wraps(func)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        model = self if on_class else type(self)
        return _in_force(model, plugin_name, name, func)(self, *args, **kwargs)

    return method


def _in_force(
    model: type, plugin_name: str, name: str, default: Callable[..., Any]
) -> Callable[..., Any]:
    for aspect in weaver.effective_aspects(model):
        if aspect.name == plugin_name:
            found = contributed_methods(plugin_name, aspect.plugin).get(name)
            if isinstance(found, classmethod | staticmethod):
                found = found.__func__
            return found if callable(found) else default
    return default


@dataclass
class Added:
    """What one [`contribute`][earnorm_aop.plugin_system.contributions.contribute] call added, so
    [`withdraw`][earnorm_aop.plugin_system.contributions.withdraw] can take it back."""

    methods: list[str] = field(default_factory=list)
    fields: list[FieldSpec] = field(default_factory=list)


def contribute(model: type, aspects: Iterable[Aspect]) -> Added:
    """Add the aspects' fields and methods to ``model``; return what was added."""
    adapter = adapter_for(model)
    added = Added()
    for aspect in aspects:
        for spec in contributed_fields(aspect.name, aspect.plugin):
            if not adapter.has_field(model, spec.name):
                adapter.add_field(model, spec)
                added.fields.append(spec)
                _fields_added.setdefault(model, []).append((aspect.switch, spec))
        if callable(getattr(aspect.plugin, "visible_rows", None)):
            adapter.hide_rows(model, visible_rows)
        for method, func in contributed_methods(aspect.name, aspect.plugin).items():
            mine = _added.setdefault(model, {})
            if method in vars(model) and mine.get(method) is None:
                continue  # the model's own method wins
            if method not in vars(model) and hasattr(model, method):
                continue  # inherited from a parent: the parent's (or its plugin's) wins
            if isinstance(func, classmethod):
                wrapped = _model_method(aspect.name, method, func.__func__, on_class=True)
                setattr(model, method, classmethod(wrapped))
            elif isinstance(func, staticmethod):
                setattr(model, method, func)
            else:
                setattr(model, method, _model_method(aspect.name, method, func))
            mine[method] = aspect.name
            added.methods.append(method)
    return added


def visible_rows(model: type) -> dict[str, Any]:
    """Field values of the rows ``model``'s plugins show now (empty: nothing hidden).

    Merges ``plugin.visible_rows(model)`` of the aspects in force on ``model``:
    woven (inherited ones included, ``unweave`` respected), enabled, and not
    switched off by ``registry.disabled()`` in the current context.
    """
    off = scope.DISABLED.get()
    found: dict[str, Any] = {}
    for aspect in weaver.effective_aspects(model):
        if not aspect.switch.enabled or aspect.switch in off:
            continue
        declared = getattr(aspect.plugin, "visible_rows", None)
        if callable(declared):
            found.update(declared(model) or {})
    return found


def withdraw(model: type, added: Added) -> None:
    """Take back what [`contribute`][earnorm_aop.plugin_system.contributions.contribute] added
    (after a failed weave): all or nothing."""
    _remove_methods(model, added.methods)
    adapter = adapter_for(model)
    for spec in reversed(added.fields):
        adapter.remove_field(model, spec)
    taken = {id(spec) for spec in added.fields}
    if taken and model in _fields_added:
        _fields_added[model] = [e for e in _fields_added[model] if id(e[1]) not in taken]


def withdraw_fields(switches: Iterable[Switch]) -> None:
    """Remove, from every model, the fields the plugins of ``switches`` contributed.

    Not part of ``unweave`` (an ORM cannot drop a column at runtime): the
    ``plugin_registry`` fixture's teardown, which leaves a model defined at
    module level as it was before the test.  Methods go with ``unweave``.
    """
    gone = set(switches)
    for model, entries in list(_fields_added.items()):
        adapter = adapter_for(model)
        for switch, spec in reversed(entries):
            if switch in gone:
                adapter.remove_field(model, spec)
        _fields_added[model] = [e for e in entries if e[0] not in gone]


def withdraw_unwoven(model: type, woven: Iterable[Aspect] | None = None) -> None:
    """Remove the methods contributed to ``model`` that no plugin woven on it contributes now.

    Called after ``unweave``: once a plugin is gone its methods (``restore``,
    ``hard_delete``...) go too, so the class dict is as it was apart from
    contributed fields, which an ORM cannot drop at runtime.  Called after a
    weave too: a plugin woven again as another class (``register(...,
    replace=True)``) or with a configuration that names its methods
    otherwise leaves only the methods it contributes now.  ``woven``: ``model``'s
    effective aspects, when the caller has them.
    """
    mine = _added.get(model)
    if not mine:
        return
    now: dict[str, set[str]] = {}
    for aspect in weaver.effective_aspects(model) if woven is None else woven:
        now.setdefault(aspect.name, set()).update(contributed_methods(aspect.name, aspect.plugin))
    _remove_methods(model, [m for m, plugin in mine.items() if m not in now.get(plugin, ())])


def copy_contributions(old: type, new: type) -> None:
    """``new`` was re-created from ``old``'s dict: the methods we added there are ours there too."""
    mine = _added.get(old)
    if mine:
        _added[new] = {m: p for m, p in mine.items() if m in vars(new)}


def _remove_methods(model: type, methods: Iterable[str]) -> None:
    mine = _added.get(model, {})
    for method in methods:
        if mine.pop(method, None) is not None and method in vars(model):
            delattr(model, method)
