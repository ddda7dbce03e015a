"""A value made once per call and given to every advice of that call (the engine's ``per_call``).

As SQLAlchemy gives one ``flush_context`` to each ``before_flush`` listener: the
dispatcher makes the value before any advice runs, from the call's own
arguments, and every advice asking for it — before, around (each level),
after, error — gets the same object; the next call makes another.  The
generated and the interpreted (``trace()``) dispatchers agree.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from earnorm_aop.errors import WeavingError
from earnorm_aop.weaving import extensions, weaver
from earnorm_aop.weaving.aspect import AdviceSpec, Aspect


def _points(made: list[Any]) -> Any:
    def factory(model: type, operation: str, target: Any) -> Any:
        if operation not in ("save", "asave"):
            return None

        def make(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            state = {"n": len(made) + 1, "args": args}
            made.append(state)
            return state

        return make

    return extensions.installed_as(per_call={"state": factory})


def _aspect(seen: list[tuple[str, Any]], policy: str = "raise") -> Aspect:
    def before(state: Any) -> None:
        seen.append(("before", state))

    def outer(proceed: Any, state: Any) -> Any:
        seen.append(("outer", state))
        return proceed("rewritten")

    def inner(proceed: Any, state: Any) -> Any:
        seen.append(("inner", state))
        return proceed()

    def after(state: Any) -> None:
        seen.append(("after", state))

    def error(state: Any) -> None:
        seen.append(("error", state))

    specs = [
        AdviceSpec(before, "before:save|asave"),
        AdviceSpec(outer, "around:save|asave"),
        AdviceSpec(inner, "around:save|asave"),
        AdviceSpec(after, "after:save|asave"),
        AdviceSpec(error, "error:save|asave"),
    ]
    return Aspect("p", tuple(specs), on_error=policy)


@pytest.mark.parametrize("policy", ["raise", "log"])
@pytest.mark.parametrize("traced", [False, True])
def test_one_value_per_call_shared_by_every_advice(policy: str, traced: bool) -> None:
    made: list[Any] = []
    seen: list[tuple[str, Any]] = []
    with _points(made):

        class M:
            def save(self, how: str = "as called") -> str:
                if how == "fail":
                    raise ValueError(how)
                return how

        weaver.weave(M, _aspect(seen, policy))
        if traced:
            with weaver.trace():
                M().save("first")
                M().save("second")
        else:
            M().save("first")
            M().save("second")
    phases = ["before", "outer", "inner", "after"]
    assert [p for p, _ in seen] == phases * 2
    assert [s["n"] for _, s in seen] == [1] * 4 + [2] * 4
    # Made from the call's own arguments, before the around rewrote them.
    assert [s["args"] for s in made] == [("first",), ("second",)]


def test_a_vetoed_call_and_a_failed_one_each_have_theirs() -> None:
    made: list[Any] = []
    seen: list[tuple[str, Any]] = []

    def veto(state: Any, args: tuple[Any, ...]) -> bool:
        return args != ("no",)

    with _points(made):

        class M:
            def save(self, how: str = "") -> str:
                raise ValueError(how)

        weaver.weave(M, Aspect("v", (AdviceSpec(veto, "before:save"),), priority=10))
        weaver.weave(M, _aspect(seen))
        assert M().save("no") is None
        with pytest.raises(ValueError):
            M().save("boom")
    assert len(made) == 2
    assert [p for p, _ in seen] == ["before", "outer", "inner", "error"]
    assert {s["n"] for _, s in seen} == {2}


def test_an_async_target_shares_it_across_the_await() -> None:
    made: list[Any] = []
    seen: list[tuple[str, Any]] = []
    with _points(made):

        class M:
            async def asave(self, how: str = "") -> str:
                await asyncio.sleep(0)
                return how

        weaver.weave(M, _aspect(seen))
        asyncio.run(M().asave("x"))
    assert [p for p, _ in seen] == ["before", "outer", "inner", "after"]
    assert {id(s) for _, s in seen} == {id(made[0])}


def test_where_the_maker_says_no_the_name_is_refused_at_weave_time() -> None:
    def wants(state: Any) -> None:
        pass

    with _points([]):

        class M:
            def load(self) -> None:
                pass

        with pytest.raises(WeavingError, match="'state' is given to advice on write operations"):
            weaver.weave(M, Aspect("w", (AdviceSpec(wants, "after:load"),)))


def test_a_per_call_name_must_be_new() -> None:
    with pytest.raises(ValueError, match="new identifier"):
        extensions.Extensions(per_call={"instance": lambda m, o, t: None})
    with pytest.raises(ValueError, match="new identifier"):
        extensions.Extensions(constants={"x": lambda m: None}, per_call={"x": lambda m, o, t: None})
