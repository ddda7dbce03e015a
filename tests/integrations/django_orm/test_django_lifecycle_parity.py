"""Hook conditions against django-lifecycle on the same database.

``LcPost`` uses django-lifecycle as its documentation shows (``@hook(AFTER_SAVE,
when=..., was=..., is_now=...)`` on a ``LifecycleModelMixin`` model); ``OurPost``
is a plain Django model with a plugin whose hooks carry the same conditions.
Each scenario runs on both and the hooks fired after each write are compared.
Where the libraries differ on purpose the test asserts each one's own outcome
(the table "Differences from django-lifecycle" in docs/semantics.md):

- ``QuerySet.update()`` and ``bulk_update()`` run our conditions per row;
  django-lifecycle runs no hook for them (its issue #18);
- ``was`` on a creation is ``None`` for us (nothing was stored), the value at
  ``__init__`` for django-lifecycle;
- ``was`` is the value as last *saved* for us, as last *committed* for
  django-lifecycle (its state resets on commit, #141), so two saves in one
  transaction compare the second with the first for us, with the start for it;
- ``condition=`` gets the write's ``changes`` for us, the instance for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import models, transaction

from earnorm_aop import PluginRegistry, plugin, with_plugins
from earnorm_aop import hook as our_hook

lifecycle = pytest.importorskip("django_lifecycle")

CONDITIONS: dict[str, dict[str, Any]] = {
    "publish": {"when": "status", "was": "draft", "is_now": "published"},
    "changed": {"when": "status", "has_changed": True},
    "unchanged": {"when": "status", "has_changed": False},
    "to_archived": {"when": "status", "changes_to": "archived"},
    "any": {"when_any": ["title", "status"], "has_changed": True},
    "is_published": {"when": "status", "is_now": "published"},
    "was_published": {"when": "status", "was": "published"},
    "every": {"when": "status"},
}


def _fields() -> dict[str, Any]:
    return {
        "title": models.CharField(max_length=50, default=""),
        "status": models.CharField(max_length=20, default="draft"),
    }


def _lifecycle_model(fired: list[str]) -> type:
    body: dict[str, Any] = {
        "__module__": "djangoapp.models",
        "Meta": type("Meta", (), {"app_label": "djangoapp"}),
        **_fields(),
    }
    for label, condition in CONDITIONS.items():

        def record(self: Any, label: str = label) -> None:
            fired.append(label)

        record.__name__ = f"on_{label}"
        body[f"on_{label}"] = lifecycle.hook(lifecycle.AFTER_SAVE, **condition)(record)
    return type("LcPost", (lifecycle.LifecycleModelMixin, models.Model), body)


def _our_model(fired: list[str]) -> type:
    registry = PluginRegistry()
    hooks: dict[str, Any] = {}
    for label, condition in CONDITIONS.items():

        def record(self: Any, label: str = label) -> None:
            fired.append(label)

        record.__name__ = f"on_{label}"
        hooks[f"on_{label}"] = our_hook("after:save|update_many", **condition)(record)
    plugin("lifecycle_parity", registry=registry)(type("Parity", (), hooks))
    body: dict[str, Any] = {
        "__module__": "djangoapp.models",
        "Meta": type("Meta", (), {"app_label": "djangoapp"}),
        **_fields(),
    }
    model = type("OurPost", (models.Model,), body)
    return with_plugins("lifecycle_parity", registry=registry)(model)


@pytest.fixture
def pair(create_tables: Callable[..., None]) -> Iterator[tuple[Any, list[str], Any, list[str]]]:
    from django.apps import apps

    from earnorm_aop.weaving import weaver

    theirs: list[str] = []
    ours: list[str] = []
    Lc = _lifecycle_model(theirs)
    Our = _our_model(ours)
    create_tables(Lc, Our)
    try:
        yield Lc, theirs, Our, ours
    finally:
        weaver.unweave(Our)
        for m in (Lc, Our):
            apps.all_models["djangoapp"].pop(m._meta.model_name, None)
        apps.clear_cache()


def _steps() -> list[Callable[[Any], None]]:
    def publish(obj: Any) -> None:
        obj.status = "published"

    def retitle(obj: Any) -> None:
        obj.title = obj.title + "!"

    def archive(obj: Any) -> None:
        obj.status = "archived"

    def nothing(obj: Any) -> None:
        pass

    def back_to_draft(obj: Any) -> None:
        obj.status = "draft"

    return [publish, nothing, retitle, archive, back_to_draft, publish, nothing]


def test_the_conditions_both_support_fire_alike_on_saves(pair: Any) -> None:
    Lc, theirs, Our, ours = pair
    lc = Lc.objects.create(title="a")
    our = Our.objects.create(title="a")
    theirs.clear()
    ours.clear()
    for step in _steps():
        for obj in (lc, our):
            step(obj)
            obj.save()
        assert sorted(ours) == sorted(theirs), step.__name__
        theirs.clear()
        ours.clear()


def test_loaded_instances_fire_alike(pair: Any) -> None:
    Lc, theirs, Our, ours = pair
    Lc.objects.create(title="a", status="published")
    Our.objects.create(title="a", status="published")
    theirs.clear()
    ours.clear()
    lc = Lc.objects.get()
    our = Our.objects.get()
    for obj in (lc, our):
        obj.status = "archived"
        obj.save()
    assert (
        sorted(ours)
        == sorted(theirs)
        == sorted(["changed", "to_archived", "any", "was_published", "every"])
    )


def test_bulk_updates_fire_our_conditions_only(pair: Any) -> None:
    """Difference: django-lifecycle runs no hook for QuerySet.update (its #18)."""
    Lc, theirs, Our, ours = pair
    Lc.objects.create(title="a")
    Our.objects.create(title="a")
    theirs.clear()
    ours.clear()
    Lc.objects.update(status="published")
    Our.objects.update(status="published")
    assert theirs == []
    assert sorted(ours) == sorted(["publish", "changed", "any", "is_published", "every"])


def test_was_on_a_creation_differs(pair: Any) -> None:
    """Difference: our ``was`` is None on a creation; django-lifecycle's the value at init."""
    Lc, theirs, Our, ours = pair
    for model in (Lc, Our):
        obj = model(title="a")  # status "draft" at __init__
        obj.status = "published"
        obj.save()
    assert "publish" in theirs  # draft (at __init__) -> published
    assert "publish" not in ours  # nothing -> published: "was" is None, not "draft"
    assert "changed" in ours and "is_published" in ours


def test_was_is_the_last_save_inside_a_transaction(pair: Any) -> None:
    """Difference (django-lifecycle #141): its state resets on commit, ours on each save."""
    Lc, theirs, Our, ours = pair
    lc = Lc.objects.create(title="a")
    our = Our.objects.create(title="a")
    theirs.clear()
    ours.clear()
    with transaction.atomic():
        for obj in (lc, our):
            obj.status = "published"
            obj.save()
            obj.title = "b"
            obj.save()
    assert theirs.count("publish") == 2  # the second save still compares with "draft"
    assert ours.count("publish") == 1
