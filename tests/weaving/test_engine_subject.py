"""What ``instance`` is: an operation's subject, decided at weave time by the adapter.

Record operations (``save``, ``delete``, ``update``) get the record; operations
that produce a record (``get``, a classmethod ``create``) give the record
produced to ``after``/``chain`` advice; collection operations
(``get_queryset``, ``*_many``) give the collection.  ``joinpoint.target`` is
always the object called.  Both dispatchers must agree on every case.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnorm_aop import Aspect, JoinPoint
from earnorm_aop.adapters.base import Adapter
from earnorm_aop.weaving import weaver
from earnorm_aop.weaving.advice import Subject, Target
from earnorm_aop.weaving.chain import ChainPlan
from earnorm_aop.weaving.generated import compile_chain, source_of
from earnorm_aop.weaving.interpreted import interpret_chain


class Row:
    """A plain model in the plain adapter's convention, with a ``create`` classmethod."""

    rows: dict[int, Row]

    def __init__(self, id: int | None = None, title: str = "") -> None:
        self.id = id
        self.title = title

    def __repr__(self) -> str:
        return f"Row({self.id})"

    def save(self) -> str:
        return "saved"

    @classmethod
    def create(cls, title: str) -> Row:
        row = cls(len(cls.rows) + 1, title)
        cls.rows[row.id] = row  # type: ignore[index]
        return row

    @classmethod
    def get(cls, pk: int) -> Row:
        return cls.rows[pk]

    @classmethod
    def get_queryset(cls) -> list[Row]:
        return list(cls.rows.values())

    @classmethod
    def save_many(cls, objs: list[Row]) -> list[Row]:
        return objs

    @classmethod
    def update_many(cls, queryset: list[Row], **values: Any) -> int:
        return len(queryset)

    def publish(self) -> str:
        return "published"


def recorder(seen: list[Any], op: str) -> list[tuple[str, Any]]:
    """Advice of every kind on ``op`` that records ``(kind, instance, joinpoint.target)``."""

    def before(instance: Any, joinpoint: JoinPoint) -> None:
        seen.append(("before", instance, joinpoint.instance, joinpoint.target))

    def around(instance: Any, joinpoint: JoinPoint, proceed: Any) -> Any:
        seen.append(("around", instance, joinpoint.instance, joinpoint.target))
        return proceed()

    def chain(value: Any, instance: Any, joinpoint: JoinPoint) -> Any:
        seen.append(("chain", instance, joinpoint.instance, joinpoint.target))
        return value

    def after(instance: Any, joinpoint: JoinPoint) -> None:
        seen.append(("after", instance, joinpoint.instance, joinpoint.target))

    return [
        (f"before:{op}", before),
        (f"around:{op}", around),
        (f"chain:{op}", chain),
        (f"after:{op}", after),
    ]


@pytest.fixture
def model() -> Any:
    class M(Row):
        rows: dict[int, Row] = {}  # noqa: RUF012

    M.rows[1] = M(1, "one")
    return M


def phases(seen: list[Any]) -> dict[str, tuple[Any, Any]]:
    """kind -> (instance, joinpoint.target); ``instance`` and ``joinpoint.instance`` agree."""
    out = {}
    for kind, instance, jp_instance, target in seen:
        assert instance is jp_instance
        out[kind] = (instance, target)
    return out


def weave_recorder(model: type, op: str, seen: list[Any]) -> None:
    weaver.weave(model, Aspect.of(f"subjects_{op}", recorder(seen, op)))


def test_get_gives_the_record_it_produced_to_after_and_chain(dispatch: str, model: Any) -> None:
    seen: list[Any] = []
    weave_recorder(model, "get", seen)
    row = model.get(1)
    got = phases(seen)
    assert got["before"] == (model, model)
    assert got["around"] == (model, model)
    assert got["chain"] == (row, model)
    assert got["after"] == (row, model)


def test_a_classmethod_create_gives_the_record_it_produced(dispatch: str, model: Any) -> None:
    seen: list[Any] = []
    weave_recorder(model, "create", seen)
    row = model.create("two")
    got = phases(seen)
    assert got["before"][0] is model and got["after"] == (row, model)
    assert got["chain"] == (row, model)


def test_get_queryset_gives_the_collection_it_produced(dispatch: str, model: Any) -> None:
    seen: list[Any] = []
    weave_recorder(model, "get_queryset", seen)
    rows = model.get_queryset()
    got = phases(seen)
    assert got["before"] == (model, model)
    assert got["after"] == (rows, model)


@pytest.mark.parametrize("by_keyword", [False, True])
def test_save_many_gives_the_objects(dispatch: str, model: Any, by_keyword: bool) -> None:
    seen: list[Any] = []
    weave_recorder(model, "save_many", seen)
    objs = [model(None, "a")]
    model.save_many(objs=objs) if by_keyword else model.save_many(objs)
    got = phases(seen)
    for kind in ("before", "around", "chain", "after"):
        assert got[kind] == (objs, model), kind


def test_update_many_gives_the_queryset_argument(dispatch: str, model: Any) -> None:
    seen: list[Any] = []
    weave_recorder(model, "update_many", seen)
    queryset = model.get_queryset()
    assert model.update_many(queryset, title="x") == 1
    got = phases(seen)
    assert got["before"] == (queryset, model)
    assert got["after"] == (queryset, model)


def test_record_operations_and_other_methods_give_the_object_called(
    dispatch: str, model: Any
) -> None:
    seen: list[Any] = []
    weaver.weave(model, Aspect.of("subjects", recorder(seen, "save|publish")))
    row = model.get(1)
    assert row.save() == "saved"
    assert row.publish() == "published"
    assert {kind: value for kind, value in phases(seen).items()} == {
        "before": (row, row),
        "around": (row, row),
        "chain": (row, row),
        "after": (row, row),
    }
    assert len(seen) == 8


def test_an_instance_method_get_is_called_on_a_record(dispatch: str) -> None:
    """``get(self)`` is not an operation producing a record: ``instance`` is the record."""

    class Doc:
        def __init__(self) -> None:
            self.id = 5

        def get(self) -> str:
            return "row"

    seen: list[Any] = []
    weave_recorder(Doc, "get", seen)
    doc = Doc()
    assert doc.get() == "row"
    assert phases(seen)["after"] == (doc, doc)


def test_joinpoint_arguments_bind_against_the_object_called(dispatch: str, model: Any) -> None:
    bound: list[Any] = []

    def after(joinpoint: JoinPoint) -> None:
        bound.append(dict(joinpoint.arguments))

    weaver.weave(model, Aspect.of("args", [("after:get", after)]))
    model.get(1)
    assert bound == [{"pk": 1}]


def test_the_generated_source_uses_one_fixed_expression_per_subject(model: Any) -> None:
    """No per-call decision: the subject is chosen when the dispatcher is written."""
    seen: list[Any] = []
    weave_recorder(model, "get", seen)
    weave_recorder(model, "save_many", seen)
    get_source = source_of(vars(model)["get"]._self_wrapper)
    many_source = source_of(vars(model)["save_many"]._self_wrapper)
    # after/chain advice on get receive ``result``; before/around the object called
    assert "_JP(result," in get_source and "_JP(instance," in get_source
    assert "resolve" not in get_source and "subject" not in get_source.replace("_subject_name", "")
    assert "_JP((args[0] if len(args) > 0 else kwargs.get(_subject_name))," in many_source


# -- the two dispatchers agree -------------------------------------------------------

SUBJECTS = {
    "get": (Subject("produced"), lambda m: ((1,), {})),
    "save_many": (Subject("argument", 0, "objs"), lambda m: ((), {"objs": [m(None, "a")]})),
    "update_many": (Subject("argument", 0, "queryset"), lambda m: ((m.get_queryset(),), {})),
    "save": (Subject(), lambda m: ((), {})),
}


def plan_for(model: type, op: str, seen: list[Any]) -> ChainPlan:
    weave_recorder(model, op, seen)
    plan: ChainPlan = vars(model)[op]._self_plan
    weaver.unweave(model)
    return plan


@settings(max_examples=40, deadline=None)
@given(op=st.sampled_from(sorted(SUBJECTS)))
def test_generated_and_interpreted_agree_on_subjects(op: str) -> None:
    class M(Row):
        rows: dict[int, Row] = {}  # noqa: RUF012

    M.rows[1] = M(1, "one")
    seen: list[Any] = []
    plan = plan_for(M, op, seen)
    expected, make_call = SUBJECTS[op]
    assert plan.target.subject == expected
    args, kwargs = make_call(M)
    called: Any = M(1) if op == "save" else M
    wrapped = getattr(called, op)
    logs = []
    for make in (compile_chain, interpret_chain):
        seen.clear()
        result = make(plan)(wrapped, called, args, kwargs)
        logs.append((result, [(k, i, t) for k, i, _, t in seen]))
    assert logs[0] == logs[1]
    assert len(logs[0][1]) == 4


def test_subject_resolve_matches_the_documented_table() -> None:
    from earnorm_aop.weaving.pointcut import Kind

    called, result = object(), object()
    produced = Subject("produced")
    assert produced.resolve(called, (), {}, result, Kind.AFTER) is result
    assert produced.resolve(called, (), {}, result, Kind.CHAIN) is result
    assert produced.resolve(called, (), {}, None, Kind.BEFORE) is called
    argument = Subject("argument", 0, "objs")
    assert argument.resolve(called, ("a",), {}, None, Kind.BEFORE) == "a"
    assert argument.resolve(called, (), {"objs": "b"}, None, Kind.AFTER) == "b"
    with pytest.raises(ValueError, match="unknown subject source"):
        Subject("elsewhere")


# -- operations an adapter maps onto the model's own methods ----------------------------


def test_an_operation_mapped_onto_the_models_own_methods() -> None:
    """EarnORM's ``save`` runs on a record's own method, and its ``get`` is a classmethod."""

    class Doc:
        def _save(self, values: dict[str, Any]) -> Doc:
            return self

        @classmethod
        def read(cls, pk: int) -> Doc:
            return cls()

    class DocManager:
        def get(self, pk: int) -> Doc:
            return Doc()

    adapter = Adapter()
    on_record = Target.of(Doc, "_save", vars(Doc)["_save"], model=Doc)
    assert adapter.subject(Doc, "save", on_record) == Subject()  # the record, not its result
    read = Target.of(Doc, "read", vars(Doc)["read"], model=Doc)
    assert adapter.subject(Doc, "get", read) == Subject("produced")
    manager = Target.of(DocManager, "get", vars(DocManager)["get"], model=Doc)
    assert adapter.subject(Doc, "get", manager) == Subject("produced")
