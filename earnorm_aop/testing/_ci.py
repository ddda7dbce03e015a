"""Whether this run is CI's: the one reading of the ``CI`` environment variable.

Under CI a test that cannot run here (no redis-server, no PostgreSQL, no
EarnORM) fails instead of being skipped, the property tests run their full
count and coverage is measured.  CI services set ``CI`` to ``true``, ``1`` or
``yes``; every test, fixture, the pytest plugin and the scripts read it here,
so none of them skips where another would fail.  This module imports nothing
of the package: ``scripts/`` load it by path, before any virtualenv exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ci"]

_YES = frozenset({"1", "true", "yes"})


def ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``CI`` (in ``environ``, default ``os.environ``) is ``1``, ``true`` or ``yes``.

    Any case, surrounding blanks ignored; unset, empty, ``0``, ``false``, ``no``
    or anything else is not CI.
    """
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() in _YES
