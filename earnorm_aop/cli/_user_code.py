"""Importing the user's modules: ``--import MODULE`` and ``MODULE:CLASS`` targets.

Models are woven when their module is imported, so importing is where a
``PluginError`` surfaces; this module keeps it apart from an ordinary import
failure (a usage error) and imports each module at most once per run.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import PluginError
from ._outcome import UsageError


@dataclass
class Loaded:
    """The outcome of importing one module: the module, or the error it raised."""

    module: Any = None
    error: BaseException | None = None


def django_configured() -> bool:
    return bool(os.environ.get("DJANGO_SETTINGS_MODULE"))


def prepare_imports() -> None:
    """Make the current directory importable and set Django up when it is configured."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if django_configured():
        try:
            import django
        except ImportError:
            return
        try:
            django.setup()
        except PluginError:
            raise  # a model's plugins failed while Django loaded the apps
        except Exception as exc:
            raise UsageError(
                f"django.setup() failed (DJANGO_SETTINGS_MODULE="
                f"{os.environ['DJANGO_SETTINGS_MODULE']!r}): {type(exc).__name__}: {exc}"
            ) from exc


def _import(name: str, cache: dict[str, Loaded]) -> Loaded:
    """Import module ``name`` once per run.

    A module whose import failed is not retried: running its body again would
    meet its own half-registered plugins (``DuplicatePluginError``) instead of
    the real error.
    """
    loaded = cache.get(name)
    if loaded is None:
        try:
            loaded = Loaded(module=importlib.import_module(name))
        except Exception as exc:
            loaded = Loaded(error=exc)
        cache[name] = loaded
    return loaded


def split_target(target: str) -> tuple[str, str]:
    module, sep, qualname = target.partition(":")
    if not sep or not module or not qualname:
        raise UsageError(f"{target!r} is not MODULE:CLASS (for example 'myapp.models:Article')")
    return module, qualname


def resolve(target: str, cache: dict[str, Loaded]) -> type:
    """The class named by ``MODULE:CLASS``; a ``PluginError`` raised by the import propagates."""
    module_name, qualname = split_target(target)
    loaded = _import(module_name, cache)
    if loaded.error is not None:
        if isinstance(loaded.error, PluginError):
            raise loaded.error
        err = loaded.error
        raise UsageError(
            f"could not import module {module_name!r} (for {target!r}): {type(err).__name__}: {err}"
        )
    obj: Any = loaded.module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no attribute {qualname!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise UsageError(f"{target!r} is not a class but {type(obj).__name__}")
    return obj


def import_all(modules: Sequence[str]) -> None:
    """Import the modules given with ``--import`` (to register the plugins they define)."""
    if not modules:
        return
    prepare_imports()
    cache: dict[str, Loaded] = {}
    for name in modules:
        loaded = _import(name, cache)
        if isinstance(loaded.error, PluginError):
            raise loaded.error
        if loaded.error is not None:
            err = loaded.error
            raise UsageError(f"could not import module {name!r}: {type(err).__name__}: {err}")
