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
by a post-import hook (``wrapt.register_post_import_hook``) when
``django.core.checks`` is imported, or at once if it already is, and the
check imports the integration only when it runs, after ``django.setup()``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import wrapt

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
    if present:
        wrapt.register_post_import_hook(_register, "django.core.checks")
