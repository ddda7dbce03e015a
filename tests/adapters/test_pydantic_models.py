"""Pydantic models as a pydantic user writes them: subclasses and aliases (issue 24).

Fields a plugin contributes are fields of every subclass, whenever it is
defined; the ``native`` validation re-validates a model whose fields have
aliases as pydantic itself would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic
import pytest
from pydantic import ConfigDict, Field

from earnorm_aop import unweave, with_plugins
from earnorm_aop.plugins.validation import ValidationFailed


def _woven_memo() -> tuple[type[pydantic.BaseModel], type[pydantic.BaseModel]]:
    """A woven pydantic model, and a subclass of it defined before the weaving."""

    class Memo(pydantic.BaseModel):
        title: str = ""

        def save(self) -> Memo:
            return self

    class Early(Memo):
        pages: int = 0

    with_plugins("timestamp")(Memo)
    return Memo, Early


def test_subclasses_defined_after_weaving_have_the_contributed_fields() -> None:
    Memo, _ = _woven_memo()

    class Late(Memo):  # type: ignore[valid-type,misc]
        pages: int = 0

    assert {"created_at", "updated_at"} <= set(Late.model_fields)
    late = Late(title="x")
    late.save()
    assert isinstance(late.updated_at, datetime)
    assert set(late.model_dump()) == {"title", "created_at", "updated_at", "pages"}


def test_subclasses_defined_before_weaving_have_them_too() -> None:
    _, Early = _woven_memo()
    early = Early(title="x")
    early.save()  # type: ignore[attr-defined]
    assert isinstance(early.updated_at, datetime)  # type: ignore[attr-defined]
    assert set(early.model_dump()) == {"title", "pages", "created_at", "updated_at"}


def test_a_failed_declaration_takes_the_field_back_from_subclasses_too() -> None:
    class Memo(pydantic.BaseModel):
        title: str = ""

        def save(self) -> None:
            pass

    class Early(Memo):
        pass

    with pytest.raises(Exception, match="nosuchplugin"):
        with_plugins("softdelete", "nosuchplugin")(Memo)
    assert set(Memo.model_fields) == {"title"} and set(Early.model_fields) == {"title"}
    assert "deleted_at" not in vars(Memo).get("__annotations__", {})

    class Late(Memo):
        pass

    assert set(Late.model_fields) == {"title"}


def test_native_validation_accepts_a_valid_model_whose_fields_have_aliases() -> None:
    @with_plugins(validation={"native": True})
    class Page(pydantic.BaseModel):
        title: str = Field(alias="Title", min_length=1)
        views: int = Field(0, validation_alias="Views")

        def save(self) -> Page:
            return self

    page = Page(Title="t", Views=3)
    assert page.save() is page
    page.views = "many"  # type: ignore[assignment]  # an assignment pydantic did not check
    with pytest.raises(ValidationFailed) as failed:
        page.save()
    assert set(failed.value.errors) == {"views"}


def test_native_validation_of_a_model_populated_by_name_or_alias() -> None:
    @with_plugins(validation={"native": True})
    class Page(pydantic.BaseModel):
        model_config = ConfigDict(populate_by_name=True)
        title: str = Field(alias="Title")

        def save(self) -> Page:
            return self

    assert Page(title="t").save() is not None
    bad: Any = Page(Title="t")
    bad.title = 3
    with pytest.raises(ValidationFailed, match="title"):
        bad.save()


def test_unweave_leaves_contributed_fields_on_subclasses_as_documented() -> None:
    Memo, Early = _woven_memo()
    unweave(Memo)
    assert "updated_at" in Memo.model_fields and "updated_at" in Early.model_fields


def test_before_pydantic_2_11_native_validation_gives_each_field_under_its_alias(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without ``by_name=True`` (older pydantic), the values are keyed by alias instead."""
    from earnorm_aop.adapters import _validation

    class Page(pydantic.BaseModel):
        title: str = Field(alias="Title", min_length=1)
        views: int = 0

    monkeypatch.setattr(pydantic, "VERSION", "2.10.6")
    _validation._revalidate(Page, {"title": "t", "views": 3})  # valid: no error
    with pytest.raises(pydantic.ValidationError) as failed:
        _validation._revalidate(Page, {"title": "", "views": 3})
    assert [e["loc"] for e in failed.value.errors()] == [("Title",)]
