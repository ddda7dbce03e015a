"""Advice parameters are injected by name, resolved once at weave time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from earnorm_aop import Aspect, JoinPoint, WeavingError
from earnorm_aop.weaving import weaver


def woven(model: type, *hooks: tuple[str, Any], name: str = "inj") -> Aspect:
    aspect = Aspect.of(name, list(hooks))
    weaver.weave(model, aspect)
    return aspect


class Model:
    def save(self, x: int, y: int = 2, *, flag: bool = False) -> int:
        return x + y + (100 if flag else 0)

    @classmethod
    def make(cls, value: int) -> tuple[type, int]:
        return cls, value

    @staticmethod
    def double(value: int) -> int:
        return value * 2


@pytest.fixture
def model(dispatch: str) -> Any:
    class M(Model):
        pass

    yield M
    weaver.unweave(M)


def test_instance_model_args_kwargs_method(model: Any) -> None:
    seen: list[Any] = []

    def before(
        instance: Any, model: type, args: tuple[Any, ...], kwargs: dict[str, Any], method: str
    ) -> None:
        seen.append((instance, model, args, kwargs, method))

    woven(model, ("before:save", before))
    obj = model()
    assert obj.save(1, y=3) == 4
    assert seen == [(obj, model, (1,), {"y": 3}, "save")]


def test_model_is_the_class_of_the_instance(model: Any) -> None:
    seen: list[Any] = []
    woven(model, ("before:save", lambda model: seen.append(model)))

    class Sub(model):  # type: ignore[misc, valid-type]
        pass

    Sub().save(1)
    model().save(1)
    assert seen == [Sub, model]


def test_instance_and_model_for_classmethod_and_staticmethod(model: Any) -> None:
    seen: list[Any] = []
    woven(
        model,
        ("before:make", lambda instance, model, args: seen.append(("make", instance, model, args))),
        ("before:double", lambda model, args: seen.append(("double", model, args))),
    )
    assert model.make(1) == (model, 1)
    assert model().make(2) == (model, 2)
    assert model.double(3) == 6
    assert model().double(4) == 8
    assert seen == [
        ("make", model, model, (1,)),
        ("make", model, model, (2,)),
        ("double", Model, (3,)),
        ("double", Model, (4,)),
    ]


def test_result_error_proceed(model: Any) -> None:
    seen: list[Any] = []

    def around(proceed: Any, args: tuple[Any, ...]) -> Any:
        seen.append(("around", callable(proceed)))
        return proceed()

    def after(result: int) -> None:
        seen.append(("after", result))

    def on_error(error: BaseException) -> None:
        seen.append(("error", type(error).__name__, str(error)))

    woven(model, ("around:save", around), ("after:save", after), ("error:save", on_error))
    assert model().save(1, 2) == 3
    with pytest.raises(TypeError) as info:
        model().save(1, "a")
    assert seen == [
        ("around", True),
        ("after", 3),
        ("around", True),
        ("error", "TypeError", str(info.value)),
    ]


def test_target_parameters_with_defaults(model: Any) -> None:
    seen: list[Any] = []
    woven(model, ("before:save", lambda x, y, flag: seen.append((x, y, flag))))
    obj = model()
    assert obj.save(1) == 3
    assert obj.save(1, 5) == 6
    assert obj.save(y=7, x=1, flag=True) == 108
    assert model.save(obj, 4) == 6  # called through the class
    assert seen == [(1, 2, False), (1, 5, False), (1, 7, True), (4, 2, False)]


def test_target_parameters_of_classmethod_and_staticmethod(model: Any) -> None:
    seen: list[Any] = []
    woven(
        model,
        ("before:make", lambda value: seen.append(("make", value))),
        ("before:double", lambda value: seen.append(("double", value))),
    )
    model.make(value=5)
    model.double(6)
    assert seen == [("make", 5), ("double", 6)]


def test_chain_value_is_the_first_parameter(model: Any) -> None:
    seen: list[Any] = []

    def chain(current: int, x: int, method: str) -> int:
        seen.append((current, x, method))
        return current * 10

    woven(model, ("chain:save", chain))
    assert model().save(1, 1) == 20
    assert seen == [(2, 1, "save")]


def test_chain_value_may_use_any_name(model: Any) -> None:
    # Even a reserved name: the first positional parameter is the value.
    woven(model, ("chain:save", lambda instance: instance + 1))
    assert model().save(1) == 4


def test_advice_defaults_and_keyword_only(model: Any) -> None:
    seen: list[Any] = []

    def before(x: int, unknown: str = "dflt", *, method: str, other: int = 7, y: int) -> None:
        seen.append((x, unknown, method, other, y))

    woven(model, ("before:save", before))
    model().save(1, 9)
    assert seen == [(1, "dflt", "save", 7, 9)]


def test_var_args_and_var_kwargs_receive_the_call(model: Any) -> None:
    seen: list[Any] = []

    def before(instance: Any, *args: Any, **kwargs: Any) -> None:
        seen.append((instance, args, kwargs))

    woven(model, ("before:save", before))
    obj = model()
    obj.save(1, y=2, flag=True)
    assert seen == [(obj, (1,), {"y": 2, "flag": True})]


def test_joinpoint(model: Any) -> None:
    seen: list[JoinPoint] = []

    def capture(joinpoint: JoinPoint) -> None:
        seen.append(joinpoint)

    def around(joinpoint: JoinPoint) -> Any:
        seen.append(joinpoint)
        assert joinpoint.proceed is not None
        return joinpoint.proceed()

    def on_error(joinpoint: JoinPoint) -> None:
        seen.append(joinpoint)

    woven(
        model,
        ("before:save", capture),
        ("around:save", around),
        ("after:save", capture),
        ("error:save", on_error),
        name="jp",
    )
    obj = model()
    assert obj.save(1, flag=True) == 103
    before, around, after = seen
    for jp in (before, around, after):
        assert jp.instance is obj
        assert jp.model is model
        assert jp.method == "save"
        assert jp.args == (1,)
        assert jp.kwargs == {"flag": True}
        assert jp.plugin == "jp"
        assert dict(jp.arguments) == {"x": 1, "y": 2, "flag": True}
    assert (before.kind, around.kind, after.kind) == ("before", "around", "after")
    assert before.result is None and before.proceed is None
    assert after.result == 103
    assert after.error is None
    seen.clear()
    with pytest.raises(TypeError):
        obj.save("a")
    error_jp = seen[-1]
    assert error_jp.kind == "error"
    assert isinstance(error_jp.error, TypeError)
    assert error_jp.result is None
    assert "save" in repr(error_jp)


def test_chain_joinpoint_sees_the_current_result(model: Any) -> None:
    seen: list[Any] = []

    def chain(value: int, joinpoint: JoinPoint) -> int:
        seen.append((value, joinpoint.kind))
        return value + 1

    woven(model, ("chain:save", chain))
    assert model().save(1, 1) == 3
    assert seen == [(2, "chain")]


def test_reserved_names_win_over_target_parameters(dispatch: str) -> None:
    class Shadow:
        def save(self, method: str, args: int, model: int = 0) -> tuple[str, int, int]:
            return method, args, model

    seen: list[Any] = []

    def before(method: str, args: Any, model: Any, joinpoint: JoinPoint) -> None:
        seen.append((method, args, model, dict(joinpoint.arguments)))

    woven(Shadow, ("before:save", before))
    try:
        assert Shadow().save("m", 5) == ("m", 5, 0)
        assert seen == [("save", ("m", 5), Shadow, {"method": "m", "args": 5, "model": 0})]
    finally:
        weaver.unweave(Shadow)


def test_joinpoint_arguments_without_target_parameters(model: Any) -> None:
    seen: list[Any] = []
    woven(model, ("before:double", lambda joinpoint: seen.append(dict(joinpoint.arguments))))
    model.double(3)
    assert seen == [{"value": 3}]


def test_no_binding_unless_a_target_parameter_is_asked_for(model: Any) -> None:
    woven(model, ("before:save", lambda instance, args: None), name="nobind")
    plan = vars(model)["save"]._self_plan
    assert not any(a.needs_binding for a in plan.all)
    weaver.unweave(model)
    woven(model, ("before:save", lambda x: None), name="bind")
    plan = vars(model)["save"]._self_plan
    assert [a.needs_binding for a in plan.all] == [True]


# --------------------------------------------------------------------------
# Errors at weave time
# --------------------------------------------------------------------------


def _weave_error(model: type, spec: str, func: Any, name: str = "plug") -> str:
    before = dict(vars(model))
    with pytest.raises(WeavingError) as info:
        weaver.weave(model, Aspect.of(name, [(spec, func)]))
    assert dict(vars(model)) == before, "a failed weave must change nothing"
    assert weaver.effective_aspects(model) == []
    return str(info.value)


def test_unresolvable_parameter() -> None:
    class M(Model):
        pass

    def stamp(instance: Any, missing_thing: Any) -> None:
        pass

    message = _weave_error(M, "before:save", stamp, name="stamper")
    assert "'stamper'" in message  # the plugin
    assert "'stamp'" in message  # the advice
    assert "'missing_thing'" in message  # the parameter
    # The available names: the reserved ones for a before advice and the target's.
    available = message.split("available names are", 1)[1]
    for name in ("instance", "model", "args", "kwargs", "method", "joinpoint", "x", "y", "flag"):
        assert name in available
    for name in ("result", "error", "proceed"):
        assert name not in available


@pytest.mark.parametrize(
    ("spec", "param", "only_for"),
    [
        ("before:save", "result", "after"),
        ("around:save", "result", "after"),
        ("error:save", "result", "after"),
        ("before:save", "error", "error"),
        ("after:save", "error", "error"),
        ("before:save", "proceed", "around"),
        ("after:save", "proceed", "around"),
    ],
)
def test_kind_specific_name_asked_by_another_kind(spec: str, param: str, only_for: str) -> None:
    class M(Model):
        pass

    func = eval(f"lambda {param}: None")
    message = _weave_error(M, spec, func)
    assert f"parameter {param!r} is only given to {only_for} advice" in message
    assert "'plug'" in message
    assert spec.split(":")[0] in message


def test_chain_advice_needs_a_positional_value_parameter() -> None:
    class M(Model):
        pass

    def chain(*, instance: Any) -> Any:
        return instance

    message = _weave_error(M, "chain:save", chain)
    assert "first positional parameter" in message
    assert "'chain'" in message


@pytest.mark.parametrize("kind", ["before", "after", "around", "chain", "error"])
def test_async_advice_on_sync_target(kind: str) -> None:
    class M(Model):
        pass

    async def advice(value: Any = None) -> None:
        await asyncio.sleep(0)

    message = _weave_error(M, f"{kind}:save", advice)
    assert "async def" in message
    assert "synchronous" in message
    assert "'advice'" in message
    assert "'plug'" in message


def test_unreadable_advice_signature() -> None:
    class M(Model):
        pass

    class NoSignature:
        __signature__ = "not a signature"

        def __call__(self) -> None:
            pass

    message = _weave_error(M, "before:save", NoSignature())
    assert "signature" in message


def test_weaving_errors_leave_other_aspects_alone() -> None:
    class M(Model):
        pass

    log: list[str] = []
    good = woven(M, ("before:save", lambda: log.append("good")), name="good")
    woven_save = vars(M)["save"]
    with pytest.raises(WeavingError):
        weaver.weave(M, Aspect.of("bad", [("before:save", lambda nope: None)]))
    assert vars(M)["save"] is woven_save
    assert weaver.effective_aspects(M) == [good]
    M().save(1)
    assert log == ["good"]
    weaver.unweave(M)
