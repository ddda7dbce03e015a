"""Plugin-layer edge cases: failed declarations, toggles, contributions, hooks (issue 10)."""

from __future__ import annotations

from typing import Any, ClassVar

import pydantic
import pytest

from earnorm_aop import PluginRegistry, WeavingError, unweave, with_plugins
from earnorm_aop.integrations import FieldSpec
from earnorm_aop.weaving import weaver


class Fielder:
    """Contributes a field and a method; advises save."""

    fields: ClassVar[dict[str, Any]] = {"deleted_at": FieldSpec("deleted_at", int | None, None)}
    model_methods: ClassVar[dict[str, Any]] = {"restore": lambda self: "restored"}

    def before_save(self) -> None:
        pass


class Broken:
    """Its pointcut matches nothing on the models below: weaving it fails."""

    from earnorm_aop import hook

    @hook("before:no_such_method")
    def nope(self) -> None:
        pass


@pytest.fixture
def fielding(reg: PluginRegistry) -> PluginRegistry:
    reg.register("fielder", Fielder)
    reg.register("broken", Broken)
    return reg


# --------------------------------------------------------------------------
# A failed with_plugins(...) leaves the class as it was
# --------------------------------------------------------------------------


def test_failed_with_plugins_leaves_no_field_method_or_annotation(fielding: PluginRegistry) -> None:
    class Plain:
        name: str = ""

        def save(self) -> str:
            return "saved"

    before = dict(vars(Plain))
    annotations = dict(Plain.__annotations__)
    with pytest.raises(WeavingError, match="no_such_method"):
        with_plugins("fielder", "broken", registry=fielding)(Plain)
    assert Plain.__annotations__ == annotations
    assert not hasattr(Plain, "deleted_at")
    assert not hasattr(Plain, "restore")
    assert {k: v for k, v in vars(Plain).items() if k != "__annotations__"} == {
        k: v for k, v in before.items() if k != "__annotations__"
    }
    assert weaver.effective_aspects(Plain) == []


def test_failed_with_plugins_leaves_a_pydantic_model_as_it_was(fielding: PluginRegistry) -> None:
    class Doc(pydantic.BaseModel):
        name: str = ""

        def save(self) -> str:
            return "saved"

    with pytest.raises(WeavingError, match="no_such_method"):
        with_plugins("fielder", "broken", registry=fielding)(Doc)
    assert Doc(name="x").model_dump() == {"name": "x"}
    assert list(Doc.model_fields) == ["name"]
    # And the same plugin woven alone afterwards works as usual.
    with_plugins("fielder", registry=fielding)(Doc)
    assert Doc(name="x").model_dump() == {"name": "x", "deleted_at": None}
    unweave(Doc)


# --------------------------------------------------------------------------
# A failed toggle changes nothing
# --------------------------------------------------------------------------


class _Picky(type):
    """A metaclass refusing to set the attributes ``frozen`` names."""

    def __setattr__(cls, name: str, value: Any) -> None:
        if name in vars(cls).get("frozen", ()):
            raise AttributeError(f"{cls.__name__}.{name} is frozen")
        super().__setattr__(name, value)


@pytest.fixture
def frozen_model(reg: PluginRegistry) -> Any:
    """A model woven with plugin ``rec``, whose ``save`` can no longer be reassigned."""
    log: list[Any] = []

    class Rec:
        def before_save(self) -> None:
            log.append("advice")

    reg.register("rec", Rec)

    @with_plugins("rec", registry=reg)
    class Model(metaclass=_Picky):
        frozen: tuple[str, ...] = ()

        def save(self) -> str:
            return "saved"

    type.__setattr__(Model, "frozen", ("save",))
    Model.log = log  # type: ignore[attr-defined]
    yield Model
    type.__setattr__(Model, "frozen", ())


def test_a_failed_disable_leaves_the_plugin_enabled(reg: PluginRegistry, frozen_model: Any) -> None:
    with pytest.raises(AttributeError, match="frozen"):
        reg.disable("rec")
    assert reg.get_plugin("rec").enabled
    assert reg.metrics("rec")["enabled"]
    assert frozen_model().save() == "saved"
    assert frozen_model.log == ["advice"]


def test_disabled_on_a_model_that_cannot_be_reassigned(
    reg: PluginRegistry, frozen_model: Any
) -> None:
    """Entering disabled() changes no class, so it cannot fail halfway; nothing leaks."""
    from earnorm_aop.weaving import scope

    with reg.disabled("rec"):
        assert frozen_model().save() == "saved"
    assert scope.DISABLED.get() == frozenset()
    assert not weaver.open_disabled_blocks()
    assert frozen_model().save() == "saved"
    assert frozen_model.log == ["advice"]


def test_a_failed_entry_into_disabled_switches_nothing_off(reg: PluginRegistry) -> None:
    from earnorm_aop import PluginNotFoundError
    from earnorm_aop.weaving import scope

    class Rec:
        def before_save(self) -> None:
            pass

    reg.register("rec", Rec)
    with pytest.raises(PluginNotFoundError), reg.disabled("rec", "nope"):
        pytest.fail("the block must not run")  # pragma: no cover
    assert scope.DISABLED.get() == frozenset()
    assert not weaver.open_disabled_blocks()


# --------------------------------------------------------------------------
# @hook and plugin classes: mistakes are PluginErrors that say what is wrong
# --------------------------------------------------------------------------


def test_hook_above_staticmethod_and_classmethod_is_woven(reg: PluginRegistry) -> None:
    from earnorm_aop import hook

    log: list[Any] = []

    class Marks:
        @hook("before:save")
        @staticmethod
        def static_mark(instance: Any) -> None:
            log.append(("static", type(instance).__name__))

        @hook("after:save")
        @classmethod
        def class_mark(cls, instance: Any) -> None:
            log.append(("class", cls.__name__))

    reg.register("marks", Marks)
    assert set(reg.get_plugin("marks").hooks) == {"before:save", "after:save"}

    @with_plugins("marks", registry=reg)
    class Model:
        def save(self) -> str:
            return "saved"

    assert Model().save() == "saved"
    assert log == [("static", "Model"), ("class", "Marks")]


@pytest.mark.parametrize("spec", [None, 42, [42], ["before:save", None], {"before:save"}])
def test_hook_with_a_spec_that_is_not_a_string_or_a_list_of_them(spec: Any) -> None:
    from earnorm_aop import PluginError, hook

    with pytest.raises(PluginError, match=r"@hook takes|pointcut|event name"):
        hook(spec)


@pytest.mark.parametrize("target", [42, None, "text"])
def test_hook_on_something_that_is_not_a_function(target: Any) -> None:
    from earnorm_aop import PluginError, hook

    with pytest.raises(PluginError, match=r"@hook.*decorates a method"):
        hook("before:save")(target)


def test_a_convention_named_attribute_that_is_not_callable(reg: PluginRegistry) -> None:
    from earnorm_aop import PluginError

    class Odd:
        before_save = 42

        def after_save(self) -> None:
            pass

    with pytest.raises(PluginError, match=r"before_save.*before:save.*int"):
        reg.register("odd", Odd)


def test_a_plugin_init_with_positional_only_options(reg: PluginRegistry) -> None:
    from earnorm_aop import PluginError

    class Positional:
        def __init__(self, ttl: int = 60, /) -> None:
            self.ttl = ttl

        def before_save(self) -> None:
            pass

    with pytest.raises(PluginError, match=r"'ttl'.*positional-only"):
        reg.register("positional", Positional)


# --------------------------------------------------------------------------
# Unweaving takes back contributed methods (fields stay)
# --------------------------------------------------------------------------


def test_unweave_removes_the_methods_a_plugin_contributed(fielding: PluginRegistry) -> None:
    class Other:
        model_methods: ClassVar[dict[str, Any]] = {"other_method": lambda self: "other"}

        def before_save(self) -> None:
            pass

    fielding.register("other", Other)

    class Plain:
        def save(self) -> str:
            return "saved"

        def restore(self) -> str:  # the model's own: never taken away
            return "own"

    @with_plugins("fielder", "other", registry=fielding)
    class Child(Plain):
        pass

    assert Child().restore() == "own"  # inherited own method wins over the plugin's
    own_dict = {k for k in vars(Plain)}

    @with_plugins("fielder", registry=fielding)
    class Solo:
        def save(self) -> str:
            return "saved"

    assert Solo().restore() == "restored"
    unweave(Solo, "fielder", registry=fielding)
    assert not hasattr(Solo, "restore")
    assert "deleted_at" in vars(Solo)  # contributed fields stay, as documented
    with_plugins("fielder", registry=fielding)(Solo)  # woven again: the method is back
    assert Solo().restore() == "restored"

    unweave(Child, "other", registry=fielding)
    assert not hasattr(Child, "other_method")
    unweave(Child, registry=fielding)
    assert Child().restore() == "own"
    assert set(vars(Plain)) == own_dict
    unweave(Solo, registry=fielding)
    assert not hasattr(Solo, "restore")


# --------------------------------------------------------------------------
# @dataclass(slots=True) re-creates the class: the copy is woven in its place
# --------------------------------------------------------------------------


@pytest.fixture
def recording(reg: PluginRegistry) -> tuple[PluginRegistry, list[Any]]:
    log: list[Any] = []

    class Rec:
        def before_save(self, instance: Any) -> None:
            log.append(("rec", type(instance).__name__))

    class Other:
        def before_save(self, instance: Any) -> None:
            log.append(("other", type(instance).__name__))

    reg.register("rec", Rec)
    reg.register("other", Other)
    return reg, log


def test_dataclass_slots_over_with_plugins(recording: tuple[PluginRegistry, Any]) -> None:
    import dataclasses

    from earnorm_aop.weaving.state import Woven

    reg, log = recording

    @dataclasses.dataclass(slots=True)
    @with_plugins("rec", registry=reg)
    class Model:
        a: int = 0

        def save(self) -> str:
            return "saved"

    assert Model(1).save() == "saved"
    assert log == [("rec", "Model")]

    class Sub(Model):
        def save(self) -> str:
            return super().save() + "!"

        class Meta:
            plugins: ClassVar[list[str]] = ["other"]

    log.clear()
    assert Sub().save() == "saved!"
    assert log == [("rec", "Sub"), ("other", "Sub")]
    reg.disable("rec")
    try:
        log.clear()
        assert Model().save() == "saved" and Sub().save() == "saved!"
        assert log == [("other", "Sub")]
    finally:
        reg.enable("rec")
    assert [a.name for a in weaver.effective_aspects(Model)] == ["rec"]
    unweave(Sub, registry=reg)
    unweave(Model, registry=reg)
    assert not isinstance(vars(Model)["save"], Woven)
    assert not isinstance(vars(Sub)["save"], Woven)
    assert "__init_subclass__" not in vars(Model)
    log.clear()
    assert Sub().save() == "saved!" and log == []


def test_dataclass_slots_subclass_of_a_woven_model(recording: tuple[PluginRegistry, Any]) -> None:
    import dataclasses

    reg, log = recording

    @with_plugins("rec", registry=reg)
    class Base:
        def save(self) -> str:
            return "base"

    @dataclasses.dataclass(slots=True)
    class Item(Base):
        a: int = 0

        def save(self) -> str:
            return "item"

    assert Item().save() == "item" and log == [("rec", "Item")]
    unweave(Base, registry=reg)
    log.clear()
    assert Item().save() == "item" and log == []
    assert "save" in vars(Item)


def test_dataclass_slots_on_a_plugin_model(recording: tuple[PluginRegistry, Any]) -> None:
    import dataclasses

    from earnorm_aop import PluginModel

    reg, log = recording

    @dataclasses.dataclass(slots=True)
    class Item(PluginModel):
        a: int = 0

        class Meta:
            plugins: ClassVar[list[str]] = ["rec"]
            registry = reg

        def save(self) -> str:
            return "item"

    assert Item().save() == "item" and log == [("rec", "Item")]
    unweave(Item, registry=reg)
    log.clear()
    assert Item().save() == "item" and log == []
