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
        for sub in [klass, *weaver._subclasses(klass)]:
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
