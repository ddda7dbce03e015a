"""What the ``changes`` plugin makes per woven model (issue 18, point 7).

Its after-save bookkeeping depends only on the operation and the model's
adapter, so the models of one adapter share one function per operation (one
signature read, one parameter tuple), and each model's saves still remember
that model's rows only.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from earnorm_aop import with_plugins
from earnorm_aop.adapters.base import Adapter, adapter_for
from earnorm_aop.plugin_system.conditions import per_model
from earnorm_aop.plugins.changes import _rememberer


def _model(name: str) -> type:
    class Note:
        def save(self) -> None:
            pass

        def update(self, **values: Any) -> None:
            for key, value in values.items():
                setattr(self, key, value)

    Note.__name__ = Note.__qualname__ = name
    return Note


def _after_save(model: type, method: str) -> Any:
    (advice,) = getattr(model, method)._self_plan.afters
    return advice


def test_models_of_one_adapter_share_their_rememberer_per_operation() -> None:
    first, second, third = (with_plugins("changes")(_model(n)) for n in ("A", "B", "C"))
    adapter = adapter_for(first)
    assert adapter is adapter_for(second) is adapter_for(third)
    for method in ("save", "update"):
        one, other, last = (_after_save(m, method) for m in (first, second, third))
        assert one.func is other.func is last.func is _rememberer(method, adapter)
        assert other.params is last.params  # resolved once (kept after the first)
        assert one.spec is other.spec is last.spec  # specialised once per adapter
        assert other is last  # and planned once: the same advice in every part
    assert _rememberer("save", adapter) is not _rememberer("update", adapter)
    assert _rememberer("save", Adapter()) is not _rememberer("save", adapter)


def test_each_model_still_remembers_its_own_rows() -> None:
    first = with_plugins("changes")(_model("First"))
    second = with_plugins("changes")(_model("Second"))
    adapter = adapter_for(first)
    a, b = first(), second()
    a.x, b.y = 1, 2
    a.save()
    assert adapter.persisted_state(a) == {"x": 1}
    assert adapter.persisted_state(b) is None  # not saved yet
    b.save()
    assert adapter.persisted_state(b) == {"y": 2}
    a.z = 3  # not written by the update below
    a.update(x=5)
    assert adapter.persisted_state(a) == {"x": 5}  # only the field the update wrote
    assert adapter.persisted_state(b) == {"y": 2}


def test_advice_holding_a_models_own_maker_is_not_kept_past_the_model() -> None:
    # timestamp's update stamper is given the model's ``write`` maker: its
    # planned advice is the model's own and must not outlive the model.
    model = with_plugins("timestamp", "softdelete")(_model("Gone"))
    row = model()
    row.save()
    row.update(x=1)
    gone = weakref.ref(model)
    del model, row
    gc.collect()
    assert gone() is None


def test_per_adapter_advice_cannot_ask_for_the_target() -> None:
    with pytest.raises(TypeError, match="by_adapter=True"):
        per_model(lambda plugin, model, operation, adapter: print, target=True, by_adapter=True)
