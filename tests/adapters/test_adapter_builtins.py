"""The adapter capabilities the built-ins rely on, in their plain (default) form.

An ORM adapter overrides these; the Django tests check its versions.
"""

from __future__ import annotations

import gc
from datetime import datetime
from typing import Any

import pydantic
import pytest

from earnorm_aop.adapters import _persisted_state as adapter_base
from earnorm_aop.adapters.base import Adapter
from earnorm_aop.integrations import FieldSpec, adapter_for

plain = Adapter()


@pytest.mark.parametrize(
    ("args", "kwargs", "pk"),
    [
        ((5,), {}, 5),
        ((), {"pk": 5}, 5),
        ((), {"id": "x"}, "x"),
        ((), {"pk__exact": 7}, 7),
        ((), {"title": "a"}, None),
        ((5,), {"title": "a"}, None),
        ((), {"pk": 1, "title": "a"}, None),
        ((), {}, None),
    ],
)
def test_lookup_pk(args: tuple[Any, ...], kwargs: dict[str, Any], pk: Any) -> None:
    assert plain.lookup_pk(object, args, kwargs) == pk


def test_bulk_objects_materialises_once_and_rewrites_the_call() -> None:
    objs, args, kwargs = plain.bulk_objects((iter([1, 2]), "batch"), {"x": 1})
    assert objs == [1, 2]
    assert args[0] is objs and args[1:] == ("batch",)
    assert kwargs == {"x": 1}
    objs, args, kwargs = plain.bulk_objects((), {"objs": (o for o in "ab")})
    assert objs == ["a", "b"] and kwargs["objs"] is objs and args == ()
    assert plain.bulk_objects((), {}) == ([], (), {})


def test_update_values_and_their_rewrite() -> None:
    qs = object()
    assert plain.update_values((qs,), {"a": 1}) == {"a": 1}
    assert plain.update_values(({"a": 1},), {"b": 2}) == {"a": 1, "b": 2}
    args, kwargs = plain.with_update_values((qs, {"a": 1}), {"b": 2}, {"a": 1, "b": 2, "c": 3})
    assert args == (qs,) and kwargs == {"a": 1, "b": 2, "c": 3}


def test_bulk_queryset_is_the_first_argument() -> None:
    qs = object()
    assert plain.bulk_queryset(type, (qs,), {}) is qs
    assert plain.bulk_queryset(type, (), {"queryset": qs}) is qs


def test_remembered_state_is_per_instance_and_dies_with_it() -> None:
    class Thing:
        a: int = 1

    t, u = Thing(), Thing()
    assert plain.loaded_state(t) is None
    plain.remember_state(t)
    plain.remember_state(u, {"a": 9})
    t.a = 2
    assert plain.loaded_state(t) == {"a": 1}
    assert plain.loaded_state(u) == {"a": 9}
    plain.forget_state(u)
    assert plain.loaded_state(u) is None
    key = id(t)
    assert key in adapter_base._states
    del t
    gc.collect()
    # (Not a count of all entries: instances of earlier tests may die here too.)
    assert key not in adapter_base._states


def test_a_contributed_field_is_a_real_pydantic_field() -> None:
    class Model(pydantic.BaseModel):
        title: str = ""

    plain.add_field(Model, FieldSpec("deleted_at", datetime | None, None))
    assert "deleted_at" in Model.model_fields
    m = Model(deleted_at="2024-01-01T00:00:00Z")
    assert isinstance(m.deleted_at, datetime)  # type: ignore[attr-defined]
    m.deleted_at = None  # type: ignore[attr-defined]
    assert m.model_dump() == {"title": "", "deleted_at": None}


def test_validate_revalidates_pydantic_models_only() -> None:
    class Model(pydantic.BaseModel):
        n: int = 0

    m = Model()
    assert plain.validate(m) == {}
    m.n = "x"  # type: ignore[assignment]
    assert set(plain.validate(m)) == {"n"}
    assert plain.validate(object()) == {}


def test_default_model_label() -> None:
    assert plain.model_label(Adapter) == "earnorm_aop.adapters.base.Adapter"


def test_plain_classes_use_the_plain_adapter() -> None:
    class Plain:
        pass

    assert type(adapter_for(Plain)) is Adapter
    assert plain.deleted_result(Plain, 3) == 3
