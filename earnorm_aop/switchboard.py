"""Shared switchboards: one plugin on/off switch for every process.

``registry.disable("audit")`` switches a plugin off in one process.  A
deployment runs many: ``registry.share(board)`` attaches a
:class:`Switchboard` that keeps the switch states somewhere every process
reads (:class:`~earnorm_aop.redis_switchboard.RedisSwitchboard`: a Redis hash
and a pub/sub channel).  From then on:

* ``registry.enable(name)`` / ``disable(name)`` and a ``max_failures``
  auto-disable are applied here at once, as before, and handed to the board,
  which writes them for the other processes (never on the caller's thread:
  a model operation that trips ``max_failures`` is not slowed by the network);
* a state another process wrote is applied here by the same re-weaving path a
  local toggle takes (:func:`earnorm_aop.weaving.weaver.set_enabled`), so calls
  cost exactly what they cost without a board.

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

from .weaving import weaver
from .weaving.aspect import Switch
from .weaving.chain import on_auto_disable

if TYPE_CHECKING:
    from .plugin_registry import PluginRegistry

__all__ = ["SwitchState", "Switchboard", "origin_label"]

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

    # -- the transport's side --------------------------------------------------------

    def known_version(self, name: str) -> int:
        with self._lock:
            state = self._known.get(name)
            return 0 if state is None else state.version

    def known(self) -> dict[str, SwitchState]:
        """The last state this process applied or wrote, by plugin name."""
        with self._lock:
            return dict(self._known)

    def remember(self, state: SwitchState) -> None:
        """Note a state this process wrote (it is already in force here)."""
        with self._lock:
            current = self._known.get(state.name)
            if current is None or current.version < state.version:
                self._known[state.name] = state

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


def _publish_auto_disable(switch: Switch) -> None:
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


on_auto_disable(_publish_auto_disable)


def now() -> float:
    return time.time()
