"""Every binding case, transparency of the wrapper, idempotence and clean unweaving."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import pydantic
import pytest
import wrapt

from earnorm_aop import Aspect, WeavingError
from earnorm_aop.weaving import weaver


def make_model() -> type:
    class Model:
        """A model."""

        def save(self, x: int, y: int = 2) -> tuple[Any, int]:
            """Save it."""
            return self, x + y

        @classmethod
        def make(cls, value: int) -> tuple[type, int]:
            """Make one."""
            return cls, value

        @staticmethod
        def double(value: int) -> int:
            """Double it."""
            return value * 2

    return Model


def recording(log: list[Any], name: str = "rec", spec: str = "before:*") -> Aspect:
    return Aspect.of(name, [(spec, lambda method, args: log.append((name, method, args)))])


@pytest.fixture
def model(dispatch: str) -> Any:
    m = make_model()
    yield m
    weaver.unweave(m)


def test_instance_method_via_instance_and_via_class(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, recording(log))
    obj = model()
    assert obj.save(1) == (obj, 3)
    assert model.save(obj, 1, y=5) == (obj, 6)
    assert model.save(obj, x=2) == (obj, 4)
    assert log == [("rec", "save", (1,)), ("rec", "save", (1,)), ("rec", "save", ())]


def test_instance_method_via_class_binds_target_parameters(model: Any) -> None:
    seen: list[Any] = []
    weaver.weave(
        model,
        Aspect.of("p", [("before:save", lambda instance, x, y: seen.append((instance, x, y)))]),
    )
    obj = model()
    model.save(obj, 4)
    obj.save(5, 6)
    assert seen == [(obj, 4, 2), (obj, 5, 6)]


def test_classmethod_via_class_and_instance(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, recording(log))

    class Sub(model):  # type: ignore[misc, valid-type]
        pass

    assert model.make(1) == (model, 1)
    assert model().make(2) == (model, 2)
    assert Sub.make(3) == (Sub, 3)
    assert log == [("rec", "make", (1,)), ("rec", "make", (2,)), ("rec", "make", (3,))]


def test_staticmethod_via_class_and_instance(model: Any) -> None:
    log: list[Any] = []
    weaver.weave(model, recording(log))
    assert model.double(2) == 4
    assert model().double(3) == 6
    assert log == [("rec", "double", (2,)), ("rec", "double", (3,))]


def test_one_wrapper_per_method_whatever_the_number_of_advice(model: Any) -> None:
    log: list[Any] = []
    raw = dict(vars(model))
    for name in ("a", "b", "c"):
        weaver.weave(model, recording(log, name))
    weaver.weave(
        model,
        Aspect.of("d", [("after:save", lambda: None), ("around:save", lambda proceed: proceed())]),
    )
    for name in ("save", "make", "double"):
        wrapper = vars(model)[name]
        assert isinstance(wrapper, wrapt.FunctionWrapper)
        # A plain FunctionWrapper (wrapt binds subclasses more slowly), known as ours.
        assert type(wrapper) is wrapt.FunctionWrapper
        assert isinstance(wrapper, weaver.Woven)
        # The wrapper wraps the original directly: no wrapper of a wrapper.
        assert wrapper.__wrapped__ is raw[name]
    assert len(vars(model)["save"]._self_plan.all) == 5


@pytest.mark.parametrize("name", ["save", "make", "double"])
def test_wrapper_is_transparent(model: Any, name: str) -> None:
    twin = make_model()  # an identical class that stays unwoven
    weaver.weave(model, recording([]))
    raw = vars(twin)[name]
    for woven, plain in (
        (getattr(model, name), getattr(twin, name)),
        (getattr(model(), name), getattr(twin(), name)),
    ):
        assert woven.__name__ == plain.__name__ == name
        assert woven.__qualname__ == plain.__qualname__
        assert woven.__qualname__.endswith(f"Model.{name}")
        assert woven.__doc__ == plain.__doc__
        assert woven.__doc__
        assert inspect.signature(woven) == inspect.signature(plain)
        assert woven.__module__ == plain.__module__
        assert inspect.iscoroutinefunction(woven) is False
        assert callable(woven)
        assert inspect.ismethod(woven) == inspect.ismethod(plain)
        assert inspect.isfunction(woven) == inspect.isfunction(plain)
    # __wrapped__ leads to the original function.
    func = getattr(raw, "__func__", raw)
    wrapped = getattr(model, name).__wrapped__
    assert getattr(wrapped, "__func__", wrapped).__code__ is func.__code__
    assert inspect.unwrap(getattr(model, name)).__code__ is func.__code__


def test_isinstance_checks_see_the_original_kind(model: Any) -> None:
    weaver.weave(model, recording([]))
    assert isinstance(vars(model)["make"], classmethod)
    assert isinstance(vars(model)["double"], staticmethod)
    assert callable(vars(model)["save"])


def test_weaving_twice_is_a_no_op(model: Any) -> None:
    log: list[Any] = []
    aspect = recording(log)
    weaver.weave(model, aspect)
    wrapper = vars(model)["save"]
    weaver.weave(model, aspect)
    assert vars(model)["save"] is wrapper
    assert weaver.effective_aspects(model) == [aspect]
    model().save(1)
    assert log == [("rec", "save", (1,))]


@pytest.mark.parametrize("by", ["object", "name", "all"])
def test_unweave_restores_the_original_objects(model: Any, by: str) -> None:
    raw = dict(vars(model))
    log: list[Any] = []
    aspect = recording(log)
    weaver.weave(model, aspect)
    assert all(vars(model)[n] is not raw[n] for n in ("save", "make", "double"))
    weaver.unweave(model, {"object": aspect, "name": "rec", "all": None}[by])
    assert vars(model).keys() == raw.keys()
    assert all(vars(model)[k] is v for k, v in raw.items())
    assert model.save is raw["save"]
    assert weaver.effective_aspects(model) == []
    assert weaver.describe(model) == []
    model().save(1)
    assert log == []


def test_unweave_of_an_absent_aspect_is_a_no_op(model: Any) -> None:
    raw = dict(vars(model))
    weaver.unweave(model, "nothing")
    weaver.unweave(model)
    assert all(vars(model)[k] is v for k, v in raw.items())
    aspect = recording([])
    weaver.weave(model, aspect)
    wrapper = vars(model)["save"]
    weaver.unweave(model, "other")
    assert vars(model)["save"] is wrapper


def test_partial_unweave_keeps_the_rest(model: Any) -> None:
    log: list[Any] = []
    raw = dict(vars(model))
    weaver.weave(model, recording(log, "all"))
    weaver.weave(model, recording(log, "save_only", "before:save"))
    weaver.unweave(model, "all")
    assert vars(model)["make"] is raw["make"]
    assert vars(model)["double"] is raw["double"]
    assert isinstance(vars(model)["save"], weaver.Woven)
    model().save(1)
    model.make(1)
    assert log == [("save_only", "save", (1,))]


def test_disabled_aspect_leaves_the_original_in_place(model: Any) -> None:
    log: list[Any] = []
    raw = dict(vars(model))
    aspect = recording(log)
    weaver.weave(model, aspect)
    weaver.set_enabled(aspect.switch, False)
    assert all(vars(model)[k] is v for k, v in raw.items())
    model().save(1)
    assert log == []
    assert [c.installed for c in weaver.describe(model)] == [False, False, False]
    weaver.set_enabled(aspect.switch, True)
    assert isinstance(vars(model)["save"], weaver.Woven)
    model().save(1)
    assert log == [("rec", "save", (1,))]


def test_weave_onto_a_non_class_is_an_error() -> None:
    with pytest.raises(WeavingError, match="only weave onto a class"):
        weaver.weave(make_model()(), recording([]))  # type: ignore[arg-type]
    with pytest.raises(WeavingError, match="only weave onto a class"):
        weaver.unweave("Model")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# pydantic models and classes with their own metaclass
# --------------------------------------------------------------------------


class Item(pydantic.BaseModel):
    name: str
    qty: int = 1

    def save(self, suffix: str = "") -> str:
        """Save the item."""
        return f"{self.name}{suffix}:{self.qty}"

    @classmethod
    def build(cls, name: str) -> Item:
        return cls(name=name)


def test_pydantic_model(dispatch: str) -> None:
    class Thing(Item):
        pass

    raw = dict(vars(Thing))
    log: list[Any] = []
    weaver.weave(
        Thing,
        Aspect.of(
            "pyd",
            [
                ("before:*", lambda method, instance: log.append((method, instance))),
                ("chain:save", lambda v: v.upper()),
            ],
        ),
    )
    try:
        # Globs range over the model's own methods, not BaseModel's.
        assert {c.method for c in weaver.describe(Thing)} == {"save", "build"}
        thing = Thing(name="x", qty=2)
        assert thing.save("!") == "X!:2"
        assert isinstance(Thing.build("y"), Thing)
        assert log == [("save", thing), ("build", Thing)]
        assert thing.model_dump() == {"name": "x", "qty": 2}
        assert Thing.save.__doc__ == "Save the item."
        assert inspect.signature(Thing.save) == inspect.signature(Item.save)
    finally:
        weaver.unweave(Thing)
    assert all(vars(Thing)[k] is v for k, v in raw.items())
    assert Thing(name="z").save() == "z:1"


def test_pydantic_framework_methods_can_be_named_exactly(dispatch: str) -> None:
    class Thing(Item):
        pass

    log: list[Any] = []
    weaver.weave(
        Thing, Aspect.of("dump", [("after:model_dump", lambda result: log.append(result))])
    )
    try:
        assert Thing(name="n").model_dump() == {"name": "n", "qty": 1}
        assert log == [{"name": "n", "qty": 1}]
        assert "model_dump" not in vars(Item)  # pydantic.BaseModel's own dict is untouched
        assert not isinstance(vars(pydantic.BaseModel)["model_dump"], weaver.Woven)
    finally:
        weaver.unweave(Thing)
    assert "model_dump" not in vars(Thing)


class Registering(type):
    created: ClassVar[list[str]] = []

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Registering:
        cls = super().__new__(mcs, name, bases, ns)
        mcs.created.append(name)
        return cls

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__call__(*args, **kwargs)
        obj.via_meta = True
        return obj

    def describe_me(cls) -> str:
        return f"class {cls.__name__}"


def test_class_with_its_own_metaclass(dispatch: str) -> None:
    class Meta(metaclass=Registering):
        def save(self, x: int) -> int:
            return x * 3

    raw = dict(vars(Meta))
    log: list[Any] = []
    weaver.weave(Meta, recording(log))
    try:
        # Metaclass methods are not methods of the model.
        assert {c.method for c in weaver.describe(Meta)} == {"save"}
        obj = Meta()
        assert obj.via_meta
        assert obj.save(2) == 6
        assert Meta.describe_me() == "class Meta"
        assert log == [("rec", "save", (2,))]

        class Sub(Meta):
            pass

        assert Sub().save(1) == 3
        assert "Sub" in Registering.created
        assert log[-1] == ("rec", "save", (1,))
    finally:
        weaver.unweave(Meta)
    assert all(vars(Meta)[k] is v for k, v in raw.items())
    assert vars(Meta).keys() == raw.keys()


def test_slotted_class(dispatch: str) -> None:
    class Slotted:
        __slots__ = ("value",)

        def __init__(self, value: int) -> None:
            self.value = value

        def get(self) -> int:
            return self.value

    log: list[Any] = []
    weaver.weave(Slotted, Aspect.of("s", [("chain:get", lambda v: v + 1)]))
    try:
        assert Slotted(1).get() == 2
    finally:
        weaver.unweave(Slotted)
    assert Slotted(1).get() == 1
    assert log == []


def test_pydantic_subclass_created_after_weaving(dispatch: str) -> None:
    class Thing(Item):
        pass

    log: list[Any] = []
    weaver.weave(Thing, Aspect.of("pyd", [("before:save", lambda model: log.append(model))]))
    try:

        class Special(Thing):
            extra: int = 0

            def save(self, suffix: str = "") -> str:
                return "special " + super().save(suffix)

        assert set(Special.model_fields) == {"name", "qty", "extra"}
        assert Special(name="s").save() == "special s:1"
        assert log == [Special]
    finally:
        weaver.unweave(Thing)
    assert not isinstance(vars(Special)["save"], weaver.Woven)
    assert "__init_subclass__" not in vars(Thing)
