"""An adapter may map a logical operation onto another method of the model itself.

EarnORM's adapter does (``save`` on ``Model._earnorm_aop_save``, called by its
``create`` / ``write`` façades): the weaver must keep that wrapper across
rebuilds and put the original back when the last plugin goes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import pytest

from earnorm_aop import Aspect
from earnorm_aop.adapters import base
from earnorm_aop.adapters.base import Adapter, register_adapter
from earnorm_aop.weaving import weaver


class SelfMapped(Adapter):
    name = "self-mapped"

    def handles(self, model: type) -> bool:
        return bool(vars(model).get("self_mapped"))

    def operations(self, model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
        return {"save": ((model, "_do_save"),)}


@pytest.fixture
def adapter() -> Iterator[SelfMapped]:
    adapter = SelfMapped()
    register_adapter(adapter)
    yield adapter
    base._adapters.remove(adapter)


def test_the_wrapper_survives_later_weaves_and_unweaving_restores_the_original(
    adapter: SelfMapped,
) -> None:
    log: list[str] = []

    class Model:
        self_mapped = True

        def _do_save(self) -> str:
            log.append("saved")
            return "saved"

        def save(self) -> str:
            return self._do_save()

        def touch(self) -> None:
            log.append("touched")

    raw = vars(Model)["_do_save"]
    try:
        weaver.weave(Model, Aspect.of("first", [("before:save", lambda: log.append("first"))]))
        # A second plugin on another method rebuilds the class: the save wrapper stays.
        weaver.weave(Model, Aspect.of("second", [("before:touch", lambda: log.append("second"))]))
        assert Model().save() == "saved"
        Model().touch()
        assert log == ["first", "saved", "second", "touched"]
        weaver.unweave(Model, "first")
        assert vars(Model)["_do_save"] is raw
    finally:
        weaver.unweave(Model)
    assert vars(Model)["_do_save"] is raw
