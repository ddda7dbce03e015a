"""Models that declare plugins: ``with_plugins``, ``PluginModel`` + ``Meta``, runtime weave."""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import (
    PluginConfigError,
    PluginModel,
    PluginNotFoundError,
    PluginRegistry,
    explain,
    plugin,
    unweave,
    weave,
    with_plugins,
)
from earnorm_aop import registry as default_registry


def _save(self: Any) -> str:
    self.log.append("save")
    return "saved"


class Base:
    def __init__(self) -> None:
        self.log: list[Any] = []

    save = _save


class ModelBase(PluginModel):
    def __init__(self) -> None:
        self.log: list[Any] = []

    save = _save


@pytest.fixture
def tagged(reg: PluginRegistry) -> PluginRegistry:
    """Plugins ``a``, ``b``, ``c`` logging ``(name, tag)`` before save; ``tag`` is their option."""
    for name in "abc":

        class Tag:
            label = name

            def __init__(self, tag: str = "default") -> None:
                self.tag = tag

            def before_save(self, instance):  # type: ignore[no-untyped-def]
                instance.log.append((self.label, self.tag))

        reg.register(name, Tag)
    return reg


# --------------------------------------------------------------------------
# with_plugins
# --------------------------------------------------------------------------


def test_with_plugins_weaves_in_place_and_returns_the_class(tagged: PluginRegistry) -> None:
    class M(Base):
        pass

    decorated = with_plugins("a", b={"tag": "B"}, registry=tagged)(M)
    assert decorated is M
    m = M()
    assert m.save() == "saved"
    assert m.log == [("a", "default"), ("b", "B"), "save"]


def test_with_plugins_subclasses_read_meta_plugins(tagged: PluginRegistry) -> None:
    @with_plugins("a", registry=tagged)
    class Parent(Base):
        pass

    class Child(Parent):
        class Meta:
            plugins = {"b": {"tag": "child"}}  # noqa: RUF012

    class GrandChild(Child):
        class Meta:
            plugins = ["c"]  # noqa: RUF012

    child = Child()
    child.save()
    assert child.log == [("a", "default"), ("b", "child"), "save"]
    grand = GrandChild()
    grand.save()
    assert grand.log == [("a", "default"), ("b", "child"), ("c", "default"), "save"]
    parent = Parent()
    parent.save()
    assert parent.log == [("a", "default"), "save"]


def test_plugin_model_subclass_inherits_and_adds(tagged: PluginRegistry) -> None:
    class Parent(ModelBase):
        class Meta:
            plugins = ["a", "b"]  # noqa: RUF012
            registry = tagged

    class Child(Parent):
        class Meta:
            plugins = ["c"]  # noqa: RUF012

    class Plain(Parent):  # no Meta of its own: exactly the parent's plugins
        pass

    child = Child()
    child.save()
    assert child.log == [("a", "default"), ("b", "default"), ("c", "default"), "save"]
    plain = Plain()
    plain.save()
    assert plain.log == [("a", "default"), ("b", "default"), "save"]
    parent = Parent()
    parent.save()
    assert parent.log == [("a", "default"), ("b", "default"), "save"]


def test_a_dict_entry_reconfigures_an_inherited_plugin(tagged: PluginRegistry) -> None:
    class Parent(ModelBase):
        class Meta:
            plugins = {"a": {"tag": "parent"}, "b": None}  # noqa: RUF012
            registry = tagged

    class Child(Parent):
        class Meta:
            plugins = {"a": {"tag": "child"}}  # noqa: RUF012

    child = Child()
    child.save()
    assert child.log == [("a", "child"), ("b", "default"), "save"]  # order kept
    parent = Parent()
    parent.save()
    assert parent.log == [("a", "parent"), ("b", "default"), "save"]


def test_meta_without_plugins_and_models_without_meta(tagged: PluginRegistry) -> None:
    class Empty(ModelBase):
        class Meta:
            ordering = ["id"]  # noqa: RUF012

    assert "save" not in vars(Empty)
    assert Empty.save is _save
    assert "(no plugins)" in explain(Empty)


def test_override_calling_super_runs_advice_once(tagged: PluginRegistry) -> None:
    class Parent(ModelBase):
        class Meta:
            plugins = ["a"]  # noqa: RUF012
            registry = tagged

    class Child(Parent):
        class Meta:
            plugins = ["b"]  # noqa: RUF012

        def save(self) -> str:
            self.log.append("child save")
            return super().save()

    child = Child()
    assert child.save() == "saved"
    assert child.log == [("a", "default"), ("b", "default"), "child save", "save"]


def test_unknown_name_in_meta_fails_at_class_creation(tagged: PluginRegistry) -> None:
    with pytest.raises(PluginNotFoundError) as info:

        class User(ModelBase):
            class Meta:
                plugins = ["a", "bb"]  # noqa: RUF012
                registry = tagged

    message = str(info.value)
    assert "'bb'" in message and "<locals>.User)" in message
    assert "did you mean 'b'" in message
    assert "Known plugins: a, b, c" in message


def test_failed_declaration_leaves_the_class_as_it_was(tagged: PluginRegistry) -> None:
    class M(Base):
        pass

    with pytest.raises(PluginConfigError):
        with_plugins("a", b={"tagg": 1}, registry=tagged)(M)
    assert "save" not in vars(M)
    assert M.save is _save
    assert "(no plugins)" in explain(M)


def test_plugins_must_be_a_list_or_a_dict(tagged: PluginRegistry) -> None:
    with pytest.raises(PluginConfigError, match="list of names or a dict"):

        class M(ModelBase):
            class Meta:
                plugins = 3
                registry = tagged

    with pytest.raises(PluginConfigError, match=r"plugin 'a' on \S*N: configuration must"):

        class N(ModelBase):
            class Meta:
                plugins = {"a": "tag"}  # noqa: RUF012
                registry = tagged


def test_default_registry_is_used_without_registry_option(default_names: list[str]) -> None:
    name = "model_decl_stamp"
    default_names.append(name)

    @plugin(name)
    class Stamp:
        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("stamped")

    @with_plugins(name)
    class M(Base):
        pass

    class N(ModelBase):
        class Meta:
            plugins = [name]  # noqa: RUF012

    for model in (M, N):
        m = model()
        m.save()
        assert m.log == ["stamped", "save"]
    models = default_registry.metrics(name)["models"]
    assert [m.rsplit(".", 1)[-1] for m in models] == ["M", "N"]
    unweave(M)
    unweave(N)


# --------------------------------------------------------------------------
# runtime weave / unweave
# --------------------------------------------------------------------------


def test_runtime_weave_and_unweave_by_name(tagged: PluginRegistry) -> None:
    class M(Base):
        pass

    weave(M, "a", registry=tagged)
    weave(M, "b", registry=tagged, tag="rt")
    m = M()
    m.save()
    assert m.log == [("a", "default"), ("b", "rt"), "save"]

    weave(M, "b", registry=tagged, tag="again")  # the last configuration wins
    weave(M, "a", registry=tagged)  # idempotent: still one 'a'
    m = M()
    m.save()
    assert m.log == [("a", "default"), ("b", "again"), "save"]

    unweave(M, "a", registry=tagged)
    m = M()
    m.save()
    assert m.log == [("b", "again"), "save"]
    unweave(M, "b", registry=tagged)
    assert vars(M).get("save") is None
    assert M.save is _save


def test_runtime_weave_on_a_declared_model_uses_its_registry(tagged: PluginRegistry) -> None:
    class M(ModelBase):
        class Meta:
            plugins = ["a"]  # noqa: RUF012
            registry = tagged

        save = _save

    weave(M, "c", tag="late")
    m = M()
    m.save()
    assert m.log == [("a", "default"), ("c", "late"), "save"]
    unweave(M)  # every plugin
    assert vars(M)["save"] is _save


def test_unweave_unknown_name_is_plugin_not_found(tagged: PluginRegistry) -> None:
    class M(Base):
        pass

    with pytest.raises(PluginNotFoundError, match="did you mean 'a'"):
        unweave(M, "aa", registry=tagged)
    with pytest.raises(PluginNotFoundError, match="no plugin named 'zzz'"):
        weave(M, "zzz", registry=tagged)


def test_unweaving_an_inherited_plugin_affects_that_subclass_only(tagged: PluginRegistry) -> None:
    class Parent(ModelBase):
        class Meta:
            plugins = ["a", "b"]  # noqa: RUF012
            registry = tagged

    class Child(Parent):
        pass

    unweave(Child, "a")
    child, parent = Child(), Parent()
    child.save()
    parent.save()
    assert child.log == [("b", "default"), "save"]
    assert parent.log == [("a", "default"), ("b", "default"), "save"]


def test_weave_on_a_parent_reaches_existing_subclasses(tagged: PluginRegistry) -> None:
    class Parent(Base):
        pass

    class Child(Parent):
        pass

    weave(Parent, "a", registry=tagged)
    child = Child()
    child.save()
    assert child.log == [("a", "default"), "save"]
    unweave(Parent, "a", registry=tagged)
    assert Child.save is _save


def test_unweaving_a_reconfigured_inherited_plugin_from_a_subclass(tagged: PluginRegistry) -> None:
    # Found by the stateful test: the subclass's own wrapper went away and the
    # parent's (still carrying the plugin) was inherited again.
    class Parent(Base):
        pass

    class Child(Parent):
        pass

    weave(Parent, "a", registry=tagged)
    weave(Child, "a", registry=tagged, tag="child")
    child = Child()
    child.save()
    assert child.log == [("a", "child"), "save"]
    unweave(Child, "a", registry=tagged)
    child = Child()
    child.save()
    assert child.log == ["save"]
    assert vars(Child)["save"] is _save  # the original hides the parent's wrapper
    parent = Parent()
    parent.save()
    assert parent.log == [("a", "default"), "save"]
