"""Django system checks: every model that declares ``plugins`` is woven with them.

``earnorm_aop.E001``: a model declares plugins, but ``earnorm_aop.integrations.django``
is not in ``INSTALLED_APPS``.  Whether such a model is woven then depends on
import order (it is not, unless something imported the integration before the
model), so ``makemigrations`` may propose dropping the plugins' fields, and the
audit table is missing.  It is an error even when the model happens to be woven.

``earnorm_aop.E002``: the app is installed, yet a declared plugin is not woven
on the model (unwoven at runtime, before the checks ran).

The check is registered by ``earnorm_aop`` on import (see
``earnorm_aop/integrations/_django_startup.py``), so it runs without the app;
``earnorm-aop check`` runs it too (see ``earnorm_aop/cli/_models.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core import checks

from ...weaving import weaver
from .adapter import APP
from .declaration import declared_plugins

__all__ = ["Declaration", "check_declared_plugins", "declarations", "problem"]

FIX = f"add {APP!r} to INSTALLED_APPS (before the apps whose models declare plugins)"


@dataclass(frozen=True)
class Declaration:
    """A model that declares plugins, and those of them that are not woven on it."""

    model: type
    declared: tuple[str, ...]
    unwoven: tuple[str, ...]

    @property
    def label(self) -> str:
        label: str = self.model._meta.label  # type: ignore[attr-defined]
        return label


def declarations(app_configs: Iterable[Any] | None = None) -> list[Declaration]:
    """Each concrete model (of ``app_configs``, default all) whose ``plugins`` names any."""
    if app_configs is None:
        models = apps.get_models()
    else:
        models = [m for config in app_configs for m in config.get_models()]
    found = []
    for model in models:
        names = tuple(declared_plugins(model)[0])
        if names:
            unwoven = tuple(n for n in names if not weaver.is_woven(model, n))
            found.append(Declaration(model, names, unwoven))
    return found


def problem(found: Declaration) -> checks.CheckMessage | None:
    """The error ``found`` deserves (``E001``: the app is missing; ``E002``: not woven)."""
    names = ", ".join(found.declared)
    if not apps.is_installed(APP):
        if found.unwoven:
            effect = (
                "they are not woven: it runs without them, and makemigrations would "
                "drop their fields"
            )
        else:
            effect = (
                "they are woven here only because something imported the integration "
                "before the model; the audit table is missing too"
            )
        return checks.Error(
            f"The model declares plugins ({names}) but {APP!r} is not in "
            f"INSTALLED_APPS, so {effect}.",
            hint=f"{FIX[0].upper()}{FIX[1:]}.",
            obj=found.model,
            id="earnorm_aop.E001",
        )
    if found.unwoven:
        return checks.Error(
            f"The model declares plugins ({names}) but {', '.join(found.unwoven)} "
            "is not woven on it.",
            hint=(
                "Weave it again (earnorm_aop.weave) or remove it from the model's plugins "
                "attribute."
            ),
            obj=found.model,
            id="earnorm_aop.E002",
        )
    return None


def check_declared_plugins(
    app_configs: Iterable[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The system check: one error per model whose declared plugins may not be in force."""
    return [p for p in map(problem, declarations(app_configs)) if p is not None]
