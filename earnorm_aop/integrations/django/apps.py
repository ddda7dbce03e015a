"""The Django app of the integration (``INSTALLED_APPS += ["earnorm_aop.integrations.django"]``).

Installing it does three things: Django imports it before any ``models.py``, so
``plugins = [...]`` attributes are read on every model; it provides the
``AuditRecord`` table the ``audit`` plugin's ``table`` sink writes to; and it
masks the fields named by the ``EARNORM_AOP_MASK`` setting on every model,
with ``EARNORM_AOP_MASK_KEY`` as the key masked row ids are hashed with
(see [`earnorm_aop.plugin_system.masking`][earnorm_aop.plugin_system.masking]).
"""

from __future__ import annotations

from django.apps import AppConfig, apps


class EarnormAopConfig(AppConfig):  # type: ignore[misc]
    name = "earnorm_aop.integrations.django"
    label = "earnorm_aop"
    verbose_name = "earnorm_aop plugins"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A model imported before this app (another app's package importing its
        # models early) was prepared without our signal handler: catch up.
        from django.conf import settings

        from ...plugin_system.masking import mask, mask_key
        from .declaration import prepare

        masked = getattr(settings, "EARNORM_AOP_MASK", ())
        if masked:
            mask(*([masked] if isinstance(masked, str) else masked))
        key = getattr(settings, "EARNORM_AOP_MASK_KEY", None)
        if key:
            mask_key(key)

        for model in apps.get_models(include_auto_created=True):
            prepare(model)
