"""The exceptions of earnorm_aop.

Every error is a [`PluginError`][earnorm_aop.errors.PluginError], so ``except PluginError`` catches
them all; each subclass names one way things go wrong, and its message says what
was wrong and what would be right.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "DependencyError",
    "DuplicatePluginError",
    "PluginConfigError",
    "PluginConfigWarning",
    "PluginError",
    "PluginNotFoundError",
    "PluginWarning",
    "PointcutError",
    "ProceedError",
    "WeavingError",
]


class PluginError(Exception):
    """Base class of every error raised by earnorm_aop."""


class PointcutError(PluginError, ValueError):
    """A pointcut string is malformed or names an unknown kind."""


class WeavingError(PluginError):
    """Advice cannot be woven onto a model (no matching method, bad parameter, ...)."""


class PluginNotFoundError(PluginError, LookupError):
    """A plugin name is unknown; the message lists the closest known names."""

    def __init__(self, name: str, known: Iterable[str], where: str = "", hint: str = "") -> None:
        known_sorted = sorted(set(known))
        self.name = name
        self.known = known_sorted
        self.hint = hint
        close = difflib.get_close_matches(name, known_sorted, n=3, cutoff=0.5)
        msg = f"no plugin named {name!r}{where}"
        if hint:  # why a class the user wrote for this name is not the plugin
            msg += f": {hint}."
        elif close:
            msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        else:
            msg += "."
        msg += f" Known plugins: {', '.join(known_sorted) if known_sorted else '(none)'}."
        super().__init__(msg)


class PluginConfigError(PluginError, ValueError):
    """A plugin's configuration is invalid (unknown key, wrong type, bad value)."""


class PluginConfigWarning(UserWarning):
    """An older configuration of a plugin was upgraded to its current version; write that one."""


class DependencyError(PluginError):
    """A required plugin is missing, has the wrong version, or the requirements form a cycle."""


class DuplicatePluginError(PluginError):
    """A different class is already registered under this name (use ``replace=True``)."""


class ProceedError(PluginError, RuntimeError):
    """``proceed()`` was called more than once by one ``around`` advice."""


class PluginWarning(UserWarning):
    """Something works, but probably not as its author meant (a shadowed built-in, an
    event nothing fires); the message says what would be meant instead."""
