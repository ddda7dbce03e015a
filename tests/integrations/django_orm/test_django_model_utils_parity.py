"""Our ``timestamp`` + ``softdelete`` against django-model-utils on the same SQLite database.

``UtilsItem`` is ``TimeStampedModel`` + ``SoftDeletableModel`` from
django-model-utils, used as its documentation shows; ``PluginItem`` is a plain
Django model with ``plugins = ["timestamp", "softdelete"]`` (default options,
real clock).  Each scenario runs on both: where the two agree the test is
parametrised over both models and asserts the shared outcome; where they
differ the test asserts each library's own outcome, so every row of the
"Differences from django-model-utils" tables in ``docs/django.md`` and
``docs/plugins.md`` is checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import model_utils
import pytest
from django.db import connection
from django.db.models.signals import post_delete, post_save, pre_delete
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from djangoapp.models import ParityShelf, PluginItem, UtilsItem

# model-utils 5 warns on every use of ``UtilsItem.objects`` (see
# test_the_default_manager_hides_removed_rows_but_model_utils_deprecates_it).
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*objects model manager will include soft-deleted objects:DeprecationWarning"
)

WHEN = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Flavour:
    """How one library spells the same thing."""

    model: Any
    created: str
    modified: str
    marker: str  # the soft-delete column

    def removed(self, pk: Any) -> bool:
        value = stored(self.model, pk)[self.marker]
        return value is not None and value is not False

    def everything(self) -> Any:
        """A queryset including removed rows, as the library offers it."""
        if self.model is UtilsItem:
            return UtilsItem.all_objects.all()
        return PluginItem.with_deleted()

    def hard_delete(self, obj: Any) -> Any:
        if self.model is UtilsItem:
            return obj.delete(soft=False)
        return obj.hard_delete()

    def restore(self, obj: Any) -> None:
        if self.model is UtilsItem:
            obj.is_removed = False
            obj.save()
        else:
            obj.restore()


UTILS = Flavour(UtilsItem, "created", "modified", "is_removed")
OURS = Flavour(PluginItem, "created_at", "updated_at", "deleted_at")


@pytest.fixture(params=[UTILS, OURS], ids=["model_utils", "earnorm_aop"])
def lib(request: pytest.FixtureRequest) -> Flavour:
    flavour: Flavour = request.param
    return flavour


def stored(model: Any, pk: Any) -> dict[str, Any]:
    """The row as the table holds it, removed or not (the unfiltered base manager)."""
    return dict(model._base_manager.filter(pk=pk).values().first() or {})


def table_size(model: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{model._meta.db_table}"')
        return int(cursor.fetchone()[0])


def writes(queries: Any) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]


@pytest.fixture
def signals() -> Iterator[list[str]]:
    """Names of the model signals sent for either model, in order."""
    sent: list[str] = []

    def receiver(name: str) -> Callable[..., None]:
        def record(sender: Any, **kwargs: Any) -> None:
            if sender in (UtilsItem, PluginItem):
                sent.append(name)

        return record

    receivers = {
        post_save: receiver("post_save"),
        pre_delete: receiver("pre_delete"),
        post_delete: receiver("post_delete"),
    }
    for signal, fn in receivers.items():
        signal.connect(fn, weak=False)
    yield sent
    for signal, fn in receivers.items():
        signal.disconnect(fn)


def test_the_reference_is_django_model_utils_5() -> None:
    assert model_utils.__version__.split(".")[0] == "5"


# -- timestamps: where both agree ---------------------------------------------------------


def test_created_equals_modified_on_creation_both_aware_and_persisted(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    created, modified = getattr(obj, lib.created), getattr(obj, lib.modified)
    assert created == modified
    assert created.utcoffset() == timedelta(0)
    row = stored(lib.model, obj.pk)
    assert (row[lib.created], row[lib.modified]) == (created, modified)


def test_every_save_bumps_modified_and_never_changes_created(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    created, modified = getattr(obj, lib.created), getattr(obj, lib.modified)
    for title in ("b", "c"):
        obj.title = title
        obj.save()
        row = stored(lib.model, obj.pk)
        assert row[lib.created] == created
        assert row[lib.modified] > modified
        modified = row[lib.modified]
    reloaded = lib.model.objects.get(pk=obj.pk)
    reloaded.title = "d"
    reloaded.save()
    assert stored(lib.model, obj.pk)[lib.created] == created
    assert stored(lib.model, obj.pk)[lib.modified] > modified


def test_a_save_that_changes_nothing_bumps_modified_only_in_model_utils(lib: Flavour) -> None:
    """Difference: timestamp keeps updated_at on a no-op save (``touch_on_noop=False``)."""
    obj = lib.model.objects.create(title="a")
    modified = stored(lib.model, obj.pk)[lib.modified]
    reloaded = lib.model.objects.get(pk=obj.pk)
    reloaded.save()
    obj.save()
    if lib.model is UtilsItem:
        assert stored(lib.model, obj.pk)[lib.modified] > modified
    else:
        assert stored(lib.model, obj.pk)[lib.modified] == modified


def test_save_with_update_fields_also_writes_modified(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    before = stored(lib.model, obj.pk)
    obj.title = "b"
    with CaptureQueriesContext(connection) as queries:
        obj.save(update_fields=["title"])
    (sql,) = writes(queries)
    assert f'"{lib.modified}"' in sql
    assert f'"{lib.created}"' not in sql
    after = stored(lib.model, obj.pk)
    assert after["title"] == "b"
    assert after[lib.modified] > before[lib.modified]
    assert after[lib.created] == before[lib.created]


def test_save_with_empty_update_fields_writes_nothing(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    before = stored(lib.model, obj.pk)
    with CaptureQueriesContext(connection) as queries:
        obj.save(update_fields=[])
    assert writes(queries) == []
    assert stored(lib.model, obj.pk) == before


def test_an_explicit_created_is_kept_on_creation(lib: Flavour) -> None:
    obj = lib.model(title="a", **{lib.created: WHEN})
    obj.save()
    assert stored(lib.model, obj.pk)[lib.created] == WHEN


def test_an_explicit_modified_in_queryset_update_is_kept(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    lib.model.objects.filter(pk=obj.pk).update(title="b", **{lib.modified: WHEN})
    assert stored(lib.model, obj.pk)[lib.modified] == WHEN


# -- timestamps: where they differ --------------------------------------------------------


def test_created_is_set_at_instantiation_by_model_utils_at_the_first_save_by_us() -> None:
    utils, ours = UtilsItem(title="a"), PluginItem(title="a")
    built = timezone.now()
    assert utils.created is not None and utils.created <= built
    assert utils.modified is not None  # a default cached on the field; save() replaces it
    assert ours.created_at is None and ours.updated_at is None
    utils.save()
    ours.save()
    assert stored(UtilsItem, utils.pk)["created"] <= built  # the time it was built
    assert stored(PluginItem, ours.pk)["created_at"] > built  # the time it was written


def test_an_explicit_modified_on_creation_is_kept_by_model_utils_overwritten_by_us() -> None:
    utils = UtilsItem(title="a", modified=WHEN)
    utils.save()
    ours = PluginItem(title="a", updated_at=WHEN)
    ours.save()
    assert stored(UtilsItem, utils.pk)["modified"] == WHEN
    assert stored(PluginItem, ours.pk)["updated_at"] > WHEN
    assert ours.updated_at == ours.created_at


def test_save_with_empty_update_fields_leaves_both_instances_unchanged() -> None:
    """Nothing is written by either (above), and neither changes the object in memory."""
    utils, ours = UtilsItem.objects.create(title="a"), PluginItem.objects.create(title="a")
    before_utils, before_ours = utils.modified, ours.updated_at
    utils.save(update_fields=[])
    ours.save(update_fields=[])
    assert utils.modified == before_utils
    assert ours.updated_at == before_ours
    assert stored(PluginItem, ours.pk)["updated_at"] == before_ours


def test_queryset_update_bumps_modified_only_with_us() -> None:
    utils, ours = UtilsItem.objects.create(title="a"), PluginItem.objects.create(title="a")
    assert UtilsItem.objects.filter(pk=utils.pk).update(title="b") == 1
    assert PluginItem.objects.filter(pk=ours.pk).update(title="b") == 1
    after_utils, after_ours = stored(UtilsItem, utils.pk), stored(PluginItem, ours.pk)
    assert after_utils["title"] == after_ours["title"] == "b"
    assert after_utils["modified"] == utils.modified  # stale: no pre_save, no save()
    assert after_ours["updated_at"] > ours.updated_at
    assert after_ours["created_at"] == ours.created_at


def test_bulk_update_bumps_modified_only_with_us() -> None:
    utils = [UtilsItem.objects.create(title="a"), UtilsItem.objects.create(title="b")]
    ours = [PluginItem.objects.create(title="a"), PluginItem.objects.create(title="b")]
    before = {(type(o), o.pk): stored(type(o), o.pk) for o in [*utils, *ours]}
    for obj in [*utils, *ours]:
        obj.title += "!"
    UtilsItem.objects.bulk_update(utils, ["title"])
    PluginItem.objects.bulk_update(ours, ["title"])
    for obj in utils:
        row = stored(UtilsItem, obj.pk)
        assert row["title"].endswith("!")
        assert row["modified"] == before[UtilsItem, obj.pk]["modified"]
    for obj in ours:
        row = stored(PluginItem, obj.pk)
        assert row["title"].endswith("!")
        assert row["updated_at"] > before[PluginItem, obj.pk]["updated_at"]


def test_bulk_create_stamps_both_model_utils_at_instantiation_ours_at_the_insert() -> None:
    utils = [UtilsItem(title="a"), UtilsItem(title="b")]
    ours = [PluginItem(title="a"), PluginItem(title="b")]
    built = timezone.now()
    UtilsItem.objects.bulk_create(utils)
    PluginItem.objects.bulk_create(ours)
    utils_rows = [stored(UtilsItem, o.pk) for o in utils]
    ours_rows = [stored(PluginItem, o.pk) for o in ours]
    for row in utils_rows:
        assert row["created"] == row["modified"] <= built
    assert utils_rows[0]["created"] < utils_rows[1]["created"]  # one time per object
    for row in ours_rows:
        assert row["created_at"] == row["updated_at"] > built
    assert ours_rows[0]["created_at"] == ours_rows[1]["created_at"]  # one time per insert


def test_timestamp_fields_are_read_only_in_both_and_nullable_with_us() -> None:
    for name in ("created", "modified"):
        field = UtilsItem._meta.get_field(name)
        assert (field.editable, field.null) == (False, False)
    for name in ("created_at", "updated_at"):
        field = PluginItem._meta.get_field(name)
        assert (field.editable, field.null) == (False, True)


@override_settings(USE_TZ=False)
def test_without_use_tz_both_write_naive_times() -> None:
    """Our default clock is the adapter's: Django's ``timezone.now()``, as model-utils uses."""
    utils = UtilsItem.objects.create(title="a")
    ours = PluginItem.objects.create(title="a")
    ours.delete()
    assert timezone.is_naive(stored(UtilsItem, utils.pk)["created"])
    row = stored(PluginItem, ours.pk)
    assert all(timezone.is_naive(row[f]) for f in ("created_at", "updated_at", "deleted_at"))


def test_with_use_tz_both_write_aware_utc_times() -> None:
    utils = UtilsItem.objects.create(title="a")
    ours = PluginItem.objects.create(title="a")
    assert timezone.is_aware(stored(UtilsItem, utils.pk)["created"])
    created = stored(PluginItem, ours.pk)["created_at"]
    assert timezone.is_aware(created) and created.utcoffset().total_seconds() == 0


# -- soft delete: where both agree --------------------------------------------------------


def test_delete_keeps_the_row_hides_it_and_bumps_modified(lib: Flavour) -> None:
    gone, kept = lib.model.objects.create(title="gone"), lib.model.objects.create(title="kept")
    modified = getattr(gone, lib.modified)
    with CaptureQueriesContext(connection) as queries:
        result = gone.delete()
    assert result is None
    assert not any(sql.startswith("DELETE") for sql in writes(queries))
    assert table_size(lib.model) == 2
    assert lib.removed(gone.pk) and not lib.removed(kept.pk)
    assert stored(lib.model, gone.pk)[lib.modified] > modified
    assert list(lib.model._default_manager.all()) == [kept]
    assert lib.model._default_manager.count() == 1
    with pytest.raises(lib.model.DoesNotExist):
        lib.model._default_manager.get(pk=gone.pk)
    assert sorted(o.pk for o in lib.everything()) == [gone.pk, kept.pk]


def test_hard_delete_removes_the_row(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    label = lib.model._meta.label
    assert lib.hard_delete(obj) == (1, {label: 1})
    assert table_size(lib.model) == 0


def test_a_removed_row_can_be_hard_deleted(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    obj.delete()
    lib.hard_delete(obj)
    assert table_size(lib.model) == 0


def test_restore_shows_the_row_again_and_bumps_modified(lib: Flavour) -> None:
    obj = lib.model.objects.create(title="a")
    obj.delete()
    removed_at = stored(lib.model, obj.pk)[lib.modified]
    lib.restore(obj)
    assert not lib.removed(obj.pk)
    assert lib.model._default_manager.get(pk=obj.pk).title == "a"
    assert stored(lib.model, obj.pk)[lib.modified] > removed_at


def test_queryset_delete_on_the_default_manager_is_soft(lib: Flavour) -> None:
    a, b, c = (lib.model.objects.create(title=t) for t in ("a", "b", "c"))
    with CaptureQueriesContext(connection) as queries:
        result = lib.model._default_manager.filter(title__in=["a", "b"]).delete()
    assert not any(sql.startswith("DELETE") for sql in writes(queries))
    assert result == (2, {lib.model._meta.label: 2})
    assert table_size(lib.model) == 3
    assert lib.removed(a.pk) and lib.removed(b.pk) and not lib.removed(c.pk)
    assert list(lib.model._default_manager.all()) == [c]


def test_queryset_update_on_the_default_manager_never_touches_removed_rows(lib: Flavour) -> None:
    gone, kept = lib.model.objects.create(title="gone"), lib.model.objects.create(title="kept")
    gone.delete()
    assert lib.model._default_manager.update(title="new") == 1
    assert stored(lib.model, gone.pk)["title"] == "gone"
    assert stored(lib.model, kept.pk)["title"] == "new"


def test_related_managers_hide_removed_rows(lib: Flavour) -> None:
    shelf = ParityShelf.objects.create(name="s")
    related = "utils_items" if lib is UTILS else "plugin_items"
    kept = lib.model.objects.create(title="kept", shelf=shelf)
    lib.model.objects.create(title="gone", shelf=shelf).delete()
    assert list(getattr(shelf, related).all()) == [kept]
    assert getattr(shelf, related).count() == 1
    (loaded,) = ParityShelf.objects.prefetch_related(related)
    assert [o.title for o in getattr(loaded, related).all()] == ["kept"]


def test_signals_a_soft_delete_is_a_save_a_bulk_delete_sends_none(
    lib: Flavour, signals: list[str]
) -> None:
    a, _ = lib.model.objects.create(title="a"), lib.model.objects.create(title="b")
    signals.clear()
    a.delete()
    assert signals == ["post_save"]
    signals.clear()
    lib.model._default_manager.all().delete()
    assert signals == []


# -- soft delete: where they differ -------------------------------------------------------


def test_the_default_manager_hides_removed_rows_but_model_utils_deprecates_it() -> None:
    UtilsItem.objects.create(title="gone").delete()
    PluginItem.objects.create(title="gone").delete()
    with pytest.warns(DeprecationWarning, match="will include soft-deleted objects"):
        assert UtilsItem.objects.count() == 0
    assert UtilsItem._default_manager is UtilsItem.objects
    assert UtilsItem.available_objects.count() == 0  # model-utils' lasting name
    assert UtilsItem.all_objects.count() == 1
    assert PluginItem._default_manager is PluginItem.objects
    assert PluginItem.objects.count() == 0
    assert not hasattr(PluginItem, "available_objects")


def test_the_marker_is_a_flag_in_model_utils_a_time_with_us() -> None:
    before = timezone.now()
    utils, ours = UtilsItem.objects.create(title="a"), PluginItem.objects.create(title="a")
    utils.delete()
    ours.delete()
    assert stored(UtilsItem, utils.pk)["is_removed"] is True
    deleted_at = stored(PluginItem, ours.pk)["deleted_at"]
    assert isinstance(deleted_at, datetime) and deleted_at > before


def test_a_second_delete_saves_again_in_model_utils_changes_nothing_with_us() -> None:
    utils, ours = UtilsItem.objects.create(title="a"), PluginItem.objects.create(title="a")
    utils.delete()
    ours.delete()
    first_utils, first_ours = stored(UtilsItem, utils.pk), stored(PluginItem, ours.pk)
    utils.delete()
    with CaptureQueriesContext(connection) as queries:
        ours.delete()
    assert stored(UtilsItem, utils.pk)["modified"] > first_utils["modified"]
    assert writes(queries) == []
    assert stored(PluginItem, ours.pk) == first_ours  # deleted_at: the first deletion time


def test_deleting_an_unsaved_object_inserts_a_removed_row_in_model_utils_raises_with_us() -> None:
    assert UtilsItem(title="never saved").delete() is None
    (row,) = UtilsItem.all_objects.values("title", "is_removed")
    assert row == {"title": "never saved", "is_removed": True}
    with pytest.raises(ValueError, match="id attribute is set to None"):
        PluginItem(title="never saved").delete()
    assert table_size(PluginItem) == 0


def test_queryset_delete_bumps_modified_only_with_us() -> None:
    utils, ours = UtilsItem.objects.create(title="a"), PluginItem.objects.create(title="a")
    UtilsItem.objects.filter(pk=utils.pk).delete()
    PluginItem.objects.filter(pk=ours.pk).delete()
    assert stored(UtilsItem, utils.pk)["is_removed"] is True
    assert stored(UtilsItem, utils.pk)["modified"] == utils.modified  # an update(): no pre_save
    assert stored(PluginItem, ours.pk)["deleted_at"] is not None
    assert stored(PluginItem, ours.pk)["updated_at"] > ours.updated_at


def test_deleting_through_the_unfiltered_queryset_is_hard_in_model_utils_soft_with_us() -> None:
    u_gone, _ = UtilsItem.objects.create(title="a"), UtilsItem.objects.create(title="b")
    o_gone, o_kept = PluginItem.objects.create(title="a"), PluginItem.objects.create(title="b")
    u_gone.delete()
    o_gone.delete()
    first = stored(PluginItem, o_gone.pk)["deleted_at"]
    assert UtilsItem.all_objects.all().delete() == (2, {"djangoapp.UtilsItem": 2})
    assert table_size(UtilsItem) == 0  # a plain Manager: every row really deleted
    assert PluginItem.with_deleted().delete() == (1, {"djangoapp.PluginItem": 1})
    assert table_size(PluginItem) == 2  # still soft; the row already deleted keeps its time
    assert stored(PluginItem, o_gone.pk)["deleted_at"] == first
    assert stored(PluginItem, o_kept.pk)["deleted_at"] is not None
