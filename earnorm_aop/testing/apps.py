"""The kit's Django app: the app label of the models the ``django`` backend makes.

Add ``"earnorm_aop.testing"`` to ``INSTALLED_APPS`` when your tests configure
Django themselves; the kit's own settings install it.  Installed, the label
resolves, so records of kit models can be pickled (the Redis cache does).
"""

from __future__ import annotations

from django.apps import AppConfig


class TestingConfig(AppConfig):  # type: ignore[misc]
    name = "earnorm_aop.testing"
    label = "earnorm_aop_testing"
    verbose_name = "earnorm-aop conformance kit"
