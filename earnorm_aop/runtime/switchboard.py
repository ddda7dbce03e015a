"""Shared switchboards: one plugin on/off switch for every process.

``registry.disable("audit")`` switches a plugin off in one process.  A
deployment runs many: ``registry.share(board)`` attaches a
[`Switchboard`][earnorm_aop.runtime.switchboard.Switchboard] that keeps the switch states somewhere
every process reads ([`RedisSwitchboard`][earnorm_aop.runtime.redis_switchboard.RedisSwitchboard]: a
Redis hash and a pub/sub channel).  From then on:

* ``registry.enable(name)`` / ``disable(name)`` and a ``max_failures``
  auto-disable are applied here at once, as before, and handed to the board,
  which writes them for the other processes (never on the caller's thread:
  a model operation that trips ``max_failures`` is not slowed by the network);
* a state another process wrote is applied here by the same re-weaving path a
  local toggle takes
  ([`earnorm_aop.weaving.weaver.set_enabled`][earnorm_aop.weaving.weaver.set_enabled]), so calls
  cost exactly what they cost without a board.

A *reconfiguration* travels the same way: ``board.reconfigure(Model, "cache",
ttl=30)`` weaves the new options here (as ``weave`` does) and every process
that has ``Model`` (same module and qualified name, same registry) re-weaves
it with them; a process that weaves ``Model`` later takes the shared options
instead of the declared ones.  Options travel as JSON: values, and callables
or classes by their dotted import path.

Every written state carries a version (one counter per namespace); a state is
applied only when it is newer than the one this process knows (its
[`order`][earnorm_aop.runtime.switchboard.SwitchState.order]: the version, then the time and the
writer, so two states never tie), so late or repeated reads change nothing.  A local toggle
and the application of a shared state are serialised (``Switchboard._as_one``),
so the switch in force and the change handed to the transport always agree.

What is shared is read as data, never trusted as it comes:
[`SwitchState.from_dict`][earnorm_aop.runtime.switchboard.SwitchState.from_dict] and
[`SharedConfig.from_dict`][earnorm_aop.runtime.switchboard.SharedConfig.from_dict] check every
field's type (``"enabled": "false"`` is refused, not read as true) and raise ``ValueError`` naming
what is wrong; a board logs such an entry once and skips it.  This module holds what any board
shares; the transport lives in its subclass.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..errors import PluginConfigError
from ..weaving import weaver
from ..weaving.aspect import Switch

if TYPE_CHECKING:
    from ..plugin_system.registry import PluginRegistry

__all__ = ["ROLLOUT", "SharedConfig", "SwitchState", "Switchboard", "model_path", "origin_label"]

# The origin of a state written to announce that a plugin's rollout changed.
ROLLOUT = "rollout"

log = logging.getLogger("earnorm_aop.switchboard")


def origin_label() -> str:
    """Who writes a state: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class SwitchState:
    """One plugin's shared state, as written by the last process that changed it.

    ``origin`` says what changed it: ``"enable"`` / ``"disable"`` (the
    registry's methods), ``"max_failures"`` (an auto-disable), ``"cli"``.
    """

    name: str
    enabled: bool
    version: int
    auto_disabled: bool = False
    origin: str = ""
    by: str = ""
    time: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def order(self) -> tuple[int, float, str]:
        """What "newer" means: the version, then the time and the writer (never a tie)."""
        return (self.version, self.time, self.by)

    @classmethod
    def from_dict(cls, data: Any) -> SwitchState:
        """The state ``data`` holds; ``ValueError`` naming the field that is wrong."""
        data = _mapping(data, "a switch state")
        return cls(
            name=_typed(data, "name", str),
            enabled=_typed(data, "enabled", bool),
            version=_version(data),
            auto_disabled=_typed(data, "auto_disabled", bool, False),
            origin=_typed(data, "origin", str, ""),
            by=_typed(data, "by", str, ""),
            time=_time(data),
        )


def model_path(model: type) -> str:
    """How processes name a model to each other: ``module.QualifiedName``."""
    return f"{model.__module__}.{model.__qualname__}"


@dataclass(frozen=True)
class SharedConfig:
    """Options of plugin ``name`` on the model at ``model`` (a
    [`model_path`][earnorm_aop.runtime.switchboard.model_path]), shared."""

    name: str
    model: str
    config: dict[str, Any]
    version: int
    origin: str = "reconfigure"
    by: str = ""
    time: float = 0.0

    @property
    def field(self) -> str:
        return config_field(self.name, self.model)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "config", **asdict(self)}

    def order(self) -> tuple[int, float, str]:
        """What "newer" means: the version, then the time and the writer (never a tie)."""
        return (self.version, self.time, self.by)

    @classmethod
    def from_dict(cls, data: Any) -> SharedConfig:
        """The configuration ``data`` holds; ``ValueError`` naming the field that is wrong."""
        data = _mapping(data, "a shared configuration")
        config = _typed(data, "config", dict)
        if not all(isinstance(k, str) for k in config):
            raise ValueError("a shared configuration's 'config' has option names as keys")
        return cls(
            name=_typed(data, "name", str),
            model=_typed(data, "model", str),
            config=dict(config),
            version=_version(data),
            origin=_typed(data, "origin", str, "reconfigure"),
            by=_typed(data, "by", str, ""),
            time=_time(data),
        )


_REQUIRED: Any = object()


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} is a JSON object, not {type(data).__name__}")
    return data


def _typed(data: Mapping[str, Any], key: str, kind: type, default: Any = _REQUIRED) -> Any:
    """``data[key]`` if it is exactly a ``kind`` (a bool is no int, a text no bool)."""
    if key not in data:
        if default is _REQUIRED:
            raise ValueError(f"the field {key!r} is missing")
        return default
    value = data[key]
    if type(value) is not kind and not (kind is dict and isinstance(value, dict)):
        raise ValueError(f"the field {key!r} is a {kind.__name__}, not {value!r}")
    return value


def _version(data: Mapping[str, Any]) -> int:
    version: int = _typed(data, "version", int)
    if version < 1:
        raise ValueError(f"the field 'version' is a positive int, not {version!r}")
    return version


def _time(data: Mapping[str, Any]) -> float:
    value = data.get("time", 0.0)
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError(f"the field 'time' is a number of seconds, not {value!r}")
    return float(value)


_CONFIG = "config:"


def config_field(name: str, model: str) -> str:
    """The key of a shared configuration among the switch states (never a plugin name)."""
    return f"{_CONFIG}{name}:{model}"


def is_config_field(field: str) -> bool:
    """Whether ``field`` (a key among the switch states) is a shared configuration's."""
    return field.startswith(_CONFIG)


# Boards attached to a registry, for the auto-disable hook below.
_attached: weakref.WeakSet[Switchboard] = weakref.WeakSet()


class Switchboard:
    """What a shared board does for the registry it is attached to.

    A subclass moves states: it calls [`apply`][earnorm_aop.runtime.switchboard.Switchboard.apply]
    with each state it reads (at start, on reconnect, on an announcement) and writes what
    [`publish`][earnorm_aop.runtime.switchboard.Switchboard.publish] hands it.  ``publish`` must not
    block.
    """

    registry: PluginRegistry | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Held while a switch is flipped together with what the board records of it:
        # a local toggle (flip + hand over) and a shared state's application
        # (known + flip) never interleave.
        self._switching = threading.RLock()
        # The state of each plugin this process last applied or wrote.
        self._known: dict[str, SwitchState] = {}
        # The shared options this process last applied or wrote, by config_field().
        self._configs: dict[str, SharedConfig] = {}

    # -- the registry's side ---------------------------------------------------------

    def attach(self, registry: PluginRegistry) -> None:
        """Start sharing ``registry``'s switches (read the shared states first)."""
        self.registry = registry
        _attached.add(self)

    def close(self) -> None:
        """Stop sharing; the switches keep their current states."""
        _attached.discard(self)
        self.registry = None

    def _as_one(self, name: str, enabled: bool, hand_over: Callable[[], None]) -> None:
        """Keep a local change just made in force and hand it over, as one step.

        ``registry.enable``/``disable`` (or an auto-disable) flipped the switch
        before calling [`publish`][earnorm_aop.runtime.switchboard.Switchboard.publish]; a shared
        state applied in between (it waits for this step) may have flipped it back: it is flipped
        again (a no-op otherwise), so what is in force is what is handed over.
        """
        with self._switching:
            registry = self.registry
            if registry is not None:
                weaver.set_enabled(registry.switch(name), enabled)
            hand_over()

    def publish(self, name: str, enabled: bool, *, origin: str) -> None:
        """Hand a local change to the other processes (without blocking)."""
        raise NotImplementedError

    def publish_config(self, name: str, model: str, config: dict[str, Any]) -> None:
        """Hand a local reconfiguration to the other processes (without blocking)."""
        raise NotImplementedError

    def reconfigure(self, model: type, name: str, **config: Any) -> None:
        """Re-configure ``name`` on ``model`` here and in every process sharing this board.

        Validated and woven here first (a bad option raises
        [`PluginConfigError`][earnorm_aop.PluginConfigError] before anything is shared).
        """
        from ..plugin_system.config import validate_config
        from ..plugin_system.model import apply_plugins
        from ..plugin_system.versioning import KEY, upgrade_config

        registry = self.registry
        if registry is None:
            raise RuntimeError("reconfigure() needs the board shared: registry.share(board)")
        spec = registry.spec(name)
        # An older configuration is upgraded here (one warning), then shared as the
        # current version (stated when the plugin versions its configuration), which a
        # process with another release of the plugin upgrades or refuses in its turn.
        current = upgrade_config(
            name, model.__qualname__, spec.config_version, spec.config_upgrades, config
        )
        validated = validate_config(name, model.__qualname__, spec.config, current)
        values = validated.model_dump(mode="json")
        values.update(validated.model_extra or {})
        apply_plugins(model, {name: current}, registry)
        if spec.config_version > 1:  # unversioned plugins share what they always shared
            values[KEY] = spec.config_version
        self.publish_config(name, model_path(model), values)

    def shared_config(self, name: str, model: type) -> dict[str, Any] | None:
        """The shared options of ``name`` on ``model``, if a reconfiguration set them."""
        if not self._configs:
            return None
        with self._lock:
            shared = self._configs.get(config_field(name, model_path(model)))
        return None if shared is None else dict(shared.config)

    # -- the transport's side --------------------------------------------------------

    def known_version(self, field: str) -> int:
        """The version of the state or shared configuration this process knows (0: none)."""
        with self._lock:
            entry: SwitchState | SharedConfig | None = (
                self._configs.get(field) if is_config_field(field) else self._known.get(field)
            )
            return 0 if entry is None else entry.version

    def known_configs(self) -> dict[str, SharedConfig]:
        with self._lock:
            return dict(self._configs)

    def known(self) -> dict[str, SwitchState]:
        """The last state this process applied or wrote, by plugin name."""
        with self._lock:
            return dict(self._known)

    def remember(self, entry: SwitchState | SharedConfig) -> None:
        """Note a state or configuration this process wrote (it is already in force here)."""
        with self._lock:
            if isinstance(entry, SharedConfig):
                seen = self._configs.get(entry.field)
                if seen is None or seen.order() < entry.order():
                    self._configs[entry.field] = entry
                return
            current = self._known.get(entry.name)
            if current is None or current.order() < entry.order():
                self._known[entry.name] = entry

    def apply(self, state: SwitchState) -> bool:
        """Put ``state`` in force here if it is newer than what this process knows.

        The switch is flipped by re-weaving, as ``registry.enable``/``disable``
        do, without announcing it again.  Returns whether anything was applied.
        """
        with self._switching:
            with self._lock:
                current = self._known.get(state.name)
                if current is not None and current.order() >= state.order():
                    return False
                self._known[state.name] = state
            self._in_force(state)
            # Any newer state may follow a rollout's announcement (a catch-up reads
            # the latest only): read the plugin's rollout again with each one.
            self.rollout_changed(state.name)
            return True

    def settle(self, name: str) -> bool:
        """Make the switch of ``name`` match the state this process knows; whether it differed.

        A repair: a toggle racing with an auto-disable, say, can leave the
        switch other than the state that was last written for it.
        """
        with self._switching:
            with self._lock:
                state = self._known.get(name)
            registry = self.registry
            if state is None or registry is None or name not in registry:
                return False
            switch = registry.switch(name)
            if switch.enabled == state.enabled:
                return False
            self._in_force(state)
            return True

    def _in_force(self, state: SwitchState) -> None:
        registry = self.registry
        if registry is None:
            return
        switch = registry.switch(state.name)
        weaver.set_enabled(switch, state.enabled)
        if not state.enabled and state.auto_disabled:
            switch.auto_disabled = True

    # -- rollouts (registry.rollout) -----------------------------------------------------

    def publish_rollout(self, name: str, rollout: dict[str, Any] | None) -> None:
        """Share ``name``'s rollout (``Rollout.as_dict()``, or None when it ends); a board's job."""

    def rollout_changed(self, name: str) -> None:
        """Another process changed ``name``'s rollout: read and apply it (a board's job)."""

    def apply_rollout(self, name: str, data: dict[str, Any] | None) -> None:
        """Put a shared rollout in force in the attached registry, without announcing it."""
        registry = self.registry
        if registry is None:
            return
        from ..plugin_system.rollout import Rollout

        try:
            rollout = None if data is None else Rollout.from_dict(name, data)
        except PluginConfigError as exc:
            log.warning("switchboard: ignoring the shared rollout of %r: %s", name, exc)
            return
        registry.apply_rollout(name, rollout)

    def apply_config(self, shared: SharedConfig) -> bool:
        """Re-weave the models this process has at ``shared.model`` with the shared options.

        Only if newer than what this process knows.  A model that cannot take
        them (an option unknown to this process's plugin version) keeps its
        configuration and the error is logged.
        """
        from ..plugin_system.model import apply_plugins, registry_of

        registry = self.registry
        with self._lock:
            seen = self._configs.get(shared.field)
            if seen is not None and seen.order() >= shared.order():
                return False
            self._configs[shared.field] = shared
        if registry is None:
            return False
        for klass in weaver.woven_classes():
            if model_path(klass) != shared.model or registry_of(klass) is not registry:
                continue
            try:
                apply_plugins(klass, {shared.name: shared.config}, registry)
            except Exception:
                log.exception(
                    "switchboard: cannot re-configure %r on %s with the shared options %r",
                    shared.name,
                    shared.model,
                    shared.config,
                )
        return True


def publish_auto_disable(switch: Switch) -> None:
    """A plugin tripped ``max_failures`` here: every process sharing its board follows."""
    for board in list(_attached):
        registry = board.registry
        if registry is not None and registry.shares_switch(switch):
            try:
                board.publish(switch.name, False, origin="max_failures")
            except Exception:  # never fail the model operation that tripped it
                log.exception(
                    "switchboard: could not hand over the auto-disable of %r", switch.name
                )


def now() -> float:
    return time.time()
