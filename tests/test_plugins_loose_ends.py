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
