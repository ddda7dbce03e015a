"""Versioned configuration: a plugin's options change shape, old configurations keep working.

A plugin states the version of its configuration's shape and how to bring an
older one up to date::

    class SlugPlugin(BasePlugin):
        name = "slug"
        config_version = 2
        config_upgrades = {1: lambda old: {"source": old["from_field"]}}

``config_upgrades[n]`` turns a version-``n`` configuration (a dict) into a
version ``n + 1`` one.  A configuration says its version with the key
``config_version`` (without it, it is taken as the current one): wherever it
comes from (``Meta.plugins``, ``with_plugins``, a settings file, a shared
switchboard), an older one is upgraded step by step, with one
[`PluginConfigWarning`][earnorm_aop.PluginConfigWarning] naming both versions, before it is
validated; a newer one than the plugin knows is a
[`PluginConfigError`][earnorm_aop.PluginConfigError]. The upgrades are checked when the plugin is
registered, so a gap in the chain fails at import, not on the first old configuration.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import PluginConfigError, PluginConfigWarning, PluginError

__all__ = ["KEY", "read_versioning", "upgrade_config"]

KEY = "config_version"
"""The key a configuration states its version with."""

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


def read_versioning(cls: type, name: str) -> tuple[int, Mapping[int, Upgrade]]:
    """The class's ``config_version`` and ``config_upgrades``, checked
    ([`PluginError`][earnorm_aop.errors.PluginError])."""
    version = getattr(cls, "config_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PluginError(
            f"plugin {name!r}: config_version must be a positive int (1, 2, ...), not {version!r}"
        )
    raw = getattr(cls, "config_upgrades", None) or {}
    if not isinstance(raw, Mapping):
        raise PluginError(
            f"plugin {name!r}: config_upgrades must map a version to the function "
            f"upgrading a configuration of that version, not {raw!r}"
        )
    upgrades: dict[int, Upgrade] = {}
    for key, given in raw.items():
        func: Any = given.__func__ if isinstance(given, staticmethod | classmethod) else given
        if isinstance(key, bool) or not isinstance(key, int) or not 1 <= key < version:
            raise PluginError(
                f"plugin {name!r}: config_upgrades key {key!r} is not a version before "
                f"config_version {version} (an int from 1 to {version - 1})"
            )
        if not callable(func):
            raise PluginError(
                f"plugin {name!r}: config_upgrades[{key}] must be a function taking the "
                f"version-{key} configuration (a dict) and returning version {key + 1}'s"
            )
        upgrades[key] = func
    if upgrades:
        missing = [v for v in range(min(upgrades), version) if v not in upgrades]
        if missing:
            raise PluginError(
                f"plugin {name!r}: config_upgrades has no upgrade from version "
                f"{', '.join(map(str, missing))}, so older configurations cannot reach "
                f"version {version}"
            )
    return version, upgrades


def upgrade_config(
    plugin: str,
    model_name: str,
    version: int,
    upgrades: Mapping[int, Upgrade],
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """``values`` in the plugin's current configuration version, without the version key."""
    out = dict(values)
    if KEY not in out:
        return out
    given = out.pop(KEY)
    where = f"plugin {plugin!r} on {model_name}"
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise PluginConfigError(
            f"{where}: {KEY} must be a positive int, not {given!r} (this plugin's "
            f"configuration is version {version})"
        )
    if given > version:
        raise PluginConfigError(
            f"{where}: the configuration is version {given}, newer than this plugin knows "
            f"(version {version}); upgrade the plugin, or write the configuration for "
            f"version {version}"
        )
    if given == version:
        return out
    if given not in upgrades:
        oldest = min(upgrades) if upgrades else version
        raise PluginConfigError(
            f"{where}: the configuration is version {given}, and this plugin upgrades "
            f"configurations from version {oldest} on (it is at version {version})"
        )
    for step in range(given, version):
        try:
            upgraded = upgrades[step](dict(out))
        except Exception as exc:
            raise PluginConfigError(
                f"{where}: upgrading the configuration from version {step} to {step + 1} "
                f"failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(upgraded, Mapping):
            raise PluginConfigError(
                f"{where}: config_upgrades[{step}] returned {upgraded!r}, not a dict"
            )
        out = dict(upgraded)
        out.pop(KEY, None)
    warnings.warn(
        f"{where}: configuration version {given} upgraded to version {version}; "
        f"write it as version {version}: {out!r}",
        PluginConfigWarning,
        stacklevel=2,
    )
    return out
