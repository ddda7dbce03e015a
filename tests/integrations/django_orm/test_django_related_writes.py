"""Writes through related managers go through the plugins (Django).

``writer.stories.add(s)`` (Django: an ``update()`` through the unwoven
``_base_manager``), ``.remove()``, ``.clear()`` and ``.set()`` (``update()``
on the relation's queryset) move ``updated_at``, invalidate cached rows and
are audited, as a ``QuerySet.update()`` of the same rows is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from djangoapp.models import Story, Writer

from earnorm_aop.integrations.django.models import AuditRecord
from earnorm_aop.plugins.cache import CachePlugin
from earnorm_aop.weaving import weaver


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    (aspect,) = [a for a in weaver.effective_aspects(Story) if a.name == "cache"]
    assert isinstance(aspect.plugin, CachePlugin)
    aspect.plugin.backend.clear()
    yield
    aspect.plugin.backend.clear()


def stored(pk: int) -> dict[str, Any]:
    return dict(Story._base_manager.filter(pk=pk).values().get())


def last_audit(pk: int) -> dict[str, Any]:
    record = AuditRecord.objects.filter(model="djangoapp.Story", object_id=str(pk)).latest("pk")
    return dict(record.changes)


def check_written(
    story: Story, write: Callable[[], Any], writer_id: int | None, *, cached: bool = True
) -> None:
    """``write()`` moved the story's writer to ``writer_id`` through every plugin."""
    before = stored(story.pk)
    if cached:
        Story.objects.get(pk=story.pk)  # cached
    write()
    after = stored(story.pk)
    assert after["writer_id"] == writer_id
    assert after["updated_at"] > before["updated_at"]  # timestamp
    assert Story.objects.get(pk=story.pk).writer_id == writer_id  # cache invalidated
    assert last_audit(story.pk)["writer_id"] == [before["writer_id"], writer_id]  # audit


def test_add_goes_through_the_plugins() -> None:
    writer = Writer.objects.create(name="w")
    story = Story.objects.create(title="s1")
    check_written(story, lambda: writer.stories.add(story), writer.pk)


def test_remove_goes_through_the_plugins() -> None:
    writer = Writer.objects.create(name="w")
    story = Story.objects.create(title="s1", writer=writer)
    check_written(story, lambda: writer.stories.remove(story), None)


def test_clear_goes_through_the_plugins() -> None:
    writer = Writer.objects.create(name="w")
    story = Story.objects.create(title="s1", writer=writer)
    check_written(story, lambda: writer.stories.clear(), None)


def test_set_goes_through_the_plugins() -> None:
    writer = Writer.objects.create(name="w")
    kept = Story.objects.create(title="kept", writer=writer)
    dropped = Story.objects.create(title="dropped", writer=writer)
    added = Story.objects.create(title="added")
    check_written(added, lambda: writer.stories.set([kept, added]), writer.pk)
    assert stored(dropped.pk)["writer_id"] is None
    assert last_audit(dropped.pk)["writer_id"] == [writer.pk, None]
    assert set(writer.stories.values_list("pk", flat=True)) == {kept.pk, added.pk}


def test_add_without_bulk_saves_each_object_through_the_plugins() -> None:
    writer = Writer.objects.create(name="w")
    story = Story.objects.create(title="s1")
    check_written(story, lambda: writer.stories.add(story, bulk=False), writer.pk)


def test_add_still_checks_its_arguments() -> None:
    writer = Writer.objects.create(name="w")
    with pytest.raises(TypeError, match="'Story' instance expected"):
        writer.stories.add(writer)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="isn't saved"):
        writer.stories.add(Story(title="unsaved"))
    assert writer.stories.count() == 0
