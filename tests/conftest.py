"""Shared fixtures: both dispatchers (``dispatch``) and a leak check on the weaver's scopes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from earnorm_aop import weaver

# Fixtures of the plugin-layer tests (an isolated registry per test, ...) and of
# the built-in plugin tests (the ``backend`` they run on, a real redis-server).
pytest_plugins = ["_plugin_helpers", "_builtin_backends"]

# EarnORM needs Python 3.12+: on an older Python its folder is not collected;
# ``python3 scripts/test.py`` runs it in a second virtualenv (.venv312).
EARNORM_TESTS = Path(__file__).parent / "earnorm_orm"
EARNORM_SKIPPED = (
    f"tests/earnorm_orm not collected: EarnORM needs Python 3.12+ and this is "
    f"{sys.version_info.major}.{sys.version_info.minor}; python3 scripts/test.py runs "
    "them with .venv312"
)


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    if sys.version_info < (3, 12) and collection_path == EARNORM_TESTS:
        return True
    return None


def pytest_report_header() -> list[str]:
    return [EARNORM_SKIPPED] if sys.version_info < (3, 12) else []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``EARNORM_AOP_BACKENDS`` set (the EarnORM step), keep only tests over a backend.

    The other tests of ``test_builtins_*.py`` already ran in the main suite.
    """
    if not os.environ.get("EARNORM_AOP_BACKENDS"):
        return
    keep, drop = [], []
    for item in items:
        outside = EARNORM_TESTS not in Path(str(item.path)).parents
        uses_backend = "backend" in getattr(item, "fixturenames", ())
        (drop if outside and not uses_backend else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _no_leaked_engine_scopes() -> Iterator[None]:
    """Every test must close the trace and context-disable scopes it opens.

    Classes a test defines locally are unwoven afterwards: the weaver keeps
    state for every woven class that is alive, and a ``trace()`` block
    re-weaves all of them, so leftovers of earlier tests would only make
    later tests slower.
    """
    before = set(weaver.woven_classes())
    yield
    assert weaver.mode.tracing == 0, "a trace() block leaked"
    assert not weaver._ctx_counts, "a context_scope_opened() leaked"
    for klass in weaver.woven_classes():
        if klass not in before and "<locals>" in klass.__qualname__:
            weaver.unweave(klass)


@pytest.fixture(params=["generated", "interpreted"])
def dispatch(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once with generated dispatchers and once with interpreted ones.

    While a ``trace()`` block is open the weaver installs the interpreted
    dispatcher, so a test that weaves inside this fixture exercises it.
    """
    if request.param == "generated":
        yield request.param
    else:
        from earnorm_aop import trace

        with trace():
            yield request.param
