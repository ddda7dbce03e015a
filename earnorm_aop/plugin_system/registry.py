"""The plugin registry: names to plugin classes, live switches, metrics and health.

Name resolution: a name registered explicitly wins; otherwise it is looked up among the entry
points of the group ``earnorm_aop.plugins`` (which is how the built-in plugins are found).  So a
user's ``@plugin("timestamp")`` shadows the built-in, which warns once unless ``replace=True`` (see
[`shadowing`][earnorm_aop.plugin_system.shadowing]).  Each name has one
[`Switch`][earnorm_aop.weaving.aspect.Switch] shared by every model that uses it, so
``disable(name)`` reaches them all.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import DuplicatePluginError, PluginError, PluginNotFoundError
from ..weaving import metering, scope, weaver
from ..weaving.aspect import AdviceSpec, Aspect, Switch
from ._hints import note_registered, unregistered_hint
from .conditions import ConditionalAdviceSpec
from .config import freeze, json_schema, validate_config
from .instances import instantiate, shared_key
from .rollout import Rollout, Rollouts
from .shadowing import builtin_path, warn_shadowing
from .spec import PluginSpec, read_spec
from .versioning import upgrade_config

if TYPE_CHECKING:
    import importlib.metadata

__all__ = ["PluginInfo", "PluginRegistry", "registry"]


class Board(Protocol):
    """What the registry needs of a switchboard it shares its switches through.

    The boards themselves (``Switchboard``, ``RedisSwitchboard``) live in the
    operators' runtime, a layer above this one: they re-weave models through
    the plugin layer, so the registry knows them only by this protocol.
    """

    def attach(self, registry: PluginRegistry) -> None: ...
    def close(self) -> None: ...
    def publish(self, name: str, enabled: bool, *, origin: str) -> None: ...
    def shared_config(self, name: str, model: type) -> dict[str, Any] | None: ...
    def reconfigure(self, model: type, name: str, **config: Any) -> None: ...


B = TypeVar("B", bound=Board)

GROUP = "earnorm_aop.plugins"


@dataclass(frozen=True)
class PluginInfo:
    """What
    [`PluginRegistry.get_plugin`][earnorm_aop.plugin_system.registry.PluginRegistry.get_plugin]
    tells about a plugin."""

    name: str
    version: str
    hooks: tuple[str, ...]
    requires: Mapping[str, str]
    priority: int
    description: str | None
    config_schema: dict[str, Any]
    enabled: bool
    source: str
    cls: type


@dataclass
class _Entry:
    """A registered or discovered plugin; entry points are loaded on first use."""

    name: str
    source: str
    spec: PluginSpec | None = None
    entry_point: importlib.metadata.EntryPoint | None = None

    def load(self) -> PluginSpec:
        if self.spec is None:
            assert self.entry_point is not None
            try:
                cls = self.entry_point.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {self.name!r} from entry point {self.entry_point.value!r} "
                    f"failed to load: {exc}"
                ) from exc
            self.spec = read_spec(cls, self.name)
        return self.spec


class PluginRegistry(Rollouts):
    """Plugins by name, with their live on/off switches.

    ``group`` is the entry-point group searched for names not registered
    explicitly (``None`` turns discovery off, for isolated registries).
    """

    def __init__(self, group: str | None = GROUP) -> None:
        self.group = group
        self._explicit: dict[str, _Entry] = {}
        self._discovered: dict[str, _Entry] = {}
        self._discovery_done = False
        self._switches: dict[str, Switch] = {}
        self._instances: weakref.WeakKeyDictionary[type, dict[tuple[Any, ...], Aspect]] = (
            weakref.WeakKeyDictionary()
        )
        # The aspects of plugins one instance serves on every model (``shared_by_models``),
        # by (class, plain configuration): weaving one more model copies nothing of them.
        self._shared: dict[tuple[Any, ...], Aspect] = {}
        self._lock = threading.RLock()
        self._board: Board | None = None
        self._shadowing: dict[str, str] = {}  # built-in name -> its class path (warned of)

    # -- registration ----------------------------------------------------------

    def register(self, name: str, cls: type, *, replace: bool = False) -> None:
        """Register ``cls`` as plugin ``name`` (``replace=True`` to displace another class)."""
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(
                f"a plugin name must be an identifier such as 'softdelete', not {name!r}"
            )
        spec = read_spec(cls, name)
        with self._lock:
            existing = self._explicit.get(name)
            if existing is not None and existing.spec is not None:
                if existing.spec.cls is cls:
                    return
                if not replace:
                    raise DuplicatePluginError(
                        f"plugin {name!r} is already registered as "
                        f"{existing.spec.cls.__module__}.{existing.spec.cls.__qualname__}; "
                        f"pass replace=True to register {cls.__qualname__} instead"
                    )
            self._explicit[name] = _Entry(name, "registered", spec)
            note_registered(cls, name)
            builtin = self._builtin(name)
            if builtin is None or builtin == f"{cls.__module__}:{cls.__qualname__}":
                self._shadowing.pop(name, None)
                return
            warn = not replace and name not in self._shadowing
            self._shadowing[name] = builtin
        if warn:
            warn_shadowing(name, cls, builtin)

    def _builtin(self, name: str) -> str | None:
        """``module:Class`` of the built-in plugin ``name``, if this registry discovers one."""
        if self.group != GROUP:
            return None
        self._auto_discover()
        entry = self._discovered.get(name)
        return None if entry is None else builtin_path(entry.entry_point)

    def shadowed(self) -> dict[str, tuple[str, str]]:
        """Built-in plugins replaced by an explicit registration: name -> (built-in, winner).

        Both as dotted class paths; ``earnorm-aop check`` prints them, so that a
        replacement nobody meant shows.
        """
        with self._lock:
            return {
                name: (self._shadowing[name].replace(":", "."), _path(e.spec.cls))
                for name in sorted(self._shadowing)
                if (e := self._explicit.get(name)) is not None and e.spec is not None
            }

    def register_many(self, mapping: Mapping[str, type], *, replace: bool = False) -> None:
        """Register several plugins: ``{"timestamp": TimestampPlugin, ...}``."""
        for name, cls in mapping.items():
            self.register(name, cls, replace=replace)

    def unregister(self, name: str) -> None:
        """Forget an explicitly registered plugin: new declarations no longer find ``name``.

        Models already woven keep it, running as before, and it stays
        manageable by name while any model weaves it: ``enable``,
        ``disable``, ``disabled``, ``metrics``, ``health`` and
        ``unweave(model, name)`` work as they did.  Unweaving it from the last
        of them makes the name unknown everywhere.
        """
        with self._lock:
            if name not in self._explicit:
                raise PluginNotFoundError(name, self._explicit, " registered explicitly")
            del self._explicit[name]
            self._shadowing.pop(name, None)

    def discover(self, group: str | None = None) -> list[str]:
        """Find plugins advertised as entry points of ``group``; return their names."""
        group = group or self.group or GROUP
        found = []
        with self._lock:
            import importlib.metadata  # here, not at import: it is slow to import

            for ep in importlib.metadata.entry_points(group=group):
                dist = getattr(ep, "dist", None)
                where = f"entry point {ep.value}" + (f" ({dist.name})" if dist is not None else "")
                if ep.name not in self._discovered:
                    self._discovered[ep.name] = _Entry(ep.name, where, entry_point=ep)
                found.append(ep.name)
            if group == self.group:
                self._discovery_done = True
        return found

    # -- lookup ----------------------------------------------------------------

    def names(self) -> list[str]:
        """Every known plugin name (registered or discovered)."""
        self._auto_discover()
        with self._lock:
            return sorted(set(self._explicit) | set(self._discovered))

    def _auto_discover(self) -> None:
        if not self._discovery_done and self.group is not None:
            self.discover(self.group)

    def _entry(self, name: str) -> _Entry:
        with self._lock:
            entry = self._explicit.get(name)
            if entry is None:
                self._auto_discover()
                entry = self._discovered.get(name)
            if entry is None:
                raise PluginNotFoundError(
                    name,
                    set(self._explicit) | set(self._discovered),
                    hint=unregistered_hint(name, self._classes()),
                )
            return entry

    def _managed(self, name: str) -> None:
        """Check that ``name`` can be switched or measured: known, or unregistered but in use."""
        try:
            self._entry(name)
        except PluginNotFoundError:
            if not self._in_use(name):
                raise

    def _in_use(self, name: str) -> bool:
        """Whether a model weaves this registry's plugin ``name`` (registered or not any more)."""
        with self._lock:
            sw = self._switches.get(name)
        return sw is not None and bool(weaver.classes_with(sw))

    def _classes(self) -> dict[str, type]:
        """The plugin class of each name registered explicitly (not discovered) and loaded."""
        return {n: e.spec.cls for n, e in self._explicit.items() if e.spec is not None}

    def spec(self, name: str) -> PluginSpec:
        """The plugin class's spec for ``name`` (loading an entry point if needed)."""
        return self._entry(name).load()

    def serving(self, role: str) -> str | None:
        """The name of the plugin that serves ``role`` (a ``serves`` class attribute), or None.

        The plugin layer weaves such a plugin by itself where a model needs
        its service ([`services`][earnorm_aop.plugin_system.services]), without naming it: a plugin
        registered here wins, then a built-in (only the built-ins' entry points
        are loaded for it, never a third party's).
        """
        self._auto_discover()
        with self._lock:
            known = {n: e for n, e in self._explicit.items() if e.spec is not None}
            built_in = [
                e
                for n, e in sorted(self._discovered.items())
                if n not in known and builtin_path(e.entry_point) is not None
            ]
        for name, entry in known.items():
            if getattr(entry.spec.cls if entry.spec else None, "serves", None) == role:
                return name
        for entry in built_in:
            if getattr(entry.load().cls, "serves", None) == role:
                return entry.name
        return None

    def switch(self, name: str) -> Switch:
        """The live on/off switch shared by every model using ``name``."""
        with self._lock:
            sw = self._switches.get(name)
            if sw is None:
                sw = self._switches[name] = Switch(name)
            return sw

    def get_plugin(self, name: str) -> PluginInfo:
        """Name, version, hooks, requirements, config schema, state and source of ``name``."""
        entry = self._entry(name)
        spec = entry.load()
        return PluginInfo(
            name=name,
            version=spec.version,
            hooks=spec.hook_names,
            requires=dict(spec.requires),
            priority=spec.priority,
            description=spec.description,
            config_schema=json_schema(spec.config),
            enabled=self.switch(name).enabled,
            source=entry.source,
            cls=spec.cls,
        )

    def plugins(self) -> list[PluginInfo]:
        """Info on every known plugin, by name."""
        return [self.get_plugin(n) for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    # -- live toggles ----------------------------------------------------------

    def enable(self, name: str) -> None:
        """Switch ``name`` on again on every model, at once (every process, when shared)."""
        self._managed(name)
        weaver.set_enabled(self.switch(name), True)
        if self._board is not None:
            self._board.publish(name, True, origin="enable")

    def disable(self, name: str) -> None:
        """Switch ``name`` off on every model, at once; a disabled plugin costs nothing."""
        self._managed(name)
        weaver.set_enabled(self.switch(name), False)
        if self._board is not None:
            self._board.publish(name, False, origin="disable")

    # -- sharing switches between processes -------------------------------------------

    def share(self, board: B) -> B:
        """Share this registry's switches with every process attached to ``board``.

        ``registry.share(RedisSwitchboard(url, namespace="shop"))`` reads the
        shared states and applies them, then keeps applying what other
        processes change; this process's toggles and auto-disables reach them
        (see [`earnorm_aop.runtime.switchboard`][earnorm_aop.runtime.switchboard]).  Sharing again
        replaces the board.
        """
        with self._lock:
            previous, self._board = self._board, None
        if previous is not None:
            previous.close()
        board.attach(self)
        with self._lock:
            self._board = board
        return board

    def unshare(self) -> None:
        """Stop sharing: switches keep their states and become local again."""
        with self._lock:
            board, self._board = self._board, None
        if board is not None:
            board.close()

    @property
    def switchboard(self) -> Board | None:
        """The board this registry shares its switches through, if any."""
        return self._board

    def shares_switch(self, switch: Switch) -> bool:
        """Whether ``switch`` is this registry's switch for its name."""
        with self._lock:
            return self._switches.get(switch.name) is switch

    @contextmanager
    def disabled(self, *names: str) -> Iterator[None]:
        """Switch plugins off for the current thread / asyncio task only, inside the block."""
        for name in names:
            self._managed(name)
        switches = frozenset(self.switch(n) for n in names)
        token = scope.DISABLED.set(scope.DISABLED.get() | switches)
        try:
            weaver.context_scope_opened(switches)
        except BaseException:
            scope.DISABLED.reset(token)  # not entered: nothing stays off
            raise
        try:
            yield
        finally:
            scope.DISABLED.reset(token)
            weaver.context_scope_closed(switches)

    # -- aspects for models ------------------------------------------------------

    def aspect_for(self, name: str, model: type, values: Mapping[str, Any] | None = None) -> Aspect:
        """The aspect of plugin ``name`` configured with ``values`` for ``model``.

        The configuration is validated here ([`PluginConfigError`][earnorm_aop.PluginConfigError]
        names the plugin, the model and the field); the plugin instance is created
        once per (model, configuration).
        """
        spec = self.spec(name)
        shared = shared_key(spec, values)
        if shared is not None:
            found = self._shared.get(shared)
            if found is not None:
                return found
        given = upgrade_config(
            name, model.__qualname__, spec.config_version, spec.config_upgrades, values or {}
        )
        config = validate_config(name, model.__qualname__, spec.config, given)
        key = (spec.cls, freeze(config))
        with self._lock:
            cache = self._instances.setdefault(model, {})
            aspect = cache.get(key)
            if aspect is not None:
                return aspect
            obj = instantiate(spec, config)
            # A plugin may leave out the hooks its configuration makes no-ops
            # (``changes`` without ``update_fields``): no layer woven for them.
            unused = frozenset(getattr(obj, "unused_hooks", ()))
            aspect = Aspect(
                name,
                tuple(
                    AdviceSpec(getattr(obj, h.attr), h.target(), optional=h.optional, name=h.attr)
                    if h.condition is None
                    else ConditionalAdviceSpec(
                        getattr(obj, h.attr),
                        h.target(),
                        optional=h.optional,
                        name=h.attr,
                        condition=h.condition,
                    )
                    for h in spec.hooks
                    if h.attr not in unused
                ),
                priority=spec.priority,
                requires=tuple(spec.requires),
                on_error=spec.on_error,
                max_failures=spec.max_failures,
                switch=self.switch(name),
                plugin=obj,
            )
            cache[key] = aspect
            if shared is not None:
                self._shared[shared] = aspect
            return aspect

    # -- observability -----------------------------------------------------------

    def metrics(self, name: str) -> dict[str, Any]:
        """Counters of ``name``: models using it, advice failures, last error, state.

        ``failures`` (advice failures its error policy handled) and
        ``auto_disables`` are always counted; ``runs`` (advice runs by outcome:
        ``ok``, ``veto``, ``recovered``, ``raised``, ``failed``) and ``seconds``
        (time spent in its advice; an ``around`` advice's includes the call it
        wraps) only while metrics are on (``earnorm_aop.start_metering()``),
        which ``metering`` tells.
        """
        self._managed(name)
        sw = self.switch(name)
        models = weaver.classes_with(sw)
        with sw.lock:
            runs, seconds = dict(sw.runs), sw.seconds
        return {
            "name": name,
            "enabled": sw.enabled,
            "auto_disabled": sw.auto_disabled,
            "models": [m.__qualname__ for m in models],
            "failures": sw.failures,
            "consecutive_failures": sw.consecutive_failures,
            "last_error": None if sw.last_error is None else repr(sw.last_error),
            "auto_disables": sw.auto_disables,
            "metering": metering.active(),
            "runs": runs,
            "seconds": seconds,
            "rollout": sw.rollout.as_dict() if isinstance(sw.rollout, Rollout) else None,
        }

    def health(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded", "plugins": {name: metrics}}`` for plugins in use.

        Degraded when a plugin was switched off by its error policy or its
        last advice run failed.
        """
        with self._lock:
            names = sorted(self._switches)
        known = set(self.names())
        plugins = {n: self.metrics(n) for n in names if n in known or self._in_use(n)}
        degraded = any(m["auto_disabled"] or m["consecutive_failures"] for m in plugins.values())
        return {"status": "degraded" if degraded else "ok", "plugins": plugins}


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


registry = PluginRegistry()
