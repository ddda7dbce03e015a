"""One object per variant: the ``on_error`` policies and the sources of advice parameters.

Every place that runs a plugin's code asks the same :class:`OnError`
(dispatchers, deferred calls, conditions, event handlers), so the three
policies are checked here once, on the objects themselves, and then on the
places that use them: one plugin has one failure count.  A parameter source
is a closed set: an unknown one fails when the advice is planned.
"""

from __future__ import annotations

import inspect

import pytest

from earnorm_aop import PluginRegistry, emit, hook, plugin, trace, unweave, with_plugins
from earnorm_aop.weaving.advice import Param, Source
from earnorm_aop.weaving.aspect import Aspect
from earnorm_aop.weaving.policy import DISABLE, LOG, RAISE, policy_of


def _aspect(on_error: str) -> Aspect:
    return Aspect.of("p", [], on_error=on_error, max_failures=2)  # type: ignore[arg-type]


def test_each_on_error_value_is_one_policy_object() -> None:
    assert [policy_of(_aspect(n)) for n in ("raise", "log", "disable")] == [RAISE, LOG, DISABLE]
    with pytest.raises(ValueError, match="on_error must be one of"):
        _aspect("ignore")


def test_raise_propagates_log_counts_disable_trips() -> None:
    boom = RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        RAISE.failed(_aspect("raise"), boom, "advice")
    logged = _aspect("log")
    for _ in range(3):
        LOG.failed(logged, boom, "advice")
    assert logged.switch.failures == 3 and logged.switch.enabled
    tripping = _aspect("disable")
    DISABLE.failed(tripping, boom, "advice")
    DISABLE.succeeded(tripping)  # a success: no longer consecutive
    DISABLE.failed(tripping, boom, "advice")
    assert tripping.switch.consecutive_failures == 1 and not tripping.switch.auto_disabled
    DISABLE.failed(tripping, boom, "advice")
    assert tripping.switch.auto_disabled


def test_advice_and_event_handlers_share_one_count() -> None:
    registry = PluginRegistry()

    @plugin("shaky", registry=registry, on_error="log")
    class Shaky:
        @hook("before:save")
        def fail(self) -> None:
            raise RuntimeError("advice")

        @hook("restocked")
        def fail_too(self) -> None:
            raise RuntimeError("handler")

    @with_plugins("shaky", registry=registry)
    class Note:
        def save(self) -> str:
            return "saved"

    assert Note().save() == "saved"  # the generated dispatcher
    with trace():
        assert Note().save() == "saved"  # the interpreted one
    assert emit(Note(), "restocked") == []
    assert registry.metrics("shaky")["failures"] == 3
    unweave(Note)


@pytest.mark.parametrize("source", list(Source))
def test_every_source_is_accepted_by_name(source: Source) -> None:
    param = Param("x", inspect.Parameter.POSITIONAL_OR_KEYWORD, source.value)  # type: ignore[arg-type]
    assert param.source is source


def test_an_unknown_source_fails_when_the_parameter_is_made() -> None:
    with pytest.raises(ValueError, match="'contxt' is not a valid Source"):
        Param("x", inspect.Parameter.KEYWORD_ONLY, "contxt")  # type: ignore[arg-type]
