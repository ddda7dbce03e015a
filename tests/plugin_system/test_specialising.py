"""``per_model``: an advice made per model at weave time, or left out of a model's chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from earnorm_aop import PluginRegistry, explain, hook, plugin, weave
from earnorm_aop.plugin_system.specialising import per_model


class Kept:
    def save(self) -> str:
        return "saved"


class Skipped:
    def save(self) -> str:
        return "saved"


def _made(plugin: Any, model: type, operation: str, adapter: Any) -> Callable[..., None] | None:
    """Nothing for ``Skipped`` (no work there); for another model, an advice naming it."""
    if model is Skipped:
        return None

    def after(instance: Any) -> None:
        instance.seen = model.__name__

    return after


def test_a_factory_returning_none_leaves_the_advice_out_of_that_model_s_chain(
    reg: PluginRegistry,
) -> None:
    @plugin("specialised", registry=reg)
    class Specialised:
        @hook("after:save")
        @per_model(_made)
        def remember(self, instance: Any) -> None:
            raise AssertionError("replaced by what the factory makes")

        def before_save(self, instance: Any) -> None:
            instance.before = True

    weave(Kept, "specialised", registry=reg)
    weave(Skipped, "specialised", registry=reg)
    kept, skipped = Kept(), Skipped()
    assert kept.save() == "saved" and skipped.save() == "saved"
    assert kept.seen == "Kept" and kept.before  # type: ignore[attr-defined]
    assert skipped.before and not hasattr(skipped, "seen")  # type: ignore[attr-defined]
    assert "specialised.remember" in explain(Kept)
    shown = explain(Skipped)
    assert "specialised.remember" not in shown and "specialised.before_save" in shown, shown
