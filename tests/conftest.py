"""Shared fixtures: both dispatchers (``dispatch``) and a leak check on the weaver's scopes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from earnorm_aop.weaving import weaver

# Fixtures of the plugin-layer tests (an isolated registry per test, ...) and of
# the built-in plugin tests (the ``backend`` they run on, a real redis-server).
pytest_plugins = ["_plugin_helpers", "_builtin_backends"]


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
