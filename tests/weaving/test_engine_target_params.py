"""Advice asking for target parameters: read straight from the call, as binding would.

The generated dispatcher reads the values advice asks for from ``args`` (or
through a function with the target's own parameters) instead of binding each
call with ``Signature.bind``; the interpreted dispatcher still binds.  These
tests hold the two to the same values and the same errors, on random
signatures and call shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from _hypothesis_profiles import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_dispatch import outcome

from earnorm_aop import Aspect
from earnorm_aop.weaving import codegen, generated, weaver
from earnorm_aop.weaving.chain import ChainPlan
from earnorm_aop.weaving.generated import compile_chain
from earnorm_aop.weaving.interpreted import interpret_chain

P = inspect.Parameter
KINDS = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)


@st.composite
def signatures(draw: st.DrawFn) -> list[P]:
    """Up to five named parameters ``p0..``: any kinds, defaults where Python allows them."""
    kinds = sorted(draw(st.lists(st.sampled_from(KINDS), max_size=5)), key=KINDS.index)
    params: list[P] = []
    defaulted = False  # a positional parameter after one with a default needs one too
    for k, kind in enumerate(kinds):
        has_default = draw(st.booleans())
        if kind is not P.KEYWORD_ONLY:
            has_default = has_default or defaulted
            defaulted = has_default
        params.append(P(f"p{k}", kind, default=f"d{k}" if has_default else P.empty))
    return params


def model_with(params: list[P], binding: str) -> type:
    """A class whose ``save`` has ``params`` (after ``self`` unless static) and returns them."""
    first = (
        P.POSITIONAL_ONLY
        if params and params[0].kind is P.POSITIONAL_ONLY
        else P.POSITIONAL_OR_KEYWORD
    )
    head = [] if binding == "staticmethod" else [P("self", first)]
    sig = inspect.Signature(head + params)
    text = f"def save{sig}:\n    return ({''.join(p.name + ', ' for p in params)})\n"
    namespace: dict[str, Any] = {}
    exec(text, namespace)  # signatures of p0..p4 with string defaults
    func = namespace["save"]
    return type("Target", (), {"save": staticmethod(func) if binding == "staticmethod" else func})


def asking(names: list[str], kind: str, log: list[Any]) -> Callable[..., Any]:
    """An advice of ``kind`` whose parameters are the target parameters ``names``."""
    extra = "proceed, " if kind == "around" else ""
    text = (
        f"def advice({extra}{', '.join(names)}):\n"
        f"    log.append(({kind!r}, {''.join(n + ', ' for n in names)}))\n"
        f"    return {'proceed()' if kind == 'around' else 'None'}\n"
    )
    namespace: dict[str, Any] = {"log": log}
    exec(text, namespace)  # names are p0..p4
    advice: Callable[..., Any] = namespace["advice"]
    return advice


def plan_for(model: type, hooks: list[tuple[str, Any]]) -> ChainPlan:
    weaver.weave(model, Aspect.of("asks", hooks))
    plan: ChainPlan = vars(model)["save"]._self_plan
    weaver.unweave(model)
    return plan


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, ...]:
    params = draw(signatures())
    names = [p.name for p in params]
    binding = draw(st.sampled_from(["method", "staticmethod"]))
    advice = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["before", "around"]),
                st.lists(st.sampled_from(names), unique=True, min_size=1) if names else st.just([]),
            ),
            min_size=1,
            max_size=3,
        )
    )
    # Any call shape: too few or too many positionals, keywords that repeat a
    # positional, name a positional-only parameter or no parameter at all.
    n_args = draw(st.integers(0, len(params) + 1))
    keywords = draw(st.lists(st.sampled_from([*names, "zz"]), unique=True, max_size=3))
    return params, binding, advice, n_args, keywords


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=cases())
def test_generated_reads_target_parameters_as_the_interpreted_binds_them(
    case: tuple[Any, ...],
) -> None:
    params, binding, advice, n_args, keywords = case
    log: list[Any] = []
    model = model_with(params, binding)
    hooks = [(f"{kind}:save", asking(names, kind, log)) for kind, names in advice]
    plan = plan_for(model, hooks)
    obj = model()
    args = tuple(f"a{k}" for k in range(n_args))
    kwargs = {name: f"k{name}" for name in keywords}
    seen = []
    for make in (compile_chain, interpret_chain):
        log.clear()
        dispatcher = make(plan)
        seen.append((outcome(lambda d=dispatcher: d(obj.save, obj, args, dict(kwargs))), list(log)))
    assert seen[0] == seen[1]
    # Code is shared by shape: the signature's part of the shape must be complete.
    compiled = generated.source_of(compile_chain(plan))
    assert compiled == codegen.Generator(plan).generate()[1]
    # And both agree with Python on whether the call is valid at all.
    valid = outcome(lambda: obj.save(*args, **kwargs))[0] == "ok"
    assert (seen[0][0][0] == "ok") == valid


class Model:
    def save(self, x: Any, y: Any = "y", /, z: Any = "z", *, force: bool = False) -> Any:
        return x, y, z, force


@pytest.fixture
def forced() -> Any:
    """``Model`` woven with a before advice asking for ``force`` and ``x``."""
    seen: list[Any] = []

    class M(Model):
        pass

    def before(force: bool, x: Any) -> None:
        seen.append((force, x))

    weaver.weave(M, Aspect.of("force", [("before:save", before)]))
    M.seen = seen  # type: ignore[attr-defined]
    yield M
    weaver.unweave(M)


def test_the_generated_dispatcher_binds_no_call_of_a_named_signature(forced: Any) -> None:
    source = generated.source_of(vars(forced)["save"]._self_wrapper)
    code = "".join(line for line in source.splitlines(True) if not line.startswith("#"))
    assert "_ba" not in code  # (the legend comment names it)
    assert "if not kwargs and 1 <= len(args) <= 3:" in source
    obj = forced()
    assert obj.save(1) == (1, "y", "z", False)
    assert obj.save(1, 2, z=3, force=True) == (1, 2, 3, True)
    assert forced.seen == [(False, 1), (True, 1)]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing a required argument: 'x'"),
        ((1,), {"x": 2}, "unexpected keyword argument 'x'"),  # positional-only
        ((1, 2, 3, 4), {}, "too many positional arguments"),
        ((1,), {"zz": 1}, "got an unexpected keyword argument 'zz'"),
        ((1, 2, 3), {"z": 3}, "multiple values for argument 'z'"),
    ],
)
def test_a_call_the_target_would_refuse_fails_before_any_advice_runs(
    forced: Any, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        forced().save(*args, **kwargs)
    assert forced.seen == []


def test_a_signature_with_star_args_still_binds_each_call() -> None:
    class Star:
        def save(self, x: Any, *rest: Any, **options: Any) -> Any:
            return x, rest, options

    seen: list[Any] = []
    weaver.weave(Star, Aspect.of("star", [("before:save", lambda x: seen.append(x))]))
    try:
        assert "_ba = _bind(" in generated.source_of(vars(Star)["save"]._self_wrapper)
        assert Star().save(1, 2, k=3) == (1, (2,), {"k": 3})
        assert Star().save(x=4) == (4, (), {})
        assert seen == [1, 4]
    finally:
        weaver.unweave(Star)
