"""Shared fixtures: both dispatchers (``dispatch``), hypothesis profiles, and a weaver check.

Every test leaves the weaver as it found it.  The weaver keeps state for
every woven class that is alive, and each ``trace()`` block re-weaves all of
them, so a class one test leaves woven makes every later traced test slower
(and a plugin it leaves on can change what later tests see).  The autouse
fixture below unweaves whatever a test wove and fails the test if it left a
``trace()`` or ``disabled()`` block open.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _django_setup
import _hypothesis_profiles  # noqa: F401  (loads the profile before test modules are imported)
import pytest
from _ci_only import CI_ONLY_MARKER, ci_only_skip

from earnorm_aop import registry
from earnorm_aop.testing import use_django_setup
from earnorm_aop.weaving import weaver

# The conformance kit's django backend runs on the tests' Django (the test app
# beside the kit's), configured by whichever test needs Django first.
use_django_setup(_django_setup.configure)

# Fixtures of the plugin-layer tests (an isolated registry per test, ...) and of
# the built-in plugin tests (the ``backend`` they run on, a real redis-server).
pytest_plugins = ["_plugin_helpers", "_builtin_backends"]

# EarnORM needs Python 3.12+: on an older Python its folder is not collected;
# ``python3 scripts/test.py`` runs it in a second virtualenv (.venv312).
EARNORM_TESTS = Path(__file__).parent / "integrations" / "earnorm_orm"
EARNORM_SKIPPED = (
    f"tests/integrations/earnorm_orm not collected: EarnORM needs Python 3.12+ and this is "
    f"{sys.version_info.major}.{sys.version_info.minor}; python3 scripts/test.py runs "
    "them with .venv312"
)


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    if sys.version_info < (3, 12) and collection_path == EARNORM_TESTS:
        return True
    return None


def pytest_report_header() -> list[str]:
    return [EARNORM_SKIPPED] if sys.version_info < (3, 12) else []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", CI_ONLY_MARKER)
    _patient_worker_exit()


# How long a pytest-xdist worker may take to exit once its tests are done.
WORKER_EXIT_SECONDS = 300


def _patient_worker_exit() -> None:
    """Let each xdist worker run its exit handlers to the end (in the controller process).

    xdist gives a worker 10 s to exit, then kills it (SIGKILL).  A worker's exit
    handlers save its coverage data, remove the conformance kit's temporary
    folders and stop the private servers it started; on a busy 2-core machine
    that took longer, and a whole worker's coverage data was lost and its
    folders were left (seen in a CI=true run: 87% total, three folders left).
    """
    try:
        from xdist.workermanage import NodeManager
    except ImportError:  # pragma: no cover - xdist is in the test extra
        return
    NodeManager.EXIT_TIMEOUT = max(NodeManager.EXIT_TIMEOUT, WORKER_EXIT_SECONDS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``ci_only`` tests outside CI; in the EarnORM step keep only tests over a backend.

    The EarnORM step sets ``EARNORM_AOP_BACKENDS``; the other tests of
    ``test_builtins_*.py`` already ran in the main suite.
    """
    for item in items:
        skip = ci_only_skip(item)
        if skip is not None:
            item.add_marker(skip)
    if not os.environ.get("EARNORM_AOP_BACKENDS"):
        return
    keep, drop = [], []
    for item in items:
        outside = EARNORM_TESTS not in Path(str(item.path)).parents
        uses_backend = "earnorm_backend" in getattr(item, "fixturenames", ())  # the kit's
        (drop if outside and not uses_backend else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --------------------------------------------------------------------------
# The weaver as each test found it
# --------------------------------------------------------------------------


def _woven_snapshot() -> dict[type, list[str]]:
    """Each woven class with the names of the aspects that apply to it."""
    return {k: [a.name for a in weaver.effective_aspects(k)] for k in weaver.woven_classes()}


def _woven_by_an_import(klass: type, modules_before: set[str]) -> bool:
    """Whether ``klass`` was woven by importing its module, which the test did first.

    A module imported for the first time during a test (the Django test app,
    set up by whichever test needs it first) stays imported, with its
    module-level models woven as any later importer expects them.  Modules a
    test imports and removes again (``pytester``'s inner test files) do not
    count: their classes are unwoven like any other.
    """
    name = klass.__module__
    module = sys.modules.get(name)
    if name in modules_before or module is None or "<locals>" in klass.__qualname__:
        return False
    found: Any = module
    for part in klass.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is klass


def _forget(klass: type) -> None:
    """Unweave ``klass`` and drop the opt-outs it may keep, so the weaver forgets it."""
    weaver.unweave(klass)
    state = weaver.states.get(klass)
    if state is not None and state.excluded and not state.own:
        # Inherited aspects it opted out of, whose parent is unwoven by now.
        state.excluded = frozenset()
        weaver.refresh(klass)


def _restore_default_registry(registered: dict[str, Any], switched: dict[str, bool]) -> list[str]:
    """Put the default registry's names and on/off switches back; say what had changed."""
    problems = []
    added = sorted(set(registry._explicit) - set(registered))
    removed = sorted(set(registered) - set(registry._explicit))
    if added or removed:
        problems.append(f"default registry: registered {added}, unregistered {removed}")
        registry._explicit.clear()
        registry._explicit.update(registered)
    flipped = sorted(n for n, s in registry._switches.items() if s.enabled != switched.get(n, True))
    if flipped:
        problems.append(f"default registry: switched {flipped} (use registry.disabled())")
        for name in flipped:
            weaver.set_enabled(registry._switches[name], switched.get(name, True))
    return problems


@pytest.fixture(autouse=True)
def _weaver_left_as_found() -> Iterator[None]:
    """Unweave every class the test wove; fail it if it left other changes behind.

    Whatever a class is called (local, module-level, a Django model), if the
    test wove it, it is unwoven at teardown.  Classes woven before the test
    must still have the same aspects afterwards, no ``trace()`` or
    ``disabled()`` block may stay open, and the default registry must have
    the same plugins, switched on and off as before (those two are put back,
    so one failing test does not fail the ones after it).
    """
    modules_before = set(sys.modules)
    before = _woven_snapshot()
    registered = dict(registry._explicit)
    switched = {name: s.enabled for name, s in registry._switches.items()}
    yield
    for _ in range(3):  # a subclass may keep opt-outs until its parent is unwoven
        left = [
            k
            for k in weaver.woven_classes()
            if k not in before and not _woven_by_an_import(k, modules_before)
        ]
        for klass in left:
            _forget(klass)
    problems = []
    if weaver.mode.tracing:
        problems.append(f"{weaver.mode.tracing} trace() block(s) left open")
    if weaver.mode.metering:
        problems.append(f"metrics left on ({weaver.mode.metering} start_metering() not stopped)")
    if weaver.open_disabled_blocks():
        names = ", ".join(sorted(s.name for s in weaver.open_disabled_blocks()))
        problems.append(f"registry.disabled() left open for {names}")
    changed = [
        f"{k.__qualname__}: {aspects} -> {[a.name for a in weaver.effective_aspects(k)]}"
        for k, aspects in before.items()
        if [a.name for a in weaver.effective_aspects(k)] != aspects
    ]
    if changed:
        problems.append("classes woven before the test changed: " + "; ".join(changed))
    problems += _restore_default_registry(registered, switched)
    if problems:
        pytest.fail("the test left the weaver changed: " + "; ".join(problems), pytrace=False)


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
