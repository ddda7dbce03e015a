"""Engine edge cases: the super() guard, generators, failed weaves, foreign objects, memory.

Each test here pins down one loose end of the weaver (issue 10); every one
runs under both dispatchers (the ``dispatch`` fixture) where dispatch matters.
"""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import Aspect
from earnorm_aop.weaving import weaver


def tagger(log: list[Any], name: str, spec: str = "before:run") -> Aspect:
    return Aspect.of(name, [(spec, lambda method: log.append((name, method)))])


def _unweave_all(*classes: type) -> None:
    for klass in classes:
        for sub in [klass, *weaver.subclasses(klass)]:
            weaver.unweave(sub)


# --------------------------------------------------------------------------
# The super() guard of staticmethods
# --------------------------------------------------------------------------


def test_static_guard_does_not_skip_an_unrelated_class(dispatch: str) -> None:
    """Two unrelated hierarchies with a woven staticmethod of the same name.

    A staticmethod has no instance, so the guard must not key on it: calling
    the other hierarchy's staticmethod from inside one is an outer call there.
    """
    log: list[Any] = []

    class Other:
        @staticmethod
        def run() -> str:
            log.append("Other.run")
            return "other"

    class OtherChild(Other):
        @staticmethod
        def run() -> str:
            log.append("OtherChild.run")
            return Other.run()

    class Mine:
        @staticmethod
        def run() -> str:
            log.append("Mine.run")
            return OtherChild.run()

    class MineChild(Mine):
        @staticmethod
        def run() -> str:
            return Mine.run()

    weaver.weave(Mine, tagger(log, "M"))
    weaver.weave(Other, tagger(log, "O"))
    try:
        assert MineChild.run() == "other"
        # Mine's advice once (guarded against Mine.run reached from MineChild),
        # Other's advice once: OtherChild.run is an outer call of its own.
        assert log == [
            ("M", "run"),
            "Mine.run",
            ("O", "run"),
            "OtherChild.run",
            "Other.run",
        ]
    finally:
        _unweave_all(Mine, Other)


# --------------------------------------------------------------------------
# Generators: the guard holds while the override iterates
# --------------------------------------------------------------------------


def test_generator_override_calling_super_runs_advice_once(dispatch: str) -> None:
    log: list[Any] = []

    class Parent:
        def items(self, n: int) -> Any:
            yield from range(n)

    class Child(Parent):
        def items(self, n: int) -> Any:
            yield "first"
            yield from super().items(n)

    weaver.weave(Parent, tagger(log, "A", "before:items"))
    try:
        gen = Child().items(2)
        assert next(gen) == "first"
        assert gen.send(None) == 0  # send() is passed through
        assert list(gen) == [1]
        assert log == [("A", "items")]
        # The parent called on its own is an outer call: advice runs.
        assert list(Parent().items(1)) == [0]
        assert log == [("A", "items")] * 2
        # throw() and close() reach the override's generator.
        gen = Child().items(3)
        next(gen)
        with pytest.raises(KeyError):
            gen.throw(KeyError("x"))
        gen = Child().items(3)
        next(gen)
        gen.close()
    finally:
        _unweave_all(Parent)


def test_async_generator_override_calling_super_runs_advice_once(dispatch: str) -> None:
    import asyncio

    log: list[Any] = []

    class Parent:
        async def items(self, n: int) -> Any:
            for i in range(n):
                yield i

    class Child(Parent):
        async def items(self, n: int) -> Any:
            yield "first"
            async for item in super().items(n):
                yield item

    weaver.weave(Parent, tagger(log, "A", "before:items"))

    async def collect(agen: Any) -> list[Any]:
        return [item async for item in agen]

    try:
        assert asyncio.run(collect(Child().items(2))) == ["first", 0, 1]
        assert log == [("A", "items")]
        assert asyncio.run(collect(Parent().items(1))) == [0]
        assert log == [("A", "items")] * 2
    finally:
        _unweave_all(Parent)


def test_shadow_turned_pass_through_is_not_taken_for_an_original() -> None:
    """Found by the property test: weave Child, opt GrandChild out, weave Base, unweave all."""

    class Base:
        def save(self) -> int:
            return 0

    class Child(Base):
        def save(self) -> int:
            return super().save() + 1

    class GrandChild(Child):
        pass

    aspect = Aspect.of("A", [("before:save", lambda: None)])
    weaver.weave(Child, aspect)
    weaver.unweave(GrandChild)
    weaver.weave(Base, aspect)
    for klass in (Base, Child, GrandChild):
        weaver.unweave(klass)
    assert "save" not in vars(GrandChild)
    assert GrandChild().save() == 1


# --------------------------------------------------------------------------
# A subclass whose creation failed
# --------------------------------------------------------------------------


def test_subclass_that_failed_to_weave_is_ignored_afterwards(dispatch: str) -> None:
    from earnorm_aop import WeavingError

    log: list[Any] = []

    class Parent:
        def save(self, x: int) -> int:
            return x

    needs_x = Aspect.of("X", [("before:save", lambda x: log.append(("X", x)))])
    weaver.weave(Parent, needs_x)
    try:
        with pytest.raises(WeavingError, match="'x'") as failed:

            class Bad(Parent):
                def save(self) -> int:  # type: ignore[override]
                    return 0

        # The half-made class is still alive (the traceback holds it) and
        # still listed by Python; the weaver must not trip over it.
        assert any(sub.__name__ == "Bad" for sub in Parent.__subclasses__())
        weaver.weave(Parent, tagger(log, "T", "before:save"))
        weaver.set_enabled(needs_x.switch, False)
        weaver.set_enabled(needs_x.switch, True)
        with weaver.trace():
            pass
        assert Parent().save(3) == 3
        assert log == [("X", 3), ("T", "save")]
        assert all(sub.__name__ != "Bad" for sub in weaver.subclasses(Parent))
        del failed
    finally:
        _unweave_all(Parent)


# --------------------------------------------------------------------------
# Installing is all or nothing
# --------------------------------------------------------------------------


class _Picky(type):
    """A metaclass refusing to set some attributes once ``frozen`` names them."""

    def __setattr__(cls, name: str, value: Any) -> None:
        if name in vars(cls).get("frozen", ()):
            raise AttributeError(f"{cls.__name__}.{name} is frozen")
        super().__setattr__(name, value)


def _picky_model() -> type:
    class Model(metaclass=_Picky):
        frozen: tuple[str, ...] = ()

        def a(self) -> str:
            return "a"

        def b(self) -> str:
            return "b"

    return Model


def test_a_failure_midway_through_installing_leaves_nothing_behind() -> None:
    log: list[Any] = []
    Model: Any = _picky_model()
    before = dict(vars(Model))
    type.__setattr__(Model, "frozen", ("b",))
    before["frozen"] = Model.frozen
    with pytest.raises(AttributeError, match="frozen"):
        weaver.weave(Model, tagger(log, "T", "before:*"))
    assert dict(vars(Model)) == before
    assert Model not in weaver.woven_classes()
    assert Model().a() == "a" and log == []
    weaver.unweave(Model)
    assert dict(vars(Model)) == before


def test_a_failed_unweave_leaves_the_plugin_woven() -> None:
    log: list[Any] = []
    Model: Any = _picky_model()
    aspect = tagger(log, "T", "before:*")
    weaver.weave(Model, aspect)
    woven = dict(vars(Model))
    type.__setattr__(Model, "frozen", ("b",))
    woven["frozen"] = Model.frozen
    with pytest.raises(AttributeError, match="frozen"):
        weaver.unweave(Model, "T")
    assert dict(vars(Model)) == woven
    assert weaver.effective_aspects(Model) == [aspect]
    assert Model().b() == "b" and log == [("T", "b")]
    type.__setattr__(Model, "frozen", ())
    weaver.unweave(Model)
    assert Model not in weaver.woven_classes()


# --------------------------------------------------------------------------
# A foreign object over a wrapper (mock.patch.object)
# --------------------------------------------------------------------------


def test_patch_over_a_woven_method_survives_toggles_and_unweave(dispatch: str) -> None:
    from unittest import mock

    log: list[Any] = []

    class Model:
        def save(self) -> str:
            return "real"

    original = vars(Model)["save"]
    aspect = tagger(log, "T", "before:save")
    weaver.weave(Model, aspect)
    try:
        with mock.patch.object(Model, "save", return_value="mocked"):
            weaver.set_enabled(aspect.switch, False)
            weaver.set_enabled(aspect.switch, True)
            assert Model().save() == "mocked"  # the patch stays in force through toggles
        assert Model().save() == "real"
        assert log == [("T", "save")]
        weaver.unweave(Model)
        assert vars(Model)["save"] is original
    finally:
        weaver.set_enabled(aspect.switch, True)
        _unweave_all(Model)


# --------------------------------------------------------------------------
# Woven classes can be garbage collected
# --------------------------------------------------------------------------


def test_woven_classes_using_super_are_collected() -> None:
    import gc
    import linecache
    import weakref

    class Base:
        def save(self) -> int:
            return 1

        @classmethod
        def make(cls) -> int:
            return 1

    aspect = Aspect.of("T", [("before:save|make", lambda: None)])
    lines_before = len(linecache.cache)
    refs = []
    for _ in range(50):

        class Model(Base):
            def save(self) -> int:
                return super().save() + 1

            @classmethod
            def make(cls) -> int:
                return super().make() + 1

            def __init_subclass__(cls, **kwargs: Any) -> None:
                super().__init_subclass__(**kwargs)

        weaver.weave(Model, aspect)
        assert Model().save() == 2 and Model.make() == 2
        refs.append(weakref.ref(Model))
    del Model
    gc.collect()
    alive = [r for r in refs if r() is not None]
    assert len(alive) == 0, f"{len(alive)} of {len(refs)} woven classes stay alive"
    assert len(linecache.cache) <= lines_before + 5


# --------------------------------------------------------------------------
# Bound woven methods pickle and copy like plain ones
# --------------------------------------------------------------------------


class Picklable:
    """Module-level, so pickle finds it by name."""

    def __init__(self, tag: str = "x") -> None:
        self.tag = tag

    def save(self) -> str:
        return f"saved {self.tag}"

    @classmethod
    def make(cls) -> str:
        return cls.__name__

    @staticmethod
    def helper() -> str:
        return "helper"


PICKLE_LOG: list[Any] = []


def _record(method: str) -> None:
    PICKLE_LOG.append(method)


def test_bound_woven_methods_pickle_and_copy(dispatch: str) -> None:
    import copy
    import pickle

    PICKLE_LOG.clear()
    weaver.weave(Picklable, Aspect.of("P", [("before:save|make|helper", _record)]))
    try:
        obj = Picklable("a")
        for bound in (obj.save, Picklable.make, obj.make, obj.helper, Picklable.helper):
            again = pickle.loads(pickle.dumps(bound))
            assert again() == bound()
        assert pickle.loads(pickle.dumps(obj.save)).__self__.tag == "a"
        assert copy.copy(obj.save)() == "saved a"
        holder = {"obj": obj, "save": obj.save}
        copied = copy.deepcopy(holder)
        assert copied["save"].__self__ is copied["obj"] is not obj
        assert copied["save"]() == "saved a"
        assert "save" in PICKLE_LOG and "make" in PICKLE_LOG and "helper" in PICKLE_LOG
        PICKLE_LOG.clear()
        copied["save"]()
        assert PICKLE_LOG == ["save"]  # the copy is woven too
    finally:
        weaver.unweave(Picklable)


def test_other_wrapt_wrappers_keep_their_own_pickling() -> None:
    import pickle

    import wrapt

    class Own:
        @wrapt.decorator  # type: ignore[misc]
        def passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return wrapped(*args, **kwargs)

        @passthrough
        def run(self) -> int:
            return 1

    with pytest.raises(NotImplementedError):
        pickle.dumps(Own().run)


# --------------------------------------------------------------------------
# Methods made by functools, and non-ASCII names
# --------------------------------------------------------------------------


def _functools_model() -> type:
    import functools

    class Model:
        def _base(self, x: int, y: int) -> int:
            return x + y

        add_one = functools.partialmethod(_base, 1)

        @functools.singledispatchmethod
        def show(self, value: Any) -> str:
            return "any"

        @show.register
        def _(self, value: int) -> str:
            return "int"

        @functools.lru_cache  # noqa: B019 - the instances live as long as the test
        def doubled(self, x: int) -> int:
            return 2 * x

        @functools.cache  # noqa: B019
        def tripled(self, x: int) -> int:
            return 3 * x

        def größe(self) -> int:
            return 1

    return Model


@pytest.mark.parametrize("spec", ["before:*", "before:add_one|show|doubled|tripled|größe"])
def test_functools_methods_and_non_ascii_names_are_woven(dispatch: str, spec: str) -> None:
    log: list[Any] = []
    Model: Any = _functools_model()
    before = dict(vars(Model))
    weaver.weave(Model, tagger(log, "T", spec))
    try:
        m = Model()
        assert m.add_one(2) == 3
        assert Model.add_one(m, 4) == 5
        assert (m.show(1), m.show("a")) == ("int", "any")
        assert (m.doubled(2), m.tripled(2)) == (4, 6)
        assert m.größe() == 1
        assert [name for _, name in log] == [
            "add_one",
            "add_one",
            "show",
            "show",
            "doubled",
            "tripled",
            "größe",
        ]
    finally:
        weaver.unweave(Model)
    assert all(vars(Model)[k] is v for k, v in before.items())
