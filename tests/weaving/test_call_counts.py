"""One call of a woven method, pinned by the Python calls it makes (no timing).

The generated dispatcher is one function per chain: a call runs it, each
advice and the method, and nothing else of earnorm_aop (no look-up, no
binding, no per-call planning).  A counted profile holds on a loaded machine.
"""

from __future__ import annotations

from typing import Any

from _calls import calls, ours

from earnorm_aop import PluginRegistry, hook, plugin, unweave, with_plugins


def test_a_woven_call_is_the_dispatcher_the_advice_and_the_method() -> None:
    registry = PluginRegistry()
    seen: list[Any] = []

    @plugin("watch", registry=registry)
    class Watch:
        @hook("before:save")
        def check(self, instance: Any, x: int) -> None:
            seen.append(x)

        @hook("after:save")
        def done(self, result: int, adapter: Any) -> None:
            seen.append(result)

    @with_plugins("watch", registry=registry)
    class Note:
        def save(self, x: int) -> int:
            return x + 1

    note = Note()
    counted = calls(lambda: note.save(1))
    mine = ours(counted)
    assert sorted(name.rpartition(":")[2] for name in mine) == ["dispatch"]
    assert sum(mine.values()) == 1  # the generated dispatcher, nothing else of ours
    assert counted[f"{__name__}:check"] == counted[f"{__name__}:done"] == 1
    assert counted[f"{__name__}:save"] == 1
    assert sum(counted.values()) == 5, counted  # the lambda, dispatch, check, save, done
    assert seen == [1, 2]
    unweave(Note)
