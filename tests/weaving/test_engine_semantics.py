"""Veto, around/proceed, chain flow, error advice and Recover, and run order."""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import Aspect, ProceedError, Recover
from earnorm_aop.weaving import weaver


class Model:
    def __init__(self, log: list[Any] | None = None) -> None:
        self.log = [] if log is None else log

    def save(self, x: int = 1, y: int = 0) -> int:
        self.log.append(("save", x, y))
        if x < 0:
            raise ValueError(f"negative {x}")
        return x + y


@pytest.fixture
def model(dispatch: str) -> Any:
    class M(Model):
        pass

    yield M
    weaver.unweave(M)


def full_aspect(name: str, log: list[Any], **options: Any) -> Aspect:
    """An aspect with one advice of every kind, each logging ``(name, kind)``."""

    def around(proceed: Any) -> Any:
        log.append((name, "around>"))
        result = proceed()
        log.append((name, "<around"))
        return result

    def chain(value: Any) -> Any:
        log.append((name, "chain"))
        return value

    return Aspect.of(
        name,
        [
            ("before:save", lambda: log.append((name, "before"))),
            ("around:save", around),
            ("chain:save", chain),
            ("after:save", lambda: log.append((name, "after"))),
            ("error:save", lambda: log.append((name, "error"))),
        ],
        **options,
    )


# --------------------------------------------------------------------------
# before / veto
# --------------------------------------------------------------------------


def test_before_runs_before_the_method(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, Aspect.of("b", [("before:save", lambda x: log.append(("before", x)))]))
    assert model(log).save(3) == 3
    assert log == [("before", 3), ("save", 3, 0)]


def test_veto_stops_everything(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, full_aspect("outer", log))
    weaver.weave(
        model,
        Aspect.of("veto", [("before:save", lambda: (log.append("veto"), False)[1])]),
    )
    weaver.weave(model, full_aspect("inner", log))
    assert model(log).save(5) is None
    assert log == [("outer", "before"), "veto"]


@pytest.mark.parametrize("value", [None, 0, "", [], True, "no"])
def test_only_false_vetoes(model: Any, value: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, Aspect.of("b", [("before:save", lambda: value)]))
    assert model(log).save(2) == 2
    assert log == [("save", 2, 0)]


def test_raising_before_aborts_without_error_advice(model: Any) -> None:
    log: list[Any] = []

    def before() -> None:
        raise PermissionError("no")

    weaver.weave(model, full_aspect("a", log))
    weaver.weave(model, Aspect.of("guard", [("before:save", before)]))
    with pytest.raises(PermissionError, match="no"):
        model(log).save(1)
    assert log == [("a", "before")]


# --------------------------------------------------------------------------
# around / proceed
# --------------------------------------------------------------------------


def test_around_without_proceed_replaces_the_method(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(
        model,
        Aspect.of(
            "a",
            [
                ("around:save", lambda: 42),
                ("chain:save", lambda v: v + 1),
                ("after:save", lambda result: log.append(("after", result))),
            ],
        ),
    )
    assert model(log).save(1) == 43
    assert log == [("after", 43)]  # the method never ran


def test_proceed_without_arguments_reuses_the_original_ones(model: Any) -> None:
    log: list[Any] = []

    def around(proceed: Any) -> Any:
        return ("wrapped", proceed())

    weaver.weave(model, Aspect.of("a", [("around:save", around)]))
    assert model(log).save(2, y=3) == ("wrapped", 5)
    assert log == [("save", 2, 3)]


def test_proceed_with_arguments_replaces_the_whole_list(model: Any) -> None:
    log: list[Any] = []
    seen: list[Any] = []

    def outer(proceed: Any) -> Any:
        return proceed(10)  # y is dropped: the whole argument list is replaced

    def inner(proceed: Any, args: tuple[Any, ...], kwargs: dict[str, Any], x: int) -> Any:
        seen.append((args, kwargs, x))
        return proceed(x=20, y=1)

    def after(args: tuple[Any, ...], result: int) -> None:
        seen.append(("after", args, result))

    weaver.weave(model, Aspect.of("outer", [("around:save", outer), ("after:save", after)]))
    weaver.weave(model, Aspect.of("inner", [("around:save", inner)]))
    assert model(log).save(2, y=3) == 21
    assert log == [("save", 20, 1)]
    # The inner around saw the outer's new arguments; after advice sees the call's own.
    assert seen == [((10,), {}, 10), ("after", (2,), 21)]


def test_proceed_twice_is_an_error(model: Any) -> None:
    log: list[Any] = []

    def around(proceed: Any) -> Any:
        proceed()
        return proceed()

    weaver.weave(model, Aspect.of("twice", [("around:save", around)]))
    with pytest.raises(ProceedError) as info:
        model(log).save(1)
    assert "twice" in str(info.value)
    assert "proceed() called twice" in str(info.value)
    assert log == [("save", 1, 0)]  # the method ran once


def test_proceed_twice_after_a_failure_is_still_an_error(model: Any) -> None:
    log: list[Any] = []

    def around(proceed: Any) -> Any:
        try:
            return proceed(-1)
        except ValueError:
            return proceed(1)

    weaver.weave(model, Aspect.of("retry", [("around:save", around)]))
    with pytest.raises(ProceedError):
        model(log).save(1)
    assert log == [("save", -1, 0)]


def test_around_result_goes_through_chain_and_after(model: Any) -> None:
    log: list[Any] = []

    def around(proceed: Any) -> Any:
        return proceed() * 2

    weaver.weave(
        model,
        Aspect.of(
            "a",
            [
                ("around:save", around),
                ("chain:save", lambda v: v + 1),
                ("after:save", lambda result: log.append(result)),
            ],
        ),
    )
    assert model(log).save(3) == 7
    assert log == [("save", 3, 0), 7]


# --------------------------------------------------------------------------
# chain / after
# --------------------------------------------------------------------------


def test_chain_results_flow_in_reverse_order(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, Aspect.of("first", [("chain:save", lambda v: (*v, "first"))]))
    weaver.weave(model, Aspect.of("second", [("chain:save", lambda v: (*v, "second"))]))
    weaver.weave(model, Aspect.of("tuple", [("chain:save", lambda v: (v,))]))
    assert model(log).save(1) == (1, "second", "first")


def test_after_sees_the_final_result_and_cannot_change_it(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(
        model,
        Aspect.of(
            "a",
            [
                ("after:save", lambda result: (log.append(("after", result)), "ignored")[1]),
                ("chain:save", lambda v: v * 100),
            ],
        ),
    )
    assert model(log).save(2) == 200
    assert log == [("save", 2, 0), ("after", 200)]


def test_raising_after_or_chain_propagates_without_error_advice(model: Any) -> None:
    log: list[Any] = []

    def bad_after() -> None:
        raise RuntimeError("after failed")

    weaver.weave(model, full_aspect("a", log))
    weaver.weave(model, Aspect.of("bad", [("after:save", bad_after)]))
    with pytest.raises(RuntimeError, match="after failed"):
        model(log).save(1)
    assert ("a", "error") not in log
    assert ("a", "chain") in log
    assert ("a", "after") not in log  # after advice of earlier plugins runs later


# --------------------------------------------------------------------------
# error advice
# --------------------------------------------------------------------------


def test_error_advice_observes_and_the_error_is_reraised(model: Any) -> None:
    log: list[Any] = []
    seen: list[BaseException] = []
    weaver.weave(model, full_aspect("a", log))
    weaver.weave(model, Aspect.of("obs", [("error:save", lambda error: seen.append(error))]))
    with pytest.raises(ValueError, match="negative -1") as info:
        model(log).save(-1)
    assert seen == [info.value]
    # chain and after advice did not run; the around saw the exception pass.
    assert log == [("a", "before"), ("a", "around>"), ("save", -1, 0), ("a", "error")]


def test_recover_replaces_the_exception_with_a_value(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, full_aspect("outer", log))
    weaver.weave(
        model, Aspect.of("rec", [("error:save", lambda error: Recover(("rec", str(error))))])
    )
    weaver.weave(model, full_aspect("inner", log))
    assert model(log).save(-2) == ("rec", "negative -2")
    # error advice runs in reverse order; the first Recover ends the handling, and
    # the value is the result as it is: no chain or after advice runs.
    assert log[-2:] == [("save", -2, 0), ("inner", "error")]
    assert ("outer", "error") not in log
    assert not any(entry[1] in ("chain", "after") for entry in log if entry[0] != "save")


def test_recover_none_is_a_result(model: Any) -> None:
    weaver.weave(model, Aspect.of("rec", [("error:save", lambda: Recover(None))]))
    assert model().save(-1) is None


def test_error_advice_returning_a_plain_value_does_not_recover(model: Any) -> None:
    weaver.weave(model, Aspect.of("plain", [("error:save", lambda: "not a Recover")]))
    with pytest.raises(ValueError):
        model().save(-1)


def test_error_advice_handles_exceptions_from_around(model: Any) -> None:
    log: list[Any] = []

    def around(proceed: Any) -> Any:
        raise KeyError("around")

    weaver.weave(
        model,
        Aspect.of(
            "a",
            [
                ("around:save", around),
                ("error:save", lambda error: Recover(type(error).__name__)),
            ],
        ),
    )
    assert model(log).save(1) == "KeyError"
    assert log == []


def test_error_advice_raising_replaces_the_exception(model: Any) -> None:
    def convert(error: BaseException) -> None:
        raise LookupError("converted") from error

    weaver.weave(model, Aspect.of("conv", [("error:save", convert)]))
    with pytest.raises(LookupError, match="converted") as info:
        model().save(-1)
    assert isinstance(info.value.__cause__, ValueError)


def test_recover_equality() -> None:
    assert Recover(1) == Recover(1)
    assert Recover(1) != Recover(2)
    assert Recover(1) != 1
    assert repr(Recover("x")) == "Recover('x')"


# --------------------------------------------------------------------------
# Order of phases and of aspects
# --------------------------------------------------------------------------


def test_order_of_phases_and_aspects(model: Any) -> None:
    log: list[Any] = []
    for name in ("A", "B", "C"):
        weaver.weave(model, full_aspect(name, log))
    assert model(log).save(1) == 1
    assert log == [
        ("A", "before"),
        ("B", "before"),
        ("C", "before"),
        ("A", "around>"),
        ("B", "around>"),
        ("C", "around>"),
        ("save", 1, 0),
        ("C", "<around"),
        ("B", "<around"),
        ("A", "<around"),
        ("C", "chain"),
        ("B", "chain"),
        ("A", "chain"),
        ("C", "after"),
        ("B", "after"),
        ("A", "after"),
    ]
    log.clear()
    with pytest.raises(ValueError):
        model(log).save(-1)
    assert [e for e in log if e[1] == "error"] == [("C", "error"), ("B", "error"), ("A", "error")]


def test_order_within_one_aspect(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(
        model,
        Aspect.of(
            "one",
            [
                ("before:save", lambda: log.append("b1")),
                ("after:save", lambda: log.append("a1")),
                ("before:save", lambda: log.append("b2")),
                ("after:save", lambda: log.append("a2")),
            ],
        ),
    )
    model(log).save(1)
    assert log == ["b1", "b2", ("save", 1, 0), "a2", "a1"]


def names_in_order(model: type) -> list[str]:
    return [a.name for a in weaver.effective_aspects(model)]


def test_priority_orders_aspects(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, Aspect.of("low", [("before:save", lambda: log.append("low"))]))
    weaver.weave(
        model, Aspect.of("high", [("before:save", lambda: log.append("high"))], priority=10)
    )
    weaver.weave(model, Aspect.of("mid", [("before:save", lambda: log.append("mid"))], priority=5))
    weaver.weave(model, Aspect.of("low2", [("before:save", lambda: log.append("low2"))]))
    weaver.weave(model, Aspect.of("neg", [("before:save", lambda: log.append("neg"))], priority=-1))
    assert names_in_order(model) == ["high", "mid", "low", "low2", "neg"]
    model(log).save(1)
    assert log == ["high", "mid", "low", "low2", "neg", ("save", 1, 0)]


def test_requires_moves_dependencies_first(model: Any) -> None:
    log: list[Any] = []

    def aspect(name: str, **options: Any) -> Aspect:
        return Aspect.of(name, [("before:save", lambda: log.append(name))], **options)

    weaver.weave(model, aspect("audit", requires=("stamp",), priority=10))
    weaver.weave(model, aspect("other", priority=5))
    weaver.weave(model, aspect("stamp"))
    weaver.weave(model, aspect("lonely", requires=("absent",)))
    assert names_in_order(model) == ["stamp", "audit", "other", "lonely"]
    model(log).save(1)
    assert log == ["stamp", "audit", "other", "lonely", ("save", 1, 0)]


def test_requires_chain_of_dependencies(model: Any) -> None:
    def aspect(name: str, *requires: str) -> Aspect:
        return Aspect.of(name, [("before:save", lambda: None)], requires=requires)

    weaver.weave(model, aspect("c", "b"))
    weaver.weave(model, aspect("b", "a"))
    weaver.weave(model, aspect("a"))
    assert names_in_order(model) == ["a", "b", "c"]


def test_parent_aspects_come_before_the_subclass_own(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, Aspect.of("parent", [("before:save", lambda: log.append("parent"))]))

    class Child(model):  # type: ignore[misc, valid-type]
        pass

    weaver.weave(Child, Aspect.of("child", [("before:save", lambda: log.append("child"))]))
    weaver.weave(model, Aspect.of("parent2", [("before:save", lambda: log.append("parent2"))]))
    assert names_in_order(Child) == ["parent", "parent2", "child"]
    Child(log).save(1)
    assert log == ["parent", "parent2", "child", ("save", 1, 0)]
    weaver.unweave(Child)


def test_reweaving_a_name_reconfigures_in_place(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, Aspect.of("x", [("before:save", lambda: log.append("x1"))]))
    weaver.weave(model, Aspect.of("y", [("before:save", lambda: log.append("y"))]))
    replacement = Aspect.of("x", [("before:save", lambda: log.append("x2"))])
    weaver.weave(model, replacement)
    assert names_in_order(model) == ["x", "y"]
    assert weaver.effective_aspects(model)[0] is replacement
    model(log).save(1)
    assert log == ["x2", "y", ("save", 1, 0)]


def test_describe_lists_the_chain_in_execution_order(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, full_aspect("A", log))
    weaver.weave(model, full_aspect("B", log))
    (chain,) = weaver.describe(model)
    assert chain.method == "save"
    assert chain.installed
    assert [(a.aspect.name, a.kind.value) for a in chain.advice] == [
        ("A", "before"),
        ("B", "before"),
        ("A", "around"),
        ("B", "around"),
        ("B", "chain"),
        ("A", "chain"),
        ("B", "after"),
        ("A", "after"),
        ("B", "error"),
        ("A", "error"),
    ]


def test_a_running_call_keeps_the_chain_it_started_with(model: Any) -> None:
    log: list[Any] = []

    def before() -> None:
        log.append("before")
        weaver.unweave(model)  # the class attribute is the original from now on

    weaver.weave(
        model,
        Aspect.of(
            "self_removing", [("before:save", before), ("after:save", lambda: log.append("after"))]
        ),
    )
    assert model(log).save(1) == 1
    assert log == ["before", ("save", 1, 0), "after"]
    assert vars(model).get("save", Model.__dict__["save"]) is Model.__dict__["save"]
    log.clear()
    model(log).save(1)
    assert log == [("save", 1, 0)]


def test_a_running_call_keeps_its_chain_when_disabled_midway(model: Any) -> None:
    log: list[Any] = []
    other = Aspect.of("other", [("after:save", lambda: log.append("other after"))])

    def before() -> None:
        log.append("before")
        weaver.set_enabled(other.switch, False)

    weaver.weave(model, other)
    weaver.weave(model, Aspect.of("toggler", [("before:save", before)]))
    model(log).save(1)
    assert log == ["before", ("save", 1, 0), "other after"]
    log.clear()
    model(log).save(1)
    assert log == ["before", ("save", 1, 0)]
    weaver.set_enabled(other.switch, True)
