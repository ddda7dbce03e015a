"""Reading plugin field annotations: one reader for every ORM that makes columns from them."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Optional

import pytest

from earnorm_aop.adapters._annotations import UnsupportedAnnotation, unwrap_annotation


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (int, (int, False)),
        (datetime.datetime | None, (datetime.datetime, True)),
        (Optional[str], (str, True)),  # noqa: UP045 - the spelling under test
        (Annotated[int, "meta"], (int, False)),
        ("datetime | None", (datetime.datetime, True)),
        ("Optional[datetime.date]", (datetime.date, True)),
        ("dict[str, int]", (dict, False)),
        ("Any", (Any, False)),
    ],
)
def test_base_type_and_nullability(annotation: Any, expected: tuple[Any, bool]) -> None:
    assert unwrap_annotation(annotation) == expected


@pytest.mark.parametrize(
    ("annotation", "what"),
    [
        (int | str, "a union of several types"),
        ("int | str", "a union of several types"),
        ("Decimal | None", "the string annotation 'Decimal | None'"),
        ("os.system('x')", "the string annotation \"os.system('x')\""),
    ],
)
def test_what_no_column_can_be_made_from(annotation: Any, what: str) -> None:
    with pytest.raises(UnsupportedAnnotation) as info:
        unwrap_annotation(annotation)
    assert info.value.what == what


def test_both_orms_name_the_field_and_the_part_they_refuse() -> None:
    pytest.importorskip("django")
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from earnorm_aop.adapters.base import FieldSpec
    from earnorm_aop.errors import PluginError
    from earnorm_aop.integrations.django.fields import django_field
    from earnorm_aop.integrations.sqlalchemy.fields import sqlalchemy_column

    assert sqlalchemy is not None
    spec = FieldSpec("when", "int | str")
    for make, orm in ((django_field, "Django field"), (sqlalchemy_column, "SQLAlchemy column")):
        with pytest.raises(PluginError, match=rf"'when' on M: no {orm} .*a union of several"):
            make(spec, "M")
