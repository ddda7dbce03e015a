"""Behaviour checks of the slug plugin, on every backend of the conformance kit."""

from __future__ import annotations

from typing import Any

from earnorm_aop_slug import slugify

from earnorm_aop import registry


def test_the_plugin_is_found_by_name() -> None:
    assert registry.get_plugin("slug").version == "0.1.0"


def test_slugify_keeps_ascii_words() -> None:
    assert slugify("Héllo, World!  2024") == "hello-world-2024"
    assert slugify("!!!") == "item"
    assert slugify("a" * 80, max_length=10) == "a" * 10


def test_a_new_row_gets_a_slug_from_its_title(earnorm_backend: Any) -> None:
    Article = earnorm_backend.model("slug")
    a = earnorm_backend.create(Article, title="Hello, World!")
    assert earnorm_backend.rows(Article)[a.id]["slug"] == "hello-world"


def test_the_same_title_gets_a_suffix_and_slugs_stay_unique(earnorm_backend: Any) -> None:
    Article = earnorm_backend.model("slug")
    made = [earnorm_backend.create(Article, title="Same Title") for _ in range(3)]
    slugs = [earnorm_backend.rows(Article)[a.id]["slug"] for a in made]
    assert slugs == ["same-title", "same-title-2", "same-title-3"]


def test_the_slug_is_stable_on_update_unless_asked(earnorm_backend: Any) -> None:
    Article = earnorm_backend.model("slug")
    a = earnorm_backend.create(Article, title="First")
    a.title = "Second"
    earnorm_backend.save(a)
    assert earnorm_backend.rows(Article)[a.id]["slug"] == "first"
    a.slug = ""  # asked for
    earnorm_backend.save(a)
    assert earnorm_backend.rows(Article)[a.id]["slug"] == "second"
    Regenerating = earnorm_backend.model("slug", slug={"regenerate": True})
    b = earnorm_backend.create(Regenerating, title="One")
    b.title = "Two"
    earnorm_backend.save(b)
    assert earnorm_backend.rows(Regenerating)[b.id]["slug"] == "two"
