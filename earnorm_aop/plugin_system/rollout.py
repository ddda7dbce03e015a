"""Gradual rollout: a plugin on for a stable share of its subjects, the rest as if it were off.

``registry.rollout("audit", percent=10, by="actor")`` keeps ``audit`` on for
one actor in ten and off for the others: each subject's *key* (the actor, the
tenant or the request id of the call context, or what a callable makes of the
context) is hashed with the plugin's name into one of 10,000 buckets, and the
plugin runs for the keys whose bucket is under ``percent`` x 100.  The hash is
BLAKE2b, not Python's ``hash()``, so every process decides the same for the
same key (sticky per key, whatever process serves it), and raising the
percentage only adds keys: who had it keeps it.  A call without a key (no
actor in the context) is outside the share.

Decided at weave time: a plugin without a rollout is woven as before and its
calls pay nothing for this; setting or clearing one re-weaves the models that
use it, with each advice behind the per-call decision (the context read, one
hash).  ``disable()`` stays the kill switch: a disabled plugin is off for
everyone, rollout or not, and ``enable()`` brings the rollout back as it was.

This module is the rule and its data; the per-call gate that reads the call
context is in [`earnorm_aop.runtime.rollout`][earnorm_aop.runtime.rollout] (the context lives in the
runtime, above this layer), installed as part of the engine's ``advice``
extension point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import PluginConfigError
from ..weaving import weaver
from ..weaving.aspect import Switch

__all__ = ["BUCKETS", "KEYS", "Rollout", "Rollouts"]

BUCKETS = 10_000
KEYS = ("actor", "tenant", "request_id")


def _key_of_actor(actor: Any) -> str | None:
    if actor is None:
        return None
    pk = getattr(actor, "pk", None)  # a Django user: its primary key, not its str()
    return str(actor) if pk is None else f"{type(actor).__name__}:{pk}"


@dataclass(frozen=True)
class Rollout:
    """A plugin's share: ``percent`` of the keys ``by`` names (a context field or a callable)."""

    name: str
    percent: float
    by: str | Callable[[Any], Any] = "actor"
    salt: str = ""
    _threshold: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.percent, bool) or not isinstance(self.percent, (int, float)):
            raise PluginConfigError(
                f"rollout of {self.name!r}: percent must be a number from 0 to 100, "
                f"not {self.percent!r}"
            )
        if not 0 <= self.percent <= 100:
            raise PluginConfigError(
                f"rollout of {self.name!r}: percent must be from 0 to 100, not {self.percent}"
            )
        if not callable(self.by) and self.by not in KEYS:
            raise PluginConfigError(
                f"rollout of {self.name!r}: by must be one of {', '.join(KEYS)} "
                f"(a field of earnorm_aop.context) or a callable taking the context, "
                f"not {self.by!r}"
            )
        object.__setattr__(self, "_threshold", round(self.percent * BUCKETS / 100))

    def key(self, ctx: Any) -> str | None:
        """The subject's key in context ``ctx``: None when it has none (outside the share)."""
        if callable(self.by):
            value = self.by(ctx)
            return None if value is None else str(value)
        if self.by == "actor":
            return _key_of_actor(getattr(ctx, "actor", None))
        if self.by == "request_id":
            value = getattr(ctx, "request_id", None)
        else:
            value = getattr(ctx, "extra", {}).get(self.by)
        return None if value is None else str(value)

    def bucket(self, key: str) -> int:
        """``key``'s bucket, 0 to 9,999: the same in every process and every run."""
        digest = hashlib.blake2b(
            f"{self.name}\0{self.salt}\0{key}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") % BUCKETS

    def includes(self, key: str | None) -> bool:
        """Whether the plugin is on for ``key``."""
        if self._threshold >= BUCKETS:
            return True
        if key is None or self._threshold <= 0:
            return False
        return self.bucket(key) < self._threshold

    def decide(self, ctx: Any) -> bool:
        """Whether the plugin runs for a call in context ``ctx``."""
        return self.includes(self.key(ctx))

    def by_label(self) -> str:
        """``by`` as text: the field's name, or ``callable:module.qualname``."""
        if callable(self.by):
            return "callable:" + ".".join(
                filter(None, (getattr(self.by, "__module__", None), self.by.__qualname__))
            )
        return self.by

    def as_dict(self) -> dict[str, Any]:
        return {"percent": self.percent, "by": self.by_label(), "salt": self.salt}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Rollout:
        """What ``as_dict`` wrote; a callable ``by`` is imported from its dotted path."""
        by: Any = data.get("by", "actor")
        if isinstance(by, str) and by.startswith("callable:"):
            import importlib

            path = by.removeprefix("callable:")
            module, _, qualname = path.rpartition(".")
            try:
                found: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError, ValueError) as exc:
                raise PluginConfigError(
                    f"rollout of {name!r}: cannot import its key function {path!r}: {exc}"
                ) from exc
            by = found
        return cls(name, data.get("percent", 0), by, str(data.get("salt", "")))


class Rollouts:
    """The registry's rollout methods (``PluginRegistry`` has them; kept here with the rule)."""

    def rollout(
        self,
        name: str,
        percent: float | None,
        *,
        by: str | Callable[[Any], Any] = "actor",
        salt: str = "",
    ) -> Rollout | None:
        """Turn ``name`` on for ``percent``% of the subjects ``by`` names; None ends the rollout.

        ``by`` is ``"actor"``, ``"tenant"``, ``"request_id"`` (of
        ``earnorm_aop.context``) or a callable taking the context and returning
        a key.  Each key's decision is stable (the same in every process, and
        kept when the percentage grows); a call without a key is outside the
        share.  Shared through the switchboard like a toggle.  ``disable()``
        still switches the plugin off for everyone at once.  The models using
        the plugin are re-woven; without a rollout their calls pay nothing for it.
        See [`earnorm_aop.plugin_system.rollout`][earnorm_aop.plugin_system.rollout].
        """
        self._managed(name)  # type: ignore[attr-defined]
        new = None if percent is None else Rollout(name, percent, by, salt)
        self.apply_rollout(name, new)
        board = getattr(self, "_board", None)
        publish = getattr(board, "publish_rollout", None)
        if publish is not None:
            publish(name, None if new is None else new.as_dict())
        return new

    def apply_rollout(self, name: str, rollout: Rollout | None) -> None:
        """Put ``rollout`` in force here without announcing it (what a switchboard calls)."""
        weaver.set_rollout(self.switch(name), rollout)  # type: ignore[attr-defined]

    def rollouts(self) -> dict[str, Rollout]:
        """The plugins under a rollout in this process, by name."""
        with self._lock:  # type: ignore[attr-defined]
            switches: dict[str, Switch] = dict(self._switches)  # type: ignore[attr-defined]
        return {n: s.rollout for n, s in switches.items() if isinstance(s.rollout, Rollout)}
