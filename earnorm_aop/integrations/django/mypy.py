"""mypy plugin for Django projects with plugins: their models' managers resolve for django-stubs.

List it before django-stubs' own plugin::

    [mypy]
    plugins = earnorm_aop.integrations.django.mypy, mypy_django_plugin.main

django-stubs' plugin imports the project (``django.setup()``) and types each
model's managers by looking their classes up by module and name; a model with
plugins has a private manager class (``managers.py``), which it cannot find,
so it reports ``Could not resolve manager type`` for ``objects``.  Loaded
first, this plugin makes those classes carry the user's manager's name in the
mypy process, and adds nothing else: the members plugins contribute are typed
by the mixins of [`earnorm_aop.integrations.django.typing`][earnorm_aop.integrations.django.typing].
"""

from __future__ import annotations

from mypy.plugin import Plugin

from .managers import name_as_declared

__all__ = ["plugin"]

name_as_declared()


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point: a plugin with no hooks of its own."""
    return Plugin
