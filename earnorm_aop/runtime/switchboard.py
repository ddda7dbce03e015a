"""Shared switchboards: one plugin on/off switch for every process.

``registry.disable("audit")`` switches a plugin off in one process.  A
deployment runs many: ``registry.share(board)`` attaches a
:class:`Switchboard` that keeps the switch states somewhere every process
reads (:class:`~earnorm_aop.runtime.redis_switchboard.RedisSwitchboard`: a Redis hash
and a pub/sub channel).  From then on:

* ``registry.enable(name)`` / ``disable(name)`` and a ``max_failures``
  auto-disable are applied here at once, as before, and handed to the board,
  which writes them for the other processes (never on the caller's thread:
  a model operation that trips ``max_failures`` is not slowed by the network);
* a state another process wrote is applied here by the same re-weaving path a
  local toggle takes (:func:`earnorm_aop.weaving.weaver.set_enabled`), so calls
  cost exactly what they cost without a board.

A *reconfiguration* travels the same way: ``board.reconfigure(Model, "cache",
ttl=30)`` weaves the new options here (as ``weave`` does) and every process
that has ``Model`` (same module and qualified name, same registry) re-weaves
it with them; a process that weaves ``Model`` later takes the shared options
instead of the declared ones.  Options travel as JSON: values, and callables
or classes by their dotted import path.

Every written state carries a version (one counter per namespace); a state is
applied only when its version is newer than the one this process knows, so
late or repeated announcements change nothing.  This module holds what any
board shares; the transport lives in its subclass.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..weaving import weaver
from ..weaving.aspect import Switch

if TYPE_CHECKING:
    from ..plugin_system.registry import PluginRegistry

__all__ = ["SharedConfig", "SwitchState", "Switchboard", "model_path", "origin_label"]

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SwitchState:
        return cls(
            name=str(data["name"]),
            enabled=bool(data["enabled"]),
            version=int(data["version"]),
            auto_disabled=bool(data.get("auto_disabled", False)),
            origin=str(data.get("origin", "")),
            by=str(data.get("by", "")),
            time=float(data.get("time", 0.0)),
        )


def model_path(model: type) -> str:
    """How processes name a model to each other: ``module.QualifiedName``."""
    return f"{model.__module__}.{model.__qualname__}"


@dataclass(frozen=True)
class SharedConfig:
    """Options of plugin ``name`` on the model at ``model`` (a :func:`model_path`), shared."""

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SharedConfig:
        return cls(
            name=str(data["name"]),
            model=str(data["model"]),
            config=dict(data["config"]),
            version=int(data["version"]),
            origin=str(data.get("origin", "reconfigure")),
            by=str(data.get("by", "")),
            time=float(data.get("time", 0.0)),
        )


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

    A subclass moves states: it calls :meth:`apply` with each state it reads
    (at start, on reconnect, on an announcement) and writes what
    :meth:`publish` hands it.  ``publish`` must not block.
    """

    registry: PluginRegistry | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
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

    def publish(self, name: str, enabled: bool, *, origin: str) -> None:
        """Hand a local change to the other processes (without blocking)."""
        raise NotImplementedError

    def publish_config(self, name: str, model: str, config: dict[str, Any]) -> None:
        """Hand a local reconfiguration to the other processes (without blocking)."""
        raise NotImplementedError

    def reconfigure(self, model: type, name: str, **config: Any) -> None:
        """Re-configure ``name`` on ``model`` here and in every process sharing this board.

        Validated and woven here first (a bad option raises
        :class:`~earnorm_aop.PluginConfigError` before anything is shared).
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
                if seen is None or seen.version < entry.version:
                    self._configs[entry.field] = entry
                return
            current = self._known.get(entry.name)
            if current is None or current.version < entry.version:
                self._known[entry.name] = entry

    def apply(self, state: SwitchState) -> bool:
        """Put ``state`` in force here if it is newer than what this process knows.

        The switch is flipped by re-weaving, as ``registry.enable``/``disable``
        do, without announcing it again.  Returns whether anything was applied.
        """
        registry = self.registry
        with self._lock:
            current = self._known.get(state.name)
            if current is not None and current.version >= state.version:
                return False
            self._known[state.name] = state
        if registry is None:
            return False
        switch = registry.switch(state.name)
        weaver.set_enabled(switch, state.enabled)
        if not state.enabled and state.auto_disabled:
            switch.auto_disabled = True
        return True

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
            if seen is not None and seen.version >= shared.version:
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
