"""The plain adapter's own validation: a pydantic model validated again, by field name.

``validate`` re-checks a pydantic model's current values (an assignment
without ``validate_assignment`` is otherwise never checked); a field with an
alias is checked under its name, whatever pydantic version: 2.11+ validates by
name, an older one gets the values under each field's alias.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from earnorm_aop.adapters.base import Adapter

pytestmark = pytest.mark.parametrize("version", ["installed", "2.10.6"])


class Article(pydantic.BaseModel):
    title: str = pydantic.Field(alias="Title", min_length=2)
    views: int = 0


@pytest.fixture(autouse=True)
def _pydantic_version(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if version != "installed":  # the path for pydantic < 2.11 (no by_name=)
        monkeypatch.setattr(pydantic, "VERSION", version)


def test_valid_values_have_no_errors(version: str) -> None:
    assert Adapter().validate(Article(Title="ok", views=1)) == {}


def test_an_assignment_is_checked_again_by_field_name(version: str) -> None:
    article = Article(Title="ok")
    article.title = "x"  # no validate_assignment: accepted here
    article.views = "many"  # type: ignore[assignment]
    errors = Adapter().validate(article)
    # pydantic reports the field as it was given: by name (2.11+), else by alias
    key = "title" if version == "installed" else "Title"
    assert errors == {
        key: ["String should have at least 2 characters"],
        "views": ["Input should be a valid integer, unable to parse string as an integer"],
    }


def test_a_class_without_rules_is_always_valid(version: str) -> None:
    class Plain:
        title: Any = None

    assert Adapter().validate(Plain()) == {}
