"""Lookups through relations hide the rows plugins hide, on a real SQLite database.

``Publisher.objects.filter(volumes__title="x")`` joins the volume table
without asking ``Volume.objects``; the join gets the condition of the rows
softdelete shows (``deleted_at IS NULL``) through the relation's own
``get_extra_restriction``, for joins into the many side of a relation only.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, ForeignKey, ForeignObject, ForeignObjectRel
from django.test.utils import CaptureQueriesContext
from djangoapp.models import (
    Article,
    Bio,
    Bookcase,
    Genre,
    Loan,
    Pamphlet,
    Publisher,
    Reader,
    Review,
    SpecialVolume,
    Story,
    Volume,
)

from earnorm_aop import registry, weave
from earnorm_aop.plugin_system.model import unweave
from earnorm_aop.plugins.softdelete import including_deleted


def names(queryset: Any) -> list[str]:
    return sorted(queryset.values_list("name", flat=True))


def two_publishers() -> tuple[Publisher, Publisher]:
    """``kept`` has a visible volume "x"; ``gone``'s only volume "x" is soft-deleted."""
    kept, gone = Publisher.objects.create(name="kept"), Publisher.objects.create(name="gone")
    Volume.objects.create(title="x", publisher=kept)
    Volume.objects.create(title="x", publisher=gone).delete()
    assert Volume.with_deleted().filter(publisher=gone).count() == 1  # still in the table
    return kept, gone


# -- reverse foreign keys ---------------------------------------------------------------------


def test_lookup_through_a_reverse_foreign_key_skips_deleted_rows() -> None:
    two_publishers()
    assert names(Publisher.objects.filter(volumes__title="x")) == ["kept"]
    # what the limitation used to require, now implied
    assert names(Publisher.objects.filter(volumes__title="x", volumes__deleted_at=None)) == ["kept"]


def test_isnull_through_a_relation_counts_deleted_rows_as_absent() -> None:
    two_publishers()
    Publisher.objects.create(name="empty")
    assert names(Publisher.objects.filter(volumes__isnull=True)) == ["empty", "gone"]
    assert names(Publisher.objects.filter(volumes__isnull=False)) == ["kept"]


def test_exclude_through_a_relation_ignores_deleted_rows() -> None:
    two_publishers()
    assert names(Publisher.objects.exclude(volumes__title="x")) == ["gone"]


def test_annotations_count_visible_rows_only() -> None:
    kept, _gone = two_publishers()
    Volume.objects.create(title="y", publisher=kept)
    counts = dict(Publisher.objects.annotate(n=Count("volumes")).values_list("name", "n"))
    assert counts == {"kept": 2, "gone": 0}


def test_two_hops_restrict_each_joined_table() -> None:
    publisher = Publisher.objects.create(name="p")
    volume = Volume.objects.create(title="v", publisher=publisher)
    Review.objects.create(text="bad", volume=volume).delete()
    assert not Publisher.objects.filter(volumes__reviews__text="bad").exists()
    Review.objects.create(text="bad", volume=volume)
    assert Publisher.objects.filter(volumes__reviews__text="bad").exists()
    volume.delete()  # the review is visible, the volume between them is not
    assert not Publisher.objects.filter(volumes__reviews__text="bad").exists()


def test_another_plugin_declaring_visible_rows_is_honoured() -> None:
    """Not softdelete: the test plugin ``veil`` hides rows whose ``veiled`` flag is set."""
    publisher = Publisher.objects.create(name="p")
    pamphlet = Pamphlet.objects.create(title="t", publisher=publisher)
    assert Publisher.objects.filter(pamphlets__title="t").exists()
    Pamphlet._base_manager.filter(pk=pamphlet.pk).update(veiled=True)
    assert not Publisher.objects.filter(pamphlets__title="t").exists()


# -- many-to-many ---------------------------------------------------------------------------


def test_many_to_many_lookups_skip_deleted_rows_on_both_sides() -> None:
    volume = Volume.objects.create(title="v")
    keep, drop = Genre.objects.create(name="keep"), Genre.objects.create(name="drop")
    volume.genres.add(keep, drop)
    drop.delete()
    assert Volume.objects.filter(genres__name="drop").count() == 0
    assert Volume.objects.filter(genres__name="keep").count() == 1
    assert dict(Volume.objects.annotate(n=Count("genres")).values_list("title", "n")) == {"v": 1}
    # Django drops the join to the genre table here (the through column is enough):
    # the condition is on the through table, so it holds anyway
    assert Volume.objects.filter(genres=drop).count() == 0
    assert Volume.objects.filter(genres=keep).count() == 1
    assert Volume.objects.exclude(genres=keep).count() == 0
    keep.delete()
    assert Volume.objects.filter(genres__isnull=True).count() == 1
    assert Volume.objects.exclude(genres=keep).count() == 1
    keep.restore()
    other = Genre.objects.create(name="other")
    Volume.objects.create(title="w").genres.add(other)
    volume.delete()
    assert names(Genre.objects.filter(volumes__title="v")) == []
    assert names(Genre.objects.filter(volumes__isnull=True)) == ["keep"]
    assert names(Genre.objects.exclude(volumes__title="v")) == ["keep", "other"]


def test_relations_declared_before_the_soft_deleting_model_are_restricted() -> None:
    """``Bookcase`` names ``"Volume"`` before it exists (a lazy relation, resolved later)."""
    shelf = Bookcase.objects.create(name="s")
    volume = Volume.objects.create(title="x")
    shelf.volumes.add(volume)
    assert names(Bookcase.objects.filter(volumes__title="x")) == ["s"]
    volume.delete()
    assert names(Bookcase.objects.filter(volumes__title="x")) == []
    assert list(shelf.volumes.all()) == []


def test_explicit_through_model_lookups_are_restricted() -> None:
    reader = Reader.objects.create(name="r")
    volume = Volume.objects.create(title="x")
    Loan.objects.create(reader=reader, volume=volume)
    assert names(Reader.objects.filter(loans__title="x")) == ["r"]
    volume.delete()
    assert names(Reader.objects.filter(loans__title="x")) == []


# -- what stays as it was ---------------------------------------------------------------------


def test_forward_lookups_and_parents_are_unchanged() -> None:
    """The table a join starts from is never restricted; to-one joins are left alone."""
    publisher = Publisher.objects.create(name="p")
    volume = Volume.objects.create(title="x", publisher=publisher)
    volume.delete()
    # the deleted volume itself, through with_deleted(), still matches its publisher's name
    assert Volume.with_deleted().filter(publisher__name="p").count() == 1
    # a forward foreign key into a soft-deleting model: as article.author, not restricted
    shelf = Bookcase.objects.create(name="s", featured=volume)
    assert names(Bookcase.objects.filter(featured__title="x")) == ["s"]
    loaded = Bookcase.objects.select_related("featured").get(pk=shelf.pk)
    assert loaded.featured == volume
    assert Bookcase.objects.get(pk=shelf.pk).featured == volume  # _base_manager


def test_reverse_one_to_one_and_select_related_are_unchanged() -> None:
    publisher = Publisher.objects.create(name="p")
    bio = Bio.objects.create(text="b", publisher=publisher)
    bio.delete()
    assert names(Publisher.objects.filter(bio__text="b")) == ["p"]
    (loaded,) = Publisher.objects.select_related("bio")
    assert loaded.bio == bio
    assert Publisher.objects.get(pk=publisher.pk).bio == bio


def test_prefetch_related_managers_and_values_through_relations() -> None:
    _kept, gone = two_publishers()
    with CaptureQueriesContext(connection) as ctx:
        loaded = {
            p.name: [v.title for v in p.volumes.all()]
            for p in Publisher.objects.prefetch_related("volumes")
        }
    assert loaded == {"kept": ["x"], "gone": []}
    assert len(ctx.captured_queries) == 2
    assert list(gone.volumes.all()) == []
    assert sorted(Publisher.objects.values_list("name", "volumes__title"), key=str) == [
        ("gone", None),
        ("kept", "x"),
    ]


def test_multi_table_children_are_restricted_by_their_parents_column() -> None:
    """``SpecialVolume``'s ``deleted_at`` lives in the volume table (a subquery on it)."""
    publisher = Publisher.objects.create(name="p")
    special = SpecialVolume.objects.create(title="x", curator=publisher)
    assert names(Publisher.objects.filter(special_volumes__title="x")) == ["p"]
    special.delete()
    assert names(Publisher.objects.filter(special_volumes__title="x")) == []
    assert names(Publisher.objects.exclude(special_volumes__title="x")) == ["p"]
    # the parent link is the same row: never restricted
    assert SpecialVolume._base_manager.get(pk=special.pk).title == "x"
    special.refresh_from_db()
    assert special.deleted_at is not None
    assert SpecialVolume.with_deleted().filter(title="x").count() == 1


def test_cascades_and_hard_delete_still_reach_hidden_rows() -> None:
    _kept, gone = two_publishers()
    genre = Genre.objects.create(name="g")
    (hidden,) = Volume.with_deleted().filter(publisher=gone)
    hidden.genres.add(genre)
    through = Volume.genres.through
    assert through.objects.count() == 1
    gone.delete()  # Publisher has no softdelete: a real delete, cascading to hidden volumes
    assert Volume._base_manager.filter(publisher_id=gone.pk).count() == 0
    assert through.objects.count() == 0
    (visible,) = Volume.objects.all()
    visible.genres.add(genre)
    visible.hard_delete()
    assert Volume._base_manager.count() == 0
    assert through.objects.count() == 0


# -- the restriction follows the plugin's state -----------------------------------------------


def test_including_deleted_lifts_the_restriction() -> None:
    two_publishers()
    with including_deleted():
        assert names(Publisher.objects.filter(volumes__title="x")) == ["gone", "kept"]
    assert names(Publisher.objects.filter(volumes__title="x")) == ["kept"]


def test_disabling_softdelete_lifts_the_restriction() -> None:
    two_publishers()
    registry.disable("softdelete")
    try:
        assert names(Publisher.objects.filter(volumes__title="x")) == ["gone", "kept"]
    finally:
        registry.enable("softdelete")
    assert names(Publisher.objects.filter(volumes__title="x")) == ["kept"]
    with registry.disabled("softdelete"):
        assert names(Publisher.objects.filter(volumes__title="x")) == ["gone", "kept"]
    assert names(Publisher.objects.filter(volumes__title="x")) == ["kept"]


def test_unweaving_softdelete_from_one_model_lifts_its_restriction_only() -> None:
    volume = Volume.objects.create(title="v")
    genre = Genre.objects.create(name="g")
    volume.genres.add(genre)
    genre.delete()
    volume_gone = Volume.objects.create(title="w")
    volume_gone.genres.add(Genre.objects.create(name="h"))
    volume_gone.delete()
    unweave(Genre, "softdelete")
    try:
        assert Volume.objects.filter(genres__name="g").count() == 1
        assert names(Genre.objects.filter(volumes__title="w")) == []  # Volume still hides
    finally:
        weave(Genre, "softdelete")
    assert Volume.objects.filter(genres__name="g").count() == 0


def test_only_relation_field_instances_are_changed() -> None:
    """Django's classes keep their method; unrelated relations keep Django's behaviour."""
    assert "get_extra_restriction" in vars(Volume._meta.get_field("publisher"))
    assert "get_extra_restriction" in vars(Volume._meta.get_field("publisher").remote_field)
    original = ForeignObject.__dict__["get_extra_restriction"]
    assert original.__qualname__ == "ForeignObject.get_extra_restriction"
    assert ForeignKey.get_extra_restriction is original
    assert "get_extra_restriction" not in vars(ForeignKey)
    rel_original = ForeignObjectRel.__dict__["get_extra_restriction"]
    assert rel_original.__qualname__ == "ForeignObjectRel.get_extra_restriction"
    # Article hides rows with a plugin that does not declare visible_rows
    assert "get_extra_restriction" not in vars(Article._meta.get_field("author"))
    # the parent link of a multi-table child is never restricted
    assert "get_extra_restriction" not in vars(SpecialVolume._meta.get_field("volume_ptr"))
    # an unrelated softdelete model (Story) is restricted on its own relations only
    assert "get_extra_restriction" in vars(Story._meta.get_field("writer"))
