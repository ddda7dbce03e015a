"""A Django project whose models declare plugins fails its system checks without our app.

A model that says ``plugins = [...]`` is only woven if
``earnorm_aop.integrations.django`` was imported before Django prepared the
class, which ``INSTALLED_APPS`` guarantees.  Without the app nothing fails:
the model runs without plugins and ``makemigrations`` proposes dropping their
fields.  So, once ``earnorm_aop`` is imported in a process that has Django,
Django's check framework gets a check (``earnorm_aop.E001``) that names the
fix; it runs at ``runserver``, ``migrate``, ``makemigrations`` and ``check``.

Checks registered with ``django.core.checks.register`` are global, so this
works precisely when the app is missing.  This module is imported by
``earnorm_aop`` itself, which must not import Django: the check is registered
by a post-import hook when ``django.core.checks`` is imported, or at once if
it already is, and the check imports the integration only when it runs, after
``django.setup()``.  The hook is a one-shot finder on ``sys.meta_path`` rather
than ``wrapt.register_post_import_hook``: importing wrapt imports asyncio,
which would make ``import earnorm_aop`` twice as slow in every Django project.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["check_plugin_declarations", "install"]


def check_plugin_declarations(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The Django system check: see ``earnorm_aop/integrations/django/checks.py``."""
    from .django.checks import check_declared_plugins

    return check_declared_plugins(app_configs, **kwargs)


def _register(checks: Any) -> None:
    # One function object: registering it again (the integration does too) is a no-op.
    checks.register(check_plugin_declarations, checks.Tags.models)


def install() -> None:
    """Register the check when Django's check framework is (or gets) imported."""
    try:
        present = importlib.util.find_spec("django") is not None
    except ValueError:  # a "django" module without a spec (a stub in sys.modules)
        present = False
    if not present:
        return
    checks = sys.modules.get("django.core.checks")
    if checks is not None:
        _register(checks)
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("django.core.checks", _register))


class _AfterImport:
    """A one-shot ``sys.meta_path`` finder: run ``callback(module)`` once ``name`` is imported.

    It finds nothing itself: asked for ``name``, it steps aside, lets the
    other finders find the module, and wraps the loader they chose.
    """

    def __init__(self, name: str, callback: Any) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self.callback)  # type: ignore[assignment]
        return spec


class _Loader:
    """The real loader, then the callback with the executed module."""

    def __init__(self, loader: Any, callback: Any) -> None:
        self.loader = loader
        self.callback = callback

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        self.callback(module)
