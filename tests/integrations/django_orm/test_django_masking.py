"""Masking on Django: a field is masked under every name it is written by.

A foreign key masked by its field name (``writer``) is written by audit as
``writer_id`` (saves, ``QuerySet.update()``, related managers); a masked
primary key names the row by its keyed hash (``object_id``); the messages of
Django's own validation (the ``validation`` plugin's ``native`` mode) do not
repeat a masked value.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from djangoapp.models import Story, Writer

from earnorm_aop import mask, mask_key, unmask
from earnorm_aop.integrations.django.models import AuditRecord
from earnorm_aop.plugin_system.masking import MASK, masked_fields, masks_key
from earnorm_aop.plugins.validation import ValidationFailed

KEY = "a-test-key-of-32-bytes-0123456789"


@pytest.fixture(autouse=True)
def _unmasked() -> Iterator[None]:
    mask_key(KEY)
    yield
    unmask(model=Story)
    mask_key(None)


def rows(story_id: Any = None) -> list[dict[str, Any]]:
    found = AuditRecord.objects.filter(model="djangoapp.Story").order_by("pk")
    return [
        {"id": r.object_id, "action": r.action, "changes": dict(r.changes)}
        for r in found
        if story_id is None or r.object_id == str(story_id)
    ]


def test_a_foreign_key_masked_by_field_name_is_masked_as_its_attname() -> None:
    mask("writer", model=Story)
    assert {"writer", "writer_id"} <= masked_fields(Story)
    first, second = Writer.objects.create(name="a"), Writer.objects.create(name="b")
    story = Story.objects.create(title="s1", writer=first)
    story.writer = second
    story.save()
    Story.objects.filter(pk=story.pk).update(writer=first)
    story.refresh_from_db()
    first.stories.remove(story)
    written = [r["changes"]["writer_id"] for r in rows(story.pk) if "writer_id" in r["changes"]]
    assert written == [[None, MASK], [MASK, MASK], [MASK, MASK], [MASK, None]]
    assert rows(story.pk)[0]["changes"]["title"] == [None, "s1"]  # other fields in clear


def test_an_attname_masks_the_field_name_too() -> None:
    mask("writer_id", model=Story)
    assert {"writer", "writer_id"} <= masked_fields(Story)
    assert not masks_key(Story)


def test_a_masked_primary_key_names_the_row_by_its_keyed_hash() -> None:
    mask("pk", model=Story)
    assert masks_key(Story) and {"pk", "id"} <= masked_fields(Story)
    story = Story.objects.create(title="s1")
    story.title = "s2"
    story.save()
    other = Story.objects.create(title="o1")
    named = hmac.new(KEY.encode(), str(story.pk).encode(), hashlib.sha256).hexdigest()[:32]
    found = rows()
    assert [r["id"] for r in found] == [f"hmac:{named}"] * 2 + [found[2]["id"]]
    assert found[2]["id"] != found[0]["id"] and found[2]["id"].startswith("hmac:")
    assert all(r["changes"].get("id", [None, MASK]) == [None, MASK] for r in found)
    assert str(other.pk) not in {r["id"] for r in found}


def test_djangos_own_validation_messages_do_not_repeat_a_masked_value() -> None:
    """``native``: full_clean's "writer instance with id 987654 does not exist."."""
    mask("writer", model=Story)
    with pytest.raises(ValidationFailed) as refused:
        Story(title="ok", writer_id=987654).save()
    assert "writer" in refused.value.errors
    assert "987654" not in str(refused.value) and "987654" not in repr(refused.value.errors)
    unmask("writer", model=Story)
    with pytest.raises(ValidationFailed, match="987654"):  # what it hid, unmasked
        Story(title="ok", writer_id=987654).save()


def test_a_masked_key_hashed_without_a_configured_key_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EARNORM_AOP_MASK_KEY", raising=False)
    mask_key(None)
    mask("pk", model=Story)
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.plugin_system.masking"):
        a = Story.objects.create(title="s1")
        a.title = "s2"
        a.save()
    assert len([r for r in caplog.records if "random key" in r.getMessage()]) == 1
    first, second = rows(None)[-2:]
    assert first["id"] == second["id"] and first["id"].startswith("hmac:")
