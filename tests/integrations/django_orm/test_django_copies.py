"""A copy of a Django instance is the row it was copied from, as Django saves it (issue 24).

``copy.copy(story).save()`` is an ``UPDATE`` of the same row, so it is
audited as an update whose changes are the copy's; Django's recipe for a new
row (``pk = None``, ``_state.adding = True``) is an ``INSERT``, audited as a
creation.  Plain classes and pydantic models agree (tests/adapters/test_copies.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from djangoapp.models import Story

from earnorm_aop.integrations.django.models import AuditRecord


def records(pk: Any) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(model="djangoapp.Story", object_id=str(pk)))


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_a_copy_saves_as_an_update_of_the_same_row(how: Callable[[Any], Any]) -> None:
    story = Story.objects.create(title="first")
    twin = how(story)
    twin.title = "second"
    twin.save()
    rows = records(story.pk)
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[1].changes["title"] == ["first", "second"]
    assert Story.objects.filter(pk=story.pk).count() == 1


def test_a_copy_made_a_new_row_as_django_documents_is_a_creation() -> None:
    story = Story.objects.create(title="first")
    twin = copy.copy(story)
    twin.pk = None
    twin._state.adding = True
    twin.title = "twin"
    twin.save()
    assert twin.pk != story.pk
    assert [r.action for r in records(twin.pk)] == ["create"]
    assert records(twin.pk)[0].changes["title"] == [None, "twin"]
    assert [r.action for r in records(story.pk)] == ["create"]
