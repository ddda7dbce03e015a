"""Error policy per plugin (``raise`` / ``log`` / ``disable``), ``metrics`` and ``health``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from earnorm_aop import PluginRegistry, aemit, emit, hook, plugin, with_plugins


class Base:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def save(self) -> str:
        self.log.append("save")
        return "saved"


def _save(self: Any) -> str:
    self.log.append("save")
    return "saved"


class Flaky:
    """Shared switch for the failing plugins below: fail while ``failing`` is true."""

    failing = True


def failing_plugin(reg: PluginRegistry, name: str, kind: str = "before", **options: Any) -> None:
    def advice(self: Any, instance: Any, **rest: Any) -> Any:
        instance.log.append(name)
        if Flaky.failing:
            raise RuntimeError(f"{name} broke")
        return rest.get("value")

    if kind == "around":

        def advice(self: Any, instance: Any, proceed: Any) -> Any:  # type: ignore[misc]
            instance.log.append(name)
            if Flaky.failing:
                raise RuntimeError(f"{name} broke")
            return proceed()

    if kind == "chain":

        def advice(self: Any, value: Any, instance: Any) -> Any:  # type: ignore[misc]
            instance.log.append(name)
            if Flaky.failing:
                raise RuntimeError(f"{name} broke")
            return value

    cls = type(f"Plugin_{name}", (), {"advice": hook(f"{kind}:save")(advice)})
    plugin(name, registry=reg, **options)(cls)


@pytest.fixture(autouse=True)
def _failing() -> None:
    Flaky.failing = True


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "earnorm_aop" and r.levelno == level]


# --------------------------------------------------------------------------
# raise (default)
# --------------------------------------------------------------------------


def test_default_policy_raises(reg: PluginRegistry) -> None:
    failing_plugin(reg, "strict")
    assert reg.get_plugin("strict").enabled

    @with_plugins("strict", registry=reg)
    class M(Base):
        pass

    m = M()
    with pytest.raises(RuntimeError, match="strict broke"):
        m.save()
    assert m.log == ["strict"]  # the method did not run
    assert reg.metrics("strict")["failures"] == 0  # raise policy keeps no failure count


# --------------------------------------------------------------------------
# log
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["before", "after", "around", "chain"])
def test_log_policy_logs_and_goes_on(
    reg: PluginRegistry, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    failing_plugin(reg, "noisy", kind, on_error="log")

    @with_plugins("noisy", registry=reg)
    class Invoice(Base):
        pass

    m = Invoice()
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        assert m.save() == "saved"
    assert "save" in m.log and "noisy" in m.log
    [record] = records(caplog, logging.ERROR)
    message = record.getMessage()
    assert "plugin 'noisy'" in message
    assert "Invoice.save" in message  # the model and the method
    assert "goes on" in message
    assert record.exc_info is not None and "noisy broke" in str(record.exc_info[1])
    metrics = reg.metrics("noisy")
    assert metrics["failures"] == 1 and "noisy broke" in metrics["last_error"]
    assert metrics["enabled"] is True  # log never switches the plugin off
    for _ in range(5):
        m.save()
    assert reg.get_plugin("noisy").enabled is True


def test_log_policy_names_the_model_not_the_base_that_defines_the_method(
    reg: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    failing_plugin(reg, "noisy", on_error="log")

    @with_plugins("noisy", registry=reg)
    class Invoice(Base):  # save is inherited from Base
        pass

    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        Invoice().save()
    [record] = records(caplog, logging.ERROR)
    assert "Invoice" in record.getMessage()


def test_log_policy_on_an_async_method(
    reg: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    failing_plugin(reg, "noisy", on_error="log")

    @with_plugins("noisy", registry=reg)
    class M(Base):
        async def save(self) -> str:  # type: ignore[override]
            self.log.append("save")
            return "saved"

    m = M()
    with caplog.at_level(logging.ERROR, logger="earnorm_aop"):
        assert asyncio.run(m.save()) == "saved"
    assert m.log == ["noisy", "save"]
    assert len(records(caplog, logging.ERROR)) == 1


def test_log_policy_does_not_swallow_the_method_own_error(reg: PluginRegistry) -> None:
    failing_plugin(reg, "noisy", on_error="log")

    @with_plugins("noisy", registry=reg)
    class M(Base):
        def save(self) -> str:
            raise ValueError("the method failed")

    with pytest.raises(ValueError, match="the method failed"):
        M().save()


# --------------------------------------------------------------------------
# disable
# --------------------------------------------------------------------------


def test_disable_policy_switches_off_after_consecutive_failures(
    reg: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    failing_plugin(reg, "fragile", on_error="disable", max_failures=3)
    Flaky.failing = False

    class M(Base):
        save = _save

    with_plugins("fragile", registry=reg)(M)
    other_model = with_plugins("fragile", registry=reg)(type("Other", (Base,), {}))

    m = M()
    Flaky.failing = True
    with caplog.at_level(logging.WARNING, logger="earnorm_aop"):
        m.save()
        m.save()
        Flaky.failing = False
        m.save()  # a success resets the count
        Flaky.failing = True
        m.save()
        m.save()
        assert reg.get_plugin("fragile").enabled is True
        assert reg.metrics("fragile")["consecutive_failures"] == 2
        assert not records(caplog, logging.WARNING)
        m.save()  # third consecutive failure
    assert len(records(caplog, logging.ERROR)) == 5
    [warning] = records(caplog, logging.WARNING)
    assert warning.getMessage() == (
        "plugin 'fragile' disabled after 3 consecutive failures (max_failures=3)"
    )
    assert reg.get_plugin("fragile").enabled is False
    assert vars(M)["save"] is _save  # off everywhere, at no cost
    assert "save" not in vars(other_model)
    m.log.clear()
    m.save()
    assert m.log == ["save"]

    metrics = reg.metrics("fragile")
    assert metrics["auto_disabled"] is True
    assert metrics["failures"] == 5
    assert reg.health()["status"] == "degraded"

    reg.enable("fragile")  # switching it back on resets the failure state
    metrics = reg.metrics("fragile")
    assert metrics["auto_disabled"] is False and metrics["consecutive_failures"] == 0
    assert reg.health()["status"] == "ok"
    m.log.clear()
    Flaky.failing = False
    m.save()
    assert m.log == ["fragile", "save"]


def test_disable_policy_on_event_handlers(
    reg: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    @plugin("fragile_event", registry=reg, on_error="disable", max_failures=2)
    class FragileEvent:
        @hook("after_change")
        def handle(self) -> None:
            raise RuntimeError("handler broke")

    @with_plugins("fragile_event", registry=reg)
    class M(Base):
        pass

    with caplog.at_level(logging.WARNING, logger="earnorm_aop"):
        emit(M(), "after_change")
        assert reg.get_plugin("fragile_event").enabled is True
        emit(M(), "after_change")
    assert reg.get_plugin("fragile_event").enabled is False
    assert reg.metrics("fragile_event")["auto_disabled"] is True
    assert any("disabled after 2" in r.getMessage() for r in records(caplog, logging.WARNING))


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_handler_success_resets_the_count_under_disable(
    reg: PluginRegistry, asynchronous: bool
) -> None:
    @plugin("wobbly_event", registry=reg, on_error="disable", max_failures=2)
    class WobblyEvent:
        @hook("after_change")
        def handle(self, ok: bool) -> str:
            if not ok:
                raise RuntimeError("handler broke")
            return "handled"

    @with_plugins("wobbly_event", registry=reg)
    class M(Base):
        pass

    def fire(ok: bool) -> list[Any]:
        if asynchronous:
            return asyncio.run(aemit(M(), "after_change", ok=ok))
        return emit(M(), "after_change", ok=ok)

    assert fire(False) == []
    assert reg.metrics("wobbly_event")["consecutive_failures"] == 1
    assert fire(True) == ["handled"]  # a success resets the count
    assert reg.metrics("wobbly_event")["consecutive_failures"] == 0
    fire(False)  # one failure in a row again: below max_failures=2
    assert reg.get_plugin("wobbly_event").enabled is True
    assert reg.metrics("wobbly_event")["failures"] == 2
    fire(False)
    assert reg.get_plugin("wobbly_event").enabled is False


# --------------------------------------------------------------------------
# metrics and health
# --------------------------------------------------------------------------


def test_metrics_of_a_plugin(reg: PluginRegistry) -> None:
    failing_plugin(reg, "counted", on_error="log")
    metrics = reg.metrics("counted")
    assert metrics == {
        "name": "counted",
        "enabled": True,
        "auto_disabled": False,
        "models": [],
        "failures": 0,
        "consecutive_failures": 0,
        "last_error": None,
        "auto_disables": 0,
        "metering": False,
        "runs": {},
        "seconds": 0.0,
        "rollout": None,
    }

    @with_plugins("counted", registry=reg)
    class Account(Base):
        pass

    Account().save()
    metrics = reg.metrics("counted")
    assert [m.rsplit(".", 1)[-1] for m in metrics["models"]] == ["Account"]
    assert metrics["failures"] == 1 and metrics["consecutive_failures"] == 1
    assert metrics["last_error"] == "RuntimeError('counted broke')"
    reg.disable("counted")
    assert reg.metrics("counted")["enabled"] is False


def test_health(reg: PluginRegistry) -> None:
    failing_plugin(reg, "good", on_error="log")
    failing_plugin(reg, "bad", on_error="log")
    failing_plugin(reg, "unused")
    Flaky.failing = False

    @with_plugins("good", "bad", registry=reg)
    class M(Base):
        pass

    M().save()
    health = reg.health()
    assert health["status"] == "ok"
    assert set(health["plugins"]) == {"good", "bad"}  # plugins in use
    assert health["plugins"]["good"]["failures"] == 0

    Flaky.failing = True
    M().save()  # both fail once and are logged
    health = reg.health()
    assert health["status"] == "degraded"
    assert health["plugins"]["good"]["consecutive_failures"] == 1


def test_metrics_of_an_unknown_plugin(reg: PluginRegistry) -> None:
    from earnorm_aop import PluginNotFoundError

    with pytest.raises(PluginNotFoundError):
        reg.metrics("nothing")
