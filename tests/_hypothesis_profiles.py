"""Hypothesis profiles: a quick pass for a developer, the full count under ``CI=true``.

``conftest.py`` loads the profile before any test module is imported, so
:func:`examples` (read at import time by ``@settings``) sees it.
``pytest --hypothesis-profile=ci`` runs the full count locally.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from earnorm_aop.testing._ci import ci

CI = ci()

FULL = 100
"""``max_examples`` of the ``ci`` profile: each property test's count is relative to it."""

# Hypothesis' own "ci" profile (derandomized, no example database, no
# deadline), with the full number of examples.
settings.register_profile("ci", settings.get_profile("ci"), max_examples=FULL)
# A developer's run: a fifth of the examples, and no deadline (a busy machine
# is not a slow implementation).
settings.register_profile(
    "dev",
    max_examples=FULL // 5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if CI else "dev")


def examples(full: int) -> int:
    """``max_examples`` for a test that wants ``full`` examples in a full (CI) run.

    Scaled by the loaded profile: ``full`` under ``ci``, a fifth of it (at
    least 10) under ``dev``.
    """
    return max(10, full * settings.default.max_examples // FULL)
