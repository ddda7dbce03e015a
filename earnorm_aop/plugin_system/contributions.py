"""What a plugin adds to the models it is woven onto: fields and methods.

A plugin declares its fields in its schema (``schema()`` returning a
[`Schema`][earnorm_aop.plugin_system.schema.Schema], which also says how rows
that already exist are filled) or, shorter, ``fields`` (``{"deleted_at":
FieldSpec(...)}``, a list of [`FieldSpec`][earnorm_aop.adapters.base.FieldSpec], or a method
returning either, so field names can come from its configuration), and ``model_methods`` (a mapping
of name to callable, or a method returning one; each callable gets the model
instance first, unless it is a ``classmethod`` / ``staticmethod`` object, which
is installed as such, e.g. ``Model.with_deleted()``; one that takes ``adapter`` is given the
model's adapter, found when the plugin is woven, so a call looks nothing up).  They are added
through the model's adapter when the plugin is woven, before any advice, so an ORM sees
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
import inspect
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
    "follow_parent",
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
# the registry keeps them), by (plugin instance, function, adapter): each model of one
# ORM gets the same function, made once.  Another plugin's are made per model, as they die
# with it.
_methods: dict[tuple[Any, ...], Callable[..., Any]] = {}


def _model_method(func: Callable[..., Any], plugin: object, model: type) -> Callable[..., Any]:
    """``_as_method`` for ``model``, made once per adapter for a shared plugin instance's method."""
    owner = getattr(func, "__self__", None)
    if owner is None or not getattr(type(owner), "shared_by_models", False):
        return _as_method(func, plugin, adapter_for(model) if _asks_adapter(func) else None)
    key = (owner, func.__func__, adapter_for(model))  # type: ignore[attr-defined]
    found = _methods.get(key)
    if found is None:  # the signature is read once per function and adapter
        found = _methods[key] = _as_method(func, plugin, key[2] if _asks_adapter(func) else None)
    return found


def _asks_adapter(func: Callable[..., Any]) -> bool:
    """Whether the plugin's method takes ``adapter`` (the model's, given at weave time)."""
    try:
        found = inspect.signature(func).parameters.get("adapter")
    except (TypeError, ValueError):
        return False
    return found is not None and found.kind in (found.POSITIONAL_OR_KEYWORD, found.KEYWORD_ONLY)


def _as_method(func: Callable[..., Any], plugin: object, adapter: Any) -> Callable[..., Any]:
    """``func`` (a plugin instance's method) as a model method: the model instance first.

    Everything is decided here, when the plugin is woven: which plugin instance runs
    (``func``'s: a subclass weaving the plugin again with other options, ``softdelete`` with
    ``field="removed_at"``, gets a method of its own, see
    [`contribute`][earnorm_aop.plugin_system.contributions.contribute]) and, for a method that
    asks for ``adapter``, the model's adapter.  A call looks nothing up.
    """
    if adapter is None:

        @functools.wraps(func)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return func(self, *args, **kwargs)

    else:

        @functools.wraps(func)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return func(self, *args, adapter=adapter, **kwargs)

    method.__earnorm_from__ = (plugin, adapter)  # type: ignore[attr-defined]
    return method


def _made_from(value: Any) -> tuple[object, Any] | None:
    """The (plugin instance, adapter) a contributed class attribute runs with (None: not ours)."""
    if isinstance(value, classmethod | staticmethod):
        value = value.__func__
    return getattr(value, "__earnorm_from__", None)


def _same_source(a: tuple[object, Any] | None, b: tuple[object, Any] | None) -> bool:
    return a is not None and b is not None and a[0] is b[0] and a[1] is b[1]


def _inherited(model: type, method: str) -> tuple[str | None, Any]:
    """Who gave ``model``'s parents ``method``: (plugin name or None for the class's own, value)."""
    for klass in model.__mro__[1:]:
        if method in vars(klass):
            return _added.get(klass, {}).get(method), vars(klass)[method]
    return None, None


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
        added.methods += _contribute_methods(model, aspect)
    return added


def _contribute_methods(model: type, aspect: Aspect) -> list[str]:
    """Add ``aspect``'s model methods to ``model`` where it does not run them already."""
    added: list[str] = []
    for method, func in contributed_methods(aspect.name, aspect.plugin).items():
        mine = _added.setdefault(model, {})
        if method in vars(model) and mine.get(method) is None:
            continue  # the model's own method wins
        if isinstance(func, classmethod):
            value: Any = classmethod(_model_method(func.__func__, aspect.plugin, model))
        elif isinstance(func, staticmethod):
            value = func
        else:
            value = _model_method(func, aspect.plugin, model)
        if method not in vars(model) and hasattr(model, method):
            # Inherited: a parent's own method, or another plugin's, wins; the same
            # plugin's is replaced when this model runs another instance of it (other
            # options) or through another adapter.
            by, there = _inherited(model, method)
            if by != aspect.name or _same_source(_made_from(there), _made_from(value)):
                continue
        setattr(model, method, value)
        mine[method] = aspect.name
        added.append(method)
    return added


def follow_parent(model: type) -> None:
    """After ``model``'s plugins changed, each subclass runs the plugin instances in force on it.

    A subclass woven with its parent's options adds no method of its own: the parent's,
    made for the same plugin instance, serve it.  When the parent is unwoven, or woven
    again with other options (another instance), those are gone or run another instance;
    so each subclass (woven or not: the walk is ``__subclasses__``, empty for most models)
    drops the methods of instances no longer in force on it and adds those it now lacks.
    Fields are left alone (an ORM cannot drop a column at runtime, and a subclass has its
    parent's).
    """
    pending: list[type] = list(model.__subclasses__())
    seen: set[type] = set()
    while pending:
        sub = pending.pop()
        if sub in seen:
            continue
        seen.add(sub)
        pending += sub.__subclasses__()
        now = weaver.effective_aspects(sub)
        withdraw_unwoven(sub, now)
        for aspect in now:
            _contribute_methods(sub, aspect)


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
    now: dict[str, tuple[object, set[str]]] = {}
    for aspect in weaver.effective_aspects(model) if woven is None else woven:
        now[aspect.name] = (aspect.plugin, set(contributed_methods(aspect.name, aspect.plugin)))
    stale = [m for m, plugin in mine.items() if not _in_force(vars(model).get(m), now, plugin, m)]
    _remove_methods(model, stale)


def _in_force(
    value: Any, now: Mapping[str, tuple[object, set[str]]], plugin: str, name: str
) -> bool:
    """Whether the class attribute ``value`` runs what the plugin in force contributes now.

    A method made for a plugin instance no longer in force on the model goes (the model
    inherits its parent's, if any); one made for the instance in force stays.
    """
    if plugin not in now or name not in now[plugin][1]:
        return False
    made = _made_from(value)
    return made is None or made[0] is now[plugin][0]


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
