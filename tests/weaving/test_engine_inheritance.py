"""Inheritance: subclasses inherit advice, super() runs it once, scopes stay separate."""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import Aspect
from earnorm_aop.weaving import weaver
from earnorm_aop.weaving.rebuild import _chain_key


def tagger(log: list[Any], name: str, spec: str = "before:save") -> Aspect:
    return Aspect.of(name, [(spec, lambda model: log.append((name, model.__name__)))])


def snapshot(cls: type) -> dict[str, Any]:
    return dict(vars(cls))


def assert_same_dict(cls: type, snap: dict[str, Any]) -> None:
    assert vars(cls).keys() == snap.keys()
    changed = [k for k, v in snap.items() if vars(cls)[k] is not v]
    assert not changed, f"{cls.__name__}: {changed} differ"


class Base:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def save(self, x: int = 0) -> str:
        self.log.append(("Base.save", x))
        return "base"

    @classmethod
    def make(cls, log: list[Any]) -> Any:
        log.append(("Base.make", cls.__name__))
        return cls(log)


@pytest.fixture
def parent(dispatch: str) -> Any:
    class Parent(Base):
        pass

    yield Parent
    for klass in [Parent, *weaver.subclasses(Parent)]:
        weaver.unweave(klass)


def test_existing_subclass_inherits_advice(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        pass

    weaver.weave(parent, tagger(log, "A"))
    assert Child(log).save() == "base"
    assert log == [("A", "Child"), ("Base.save", 0)]


def test_subclass_created_after_weaving_inherits_advice(parent: Any) -> None:
    log: list[Any] = []
    weaver.weave(parent, tagger(log, "A"))
    assert "__init_subclass__" in vars(parent)  # the weaver's hook

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            self.log.append(("Child.save", x))
            return "child"

    # The override got its own wrapper through the hook.
    assert isinstance(vars(Child)["save"], weaver.Woven)
    assert Child(log).save(1) == "child"
    assert log == [("A", "Child"), ("Child.save", 1)]
    weaver.unweave(parent)
    assert not isinstance(vars(Child)["save"], weaver.Woven)
    assert "__init_subclass__" not in vars(parent)
    log.clear()
    Child(log).save(2)
    assert log == [("Child.save", 2)]


def test_existing_init_subclass_keeps_working_and_is_restored(dispatch: str) -> None:
    seen: list[Any] = []

    class Root:
        def __init_subclass__(cls, **kwargs: Any) -> None:
            seen.append((cls.__name__, kwargs))
            super().__init_subclass__()

        def save(self) -> str:
            return "root"

    snap = snapshot(Root)
    log: list[Any] = []
    weaver.weave(Root, tagger(log, "A"))
    try:

        class Child(Root, flavour="x"):  # type: ignore[call-arg]
            def save(self) -> str:
                return "child"

        assert seen == [("Child", {"flavour": "x"})]
        assert Child().save() == "child"
        assert log == [("A", "Child")]
    finally:
        weaver.unweave(Root)
    assert_same_dict(Root, snap)

    class Later(Root, flavour="y"):  # type: ignore[call-arg]
        pass

    assert seen[-1] == ("Later", {"flavour": "y"})


def test_override_calling_super_runs_advice_once(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            self.log.append(("Child.save", x))
            return "child+" + super().save(x)

    class GrandChild(Child):
        def save(self, x: int = 0) -> str:
            self.log.append(("GrandChild.save", x))
            return "grand+" + super().save(x)

    weaver.weave(parent, tagger(log, "A"))
    weaver.weave(Child, tagger(log, "B"))
    weaver.weave(GrandChild, tagger(log, "C", "after:save"))
    assert GrandChild(log).save(1) == "grand+child+base"
    assert log == [
        ("A", "GrandChild"),
        ("B", "GrandChild"),
        ("GrandChild.save", 1),
        ("Child.save", 1),
        ("Base.save", 1),
        ("C", "GrandChild"),
    ]
    log.clear()
    assert Child(log).save(2) == "child+base"
    assert log == [("A", "Child"), ("B", "Child"), ("Child.save", 2), ("Base.save", 2)]
    log.clear()
    assert parent(log).save(3) == "base"
    assert log == [("A", "Parent"), ("Base.save", 3)]


def test_super_guard_does_not_swallow_calls_on_other_objects(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            if x > 0:
                Child(self.log).save(x - 1)  # another object: its own outer call
            return super().save(x)

    weaver.weave(parent, tagger(log, "A"))
    Child(log).save(1)
    assert [e for e in log if e[0] == "A"] == [("A", "Child"), ("A", "Child")]


def test_override_of_classmethod_calling_super(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        @classmethod
        def make(cls, log: list[Any]) -> Any:
            log.append(("Child.make", cls.__name__))
            return super().make(log)

    weaver.weave(parent, tagger(log, "A", "before:make"))
    obj = Child.make(log)
    assert isinstance(obj, Child)
    assert log == [("A", "Child"), ("Child.make", "Child"), ("Base.make", "Child")]


def assert_same_chains(cls: type, snap: dict[str, Any]) -> None:
    """Like :func:`assert_same_dict`, but a wrapper may be rebuilt with the same chain.

    (A parent's wrapper gets the super() re-entry guard once an overriding
    subclass is woven; its advice and the function it wraps stay the same.)
    """
    assert vars(cls).keys() == snap.keys()
    for key, value in snap.items():
        now = vars(cls)[key]
        if isinstance(value, weaver.Woven):
            assert isinstance(now, weaver.Woven), key
            assert _chain_key(now._self_plan) == _chain_key(value._self_plan), key
            assert now.__wrapped__ is value.__wrapped__, key
        else:
            assert now is value, key


def test_weaving_a_subclass_never_changes_the_parent(parent: Any) -> None:
    log: list[Any] = []
    weaver.weave(parent, tagger(log, "A"))
    snap = snapshot(parent)

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            return super().save(x)

    class Other(parent):  # type: ignore[misc, valid-type]
        pass

    weaver.weave(Child, tagger(log, "B", "before:*"))
    weaver.weave(Child, tagger(log, "C", "after:make"))
    assert_same_chains(parent, snap)
    assert weaver.effective_aspects(parent) == weaver.effective_aspects(Other)
    parent(log).save()
    Other(log).save()
    assert log == [("A", "Parent"), ("Base.save", 0), ("A", "Other"), ("Base.save", 0)]
    log.clear()
    Child(log).save()
    assert log == [("A", "Child"), ("B", "Child"), ("Base.save", 0)]
    weaver.unweave(Child)
    assert_same_chains(parent, snap)


def test_weaving_a_subclass_of_an_unwoven_parent(parent: Any) -> None:
    snap = snapshot(parent)
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        pass

    child_snap = snapshot(Child)
    weaver.weave(Child, tagger(log, "B"))
    assert_same_dict(parent, snap)
    parent(log).save()
    Child(log).save()
    assert log == [("Base.save", 0), ("B", "Child"), ("Base.save", 0)]
    weaver.unweave(Child)
    assert_same_dict(Child, child_snap)


def test_unweaving_an_inherited_aspect_affects_only_that_subclass(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        pass

    class GrandChild(Child):
        pass

    class Sibling(parent):  # type: ignore[misc, valid-type]
        pass

    weaver.weave(parent, tagger(log, "A"))
    weaver.weave(parent, tagger(log, "B"))
    parent_snap = snapshot(parent)
    weaver.unweave(Child, "A")
    assert_same_dict(parent, parent_snap)
    assert [a.name for a in weaver.effective_aspects(Child)] == ["B"]
    assert [a.name for a in weaver.effective_aspects(GrandChild)] == ["B"]
    assert [a.name for a in weaver.effective_aspects(parent)] == ["A", "B"]
    for klass in (parent, Child, GrandChild, Sibling):
        klass(log).save()
    assert log == [
        ("A", "Parent"),
        ("B", "Parent"),
        ("Base.save", 0),
        ("B", "Child"),
        ("Base.save", 0),
        ("B", "GrandChild"),
        ("Base.save", 0),
        ("A", "Sibling"),
        ("B", "Sibling"),
        ("Base.save", 0),
    ]


def test_unweaving_the_only_inherited_aspect_from_a_subclass(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        pass

    class GrandChild(Child):
        pass

    weaver.weave(parent, tagger(log, "A"))
    weaver.unweave(Child, "A")
    assert weaver.effective_aspects(Child) == []
    # No advice left on Child: its save is the original function again.
    assert Child.save is Base.save
    assert GrandChild.save is Base.save
    Child(log).save()
    GrandChild(log).save()
    parent(log).save()
    assert log == [("Base.save", 0), ("Base.save", 0), ("A", "Parent"), ("Base.save", 0)]
    # Weaving it on the subclass again brings it back there only.
    weaver.weave(Child, tagger(log, "A2"))
    log.clear()
    GrandChild(log).save()
    assert log == [("A2", "GrandChild"), ("Base.save", 0)]
    weaver.unweave(Child)
    weaver.unweave(parent)
    assert "save" not in vars(Child)
    assert "save" not in vars(GrandChild)
    assert vars(parent).keys() == {"__module__", "__doc__", "__qualname__"} & vars(parent).keys()


def test_unweaving_one_inherited_aspect_from_an_overriding_subclass(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            self.log.append(("Child.save", x))
            return super().save(x)

    weaver.weave(parent, tagger(log, "A"))
    weaver.weave(parent, tagger(log, "B"))
    weaver.unweave(Child, "A")
    Child(log).save()
    assert log == [("B", "Child"), ("Child.save", 0), ("Base.save", 0)]


def test_unweave_on_the_parent_reaches_subclasses(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            return super().save(x)

    child_snap = snapshot(Child)
    parent_snap = snapshot(parent)
    weaver.weave(parent, tagger(log, "A"))
    assert isinstance(vars(Child)["save"], weaver.Woven)
    weaver.unweave(parent, "A")
    assert_same_dict(Child, child_snap)
    assert_same_dict(parent, parent_snap)
    Child(log).save()
    assert log == [("Base.save", 0)]


def test_toggle_on_the_parent_reaches_subclasses(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            return super().save(x)

    child_snap = snapshot(Child)
    aspect = tagger(log, "A")
    weaver.weave(parent, aspect)
    weaver.set_enabled(aspect.switch, False)
    assert_same_dict(Child, child_snap)
    Child(log).save()
    assert log == [("Base.save", 0)]
    weaver.set_enabled(aspect.switch, True)
    log.clear()
    Child(log).save()
    assert log == [("A", "Child"), ("Base.save", 0)]


def test_mixin_aspects_reach_classes_using_the_mixin(dispatch: str) -> None:
    log: list[Any] = []

    class Mixin:
        def save(self, x: int = 0) -> str:
            log.append(("Mixin.save", x))
            return "mixin"

    class Model(Mixin, Base):
        pass

    weaver.weave(Mixin, tagger(log, "M"))
    try:
        assert Model(log).save() == "mixin"
        assert log == [("M", "Model"), ("Mixin.save", 0)]
    finally:
        weaver.unweave(Mixin)
    assert "save" not in vars(Model)


def test_unweaving_every_inherited_aspect_from_an_overriding_subclass(parent: Any) -> None:
    """The override's super() call must not run the aspects the subclass removed."""
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            self.log.append(("Child.save", x))
            return super().save(x)

    weaver.weave(parent, tagger(log, "A"))
    weaver.unweave(Child, "A")
    Child(log).save()
    assert log == [("Child.save", 0), ("Base.save", 0)]


def test_recursion_runs_advice_per_call_whatever_the_subclasses(dispatch: str) -> None:
    log: list[Any] = []

    class Math:
        def fact(self, n: int) -> int:
            return 1 if n <= 1 else n * self.fact(n - 1)

    weaver.weave(Math, Aspect.of("A", [("before:fact", lambda n: log.append(n))]))
    try:
        assert Math().fact(3) == 6
        assert log == [3, 2, 1]

        class Override(Math):
            def fact(self, n: int) -> int:
                return super().fact(n)

        # An overriding subclass now exists (and is woven through the hook): the
        # parent's wrapper needs the super() guard, but recursion still counts.
        weaver.weave(Override, Aspect.of("B", [("before:fact", lambda n: log.append(("B", n)))]))
        log.clear()
        assert Math().fact(3) == 6
        assert log == [3, 2, 1]
        log.clear()
        assert Override().fact(3) == 6
        assert log == [3, ("B", 3), 2, ("B", 2), 1, ("B", 1)]
    finally:
        weaver.unweave(Math)


def test_reweaving_an_inherited_name_on_a_subclass_reconfigures_it_there(parent: Any) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        def save(self, x: int = 0) -> str:
            return super().save(x)

    weaver.weave(parent, Aspect.of("A", [("before:save", lambda: log.append("A1"))]))
    weaver.weave(Child, Aspect.of("A", [("before:save", lambda: log.append("A2"))]))
    Child(log).save()
    parent(log).save()
    assert log == ["A2", ("Base.save", 0), "A1", ("Base.save", 0)]
    assert [a.name for a in weaver.effective_aspects(Child)] == ["A"]


def test_opted_out_subclass_losing_its_own_aspect_still_skips_the_inherited_one(
    parent: Any,
) -> None:
    log: list[Any] = []

    class Child(parent):  # type: ignore[misc, valid-type]
        pass

    weaver.weave(parent, tagger(log, "A"))
    weaver.unweave(Child, "A")
    weaver.weave(Child, tagger(log, "B"))  # Child now has a wrapper of its own (B only)
    Child(log).save()
    assert log == [("B", "Child"), ("Base.save", 0)]
    weaver.unweave(Child, "B")  # that wrapper goes; A must not come back through the MRO
    log.clear()
    Child(log).save()
    assert log == [("Base.save", 0)]
    assert Child.save is Base.save
    weaver.set_enabled(weaver.effective_aspects(parent)[0].switch, False)
    assert "save" not in vars(Child)  # nothing to hide any more
    weaver.set_enabled(weaver.effective_aspects(parent)[0].switch, True)
    log.clear()
    Child(log).save()
    parent(log).save()
    assert log == [("Base.save", 0), ("A", "Parent"), ("Base.save", 0)]
