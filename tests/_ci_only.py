"""``@pytest.mark.ci_only(why)``: a slow test that runs under CI only.

The default run (``python3 scripts/test.py``) must answer in a few minutes on
a busy 2-core machine; a test that fills a fresh virtualenv with pip, or runs
a whole migration journey command by command on PostgreSQL, takes a minute or
more.  Outside CI such a test is skipped with its reason and the command that
runs it; under ``CI`` (``earnorm_aop.testing._ci.ci``) it runs, and coverage
is measured there.  A ``pytest.param(..., marks=pytest.mark.ci_only(why))``
marks one parameter only.
"""

from __future__ import annotations

import pytest

from earnorm_aop.testing._ci import ci

CI_ONLY_MARKER = (
    "ci_only(why): a slow test (a fresh virtualenv filled by pip, ...) run under CI only; "
    "elsewhere it is skipped, saying why and how to run it"
)


def ci_only_skip(item: pytest.Item) -> pytest.MarkDecorator | None:
    """The skip of a ``ci_only`` test outside CI (``None`` under CI: there it runs)."""
    mark = item.get_closest_marker("ci_only")
    if mark is None or ci():
        return None
    why = mark.args[0] if mark.args else "slow"
    path = item.nodeid.split("::")[0]
    return pytest.mark.skip(
        reason=f"{why}: run under CI only (CI=true python3 scripts/test.py --no-lint {path})"
    )
