"""Reading a plugin class: its hooks, options and configuration, into a
[`PluginSpec`][earnorm_aop.plugin_system.spec.PluginSpec].

A plugin is a class whose methods are advice
([`earnorm_aop.plugin_system.declaration`][earnorm_aop.plugin_system.declaration] makes a class
one); ``@hook(...)`` binds a method to pointcuts or events explicitly, and naming conventions do it
implicitly (``before_save`` -> ``before:save`` where the model has ``save``; a public method named
like a model method -> ``chain:`` advice on it).  This module reads a plugin class once, at
registration, into a [`PluginSpec`][earnorm_aop.plugin_system.spec.PluginSpec]; the registry and the
model layer work from that.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import PluginError
from ..weaving.aspect import ErrorPolicy
from ..weaving.pointcut import (
    Kind,
    Pointcut,
    check_event_name,
    is_pointcut,
    parse_pointcut,
    split_event,
)
from .config import config_model, is_config_class
from .versioning import read_versioning

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["HookDecl", "PluginSpec", "collect_hooks", "hook", "read_spec"]

F = TypeVar("F", bound=Callable[..., Any])

# Class attributes a plugin uses for itself; never hooks.
_RESERVED_ATTRS = frozenset(
    {
        "name",
        "version",
        "requires",
        "priority",
        "description",
        "on_error",
        "max_failures",
        "abstract",
        "registry",
        "config",
        "Config",
        "fields",
        "schema",
        "model_methods",
        "visible_rows",
        "tracks_changes",
        "unused_hooks",
        "check_model",
        "config_version",
        "config_upgrades",
    }
)


def hook(
    spec: str | Sequence[str],
    *,
    optional: bool = False,
    loads: bool = False,
    **conditions: Any,
) -> Callable[[F], F]:
    """Bind a plugin method to a pointcut (``"around:get_*"``), an event, or a list of them.

    The spec is checked here, so a malformed pointcut fails when the plugin
    module is imported.  Keywords are conditions on the write's changes
    (``when=``, ``was=``, ``is_now=``, ``has_changed=``, ``changes_to=``,
    ``when_any=``, ``condition=``; see
    [`earnorm_aop.plugin_system.conditions`][earnorm_aop.plugin_system.conditions]). ``loads=True``
    (with ``"after_access"`` only): the handler also runs for each record a query loads (the
    ``after_query_load`` event), not only for ``get``; without it, loading 10,000 rows calls
    nothing.
    """
    from .conditions import Condition

    try:
        condition = Condition.of(conditions)
    except TypeError as exc:
        raise PluginError(
            f"@hook({spec!r}): {exc}; conditions are when, was, is_now, has_changed, "
            "changes_to, when_any and condition"
        ) from None
    if isinstance(spec, str):
        specs = [spec]
    elif isinstance(spec, list | tuple) and all(isinstance(s, str) for s in spec):
        specs = list(spec)
    else:
        raise PluginError(
            "@hook takes a pointcut ('before:save'), an event name ('after_change') "
            f"or a list of them, not {spec!r}"
        )
    if not specs:
        raise PluginError("@hook needs at least one pointcut or event name")
    if loads:
        if "after_access" not in specs:
            raise PluginError(
                f"@hook({spec!r}, loads=True): loads= asks for the records a query loads, "
                "an option of 'after_access' only; write @hook(\"after_access\", loads=True)"
            )
        specs.append("after_query_load")
    for s in specs:
        if is_pointcut(s):
            parse_pointcut(s)
        else:
            check_event_name(s)

    def mark(func: F) -> F:
        # Above @staticmethod / @classmethod: mark the function inside, which
        # is where collect_hooks looks (and what the class attribute binds).
        inner = func.__func__ if isinstance(func, staticmethod | classmethod) else func
        if not callable(inner) or isinstance(inner, type):
            raise PluginError(
                f"@hook({spec!r}) decorates a method of a plugin class, not "
                f"{type(func).__name__} {func!r}"
            )
        hooks: list[tuple[str, bool, Any]] = list(getattr(inner, "__earnorm_hooks__", ()))
        hooks.extend((s, optional, condition) for s in specs)
        inner.__earnorm_hooks__ = tuple(hooks)  # type: ignore[attr-defined]
        return func

    return mark


@dataclass(frozen=True)
class HookDecl:
    """One hook of a plugin class: which method, bound to what."""

    attr: str  # the plugin method's name
    spec: str  # pointcut ("before:save") or event name ("before_save", "after_change")
    optional: bool
    implicit: bool = False  # a public method named like a model method (chain advice)
    condition: Any = None  # a conditions.Condition on the write's changes

    def target(self) -> Pointcut | str:
        if self.implicit:
            return Pointcut(Kind.CHAIN, (self.spec,))
        return parse_pointcut(self.spec) if is_pointcut(self.spec) else self.spec

    def __str__(self) -> str:
        return f"chain:{self.spec}" if self.implicit else self.spec


@dataclass(frozen=True)
class PluginSpec:
    """What a plugin class declares, read once when it is registered."""

    cls: type
    version: str
    requires: Mapping[str, str]  # name -> version specifier ("" = any)
    priority: int
    description: str | None
    on_error: ErrorPolicy
    max_failures: int
    hooks: tuple[HookDecl, ...]
    config: type[BaseModel]
    uses_nested_config: bool
    config_version: int = 1
    """The version of the configuration's shape (see
    [`versioning`][earnorm_aop.plugin_system.versioning])."""
    config_upgrades: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]] = field(
        default_factory=dict
    )

    @property
    def hook_names(self) -> tuple[str, ...]:
        return tuple(str(h) for h in self.hooks)


def _functions(cls: type) -> dict[str, Any]:
    """Methods defined by ``cls`` and its plugin bases (not object / BasePlugin), nearest first."""
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass is object or klass.__dict__.get("_earnorm_plugin_base", False):
            continue
        for attr, value in vars(klass).items():
            if attr not in found:
                found[attr] = value
    return found


def collect_hooks(cls: type) -> tuple[HookDecl, ...]:
    """Every hook of ``cls``: ``@hook`` marks, convention names, public model-method names."""
    hooks: list[HookDecl] = []
    for attr, value in _functions(cls).items():
        func = value.__func__ if isinstance(value, staticmethod | classmethod) else value
        if attr in _RESERVED_ATTRS:
            continue
        split = split_event(attr)
        if split is not None and not callable(func):
            raise PluginError(
                f"plugin class {cls.__qualname__}: attribute {attr!r} is named like a hook "
                f"({split[0].value}:{split[1]}) but is {type(value).__name__} {value!r}, not "
                "a method; make it a method or rename it"
            )
        if not callable(func) or isinstance(func, type):
            continue
        marks = getattr(func, "__earnorm_hooks__", None)
        # @when(...) on the method: the condition of its marks that have none.
        default = getattr(func, "__earnorm_condition__", None)
        if marks:
            hooks.extend(
                HookDecl(attr, spec, optional, condition=cond or default)
                for spec, optional, cond in marks
            )
        elif split_event(attr) is not None:
            hooks.append(HookDecl(attr, attr, optional=False, condition=default))
        elif not attr.startswith("_") and inspect.isfunction(func):
            hooks.append(HookDecl(attr, attr, optional=True, implicit=True))
    return tuple(hooks)


def _requires(cls: type, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        out = {str(k): (v or "") for k, v in value.items()}
    else:
        out = {str(k): "" for k in value}
    for name, specifier in out.items():
        if specifier:
            from .dependencies import parse_specifier

            parse_specifier(cls.__name__, name, specifier)
    return out


def _check_init(cls: type, name: str) -> None:
    """Options are passed to ``__init__`` by keyword: a positional-only one cannot be set."""
    init = getattr(cls, "__init__", object.__init__)
    if init is object.__init__:
        return
    try:
        params = list(inspect.signature(init).parameters.values())[1:]
    except (TypeError, ValueError):
        return
    for p in params:
        if p.kind is p.POSITIONAL_ONLY:
            raise PluginError(
                f"plugin {name!r}: option {p.name!r} of {cls.__qualname__}.__init__ is "
                "positional-only (before '/'), but options are passed by keyword; "
                "remove the '/'"
            )


def read_spec(cls: Any, name: str) -> PluginSpec:
    """Read a plugin class into a [`PluginSpec`][earnorm_aop.plugin_system.spec.PluginSpec]
    ([`PluginError`][earnorm_aop.errors.PluginError] if it is not one)."""
    if not isinstance(cls, type):
        raise PluginError(
            f"plugin {name!r} must be a class (with hook methods such as before_save), "
            f"not {type(cls).__name__} {cls!r}"
        )
    hooks = collect_hooks(cls)
    # A plugin that only declares what it stores (a schema or fields) is one too:
    # its fields are added and migrated, with no advice.
    if not hooks and not any(getattr(cls, a, None) is not None for a in ("schema", "fields")):
        raise PluginError(
            f"class {cls.__qualname__} registered as plugin {name!r} has no hooks: define "
            "methods like before_save(self, instance) or mark them with @hook('before:save'), "
            "or declare what it stores with schema()"
        )
    on_error: ErrorPolicy = getattr(cls, "on_error", "raise")
    if on_error not in ("raise", "log", "disable"):
        raise PluginError(
            f"plugin {name!r}: on_error must be 'raise', 'log' or 'disable', not {on_error!r}"
        )
    max_failures = getattr(cls, "max_failures", 3)
    if not isinstance(max_failures, int) or max_failures < 1:
        raise PluginError(f"plugin {name!r}: max_failures must be a positive int")
    priority = getattr(cls, "priority", 0)
    if not isinstance(priority, int):
        raise PluginError(f"plugin {name!r}: priority must be an int, not {priority!r}")
    nested = getattr(cls, "Config", None)
    uses_nested = is_config_class(nested)
    if not uses_nested:
        _check_init(cls, name)
    requires = _requires(cls, getattr(cls, "requires", ()))
    config_version, config_upgrades = read_versioning(cls, name)
    return PluginSpec(
        cls=cls,
        version=str(getattr(cls, "version", "0.1.0")),
        requires=requires,
        priority=priority,
        description=getattr(cls, "description", None) or _docstring(cls),
        on_error=on_error,
        max_failures=max_failures,
        hooks=hooks,
        config=config_model(cls),
        uses_nested_config=uses_nested,
        config_version=config_version,
        config_upgrades=config_upgrades,
    )


def _docstring(cls: type) -> str | None:
    """The plugin's own docstring (or an ancestor's of the user's), never ``BasePlugin``'s.

    ``inspect.getdoc`` would inherit the base class's text, and ``earnorm-aop info``
    would describe every plugin without a docstring as "Optional base class for plugins".
    """
    for klass in cls.__mro__:
        if klass is object or "_earnorm_plugin_base" in klass.__dict__:
            return None
        doc = klass.__dict__.get("__doc__")
        if isinstance(doc, str) and doc.strip():
            return inspect.cleandoc(doc)
    return None
