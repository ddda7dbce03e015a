"""The backfill ``makemigrations`` adds after a plugin's AddField, read in this process.

A migration state in which the models lack their plugin fields stands for a
table made before the plugins; the autodetector's changes towards the live
models are what ``makemigrations`` would write.  The real commands on a
populated table run in ``test_django_migrations.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db.migrations import AddField
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter

from earnorm_aop.integrations.django.backfills import add_backfills
from earnorm_aop.integrations.django.operations import BackfillField

PLUGIN_FIELDS = {
    "pluginitem": ("created_at", "updated_at", "deleted_at"),
    "stamped": ("stamped_at", "revision", "stamp_note", "stamp_flags", "stamp_active"),
}


def _changes_without_plugin_fields() -> dict[str, Any]:
    before = ProjectState.from_apps(apps)
    for model, names in PLUGIN_FIELDS.items():
        state = before.models["djangoapp", model]
        for name in names:
            del state.fields[name]
    changes: dict[str, Any] = MigrationAutodetector(
        before, ProjectState.from_apps(apps)
    )._detect_changes()
    return changes


def _operations(changes: dict[str, Any]) -> list[Any]:
    return [op for migration in changes["djangoapp"] for op in migration.operations]


def test_each_plugin_field_with_a_backfill_gets_one_right_after_its_add_field() -> None:
    changes = _changes_without_plugin_fields()
    assert add_backfills(changes) == 2
    ops = _operations(changes)
    described = [op.describe() for op in ops if op.model_name_lower == "pluginitem"]
    assert described == [
        "Add field created_at to pluginitem",
        "Backfill created_at on pluginitem with now",
        "Add field deleted_at to pluginitem",  # a soft-delete mark starts empty
        "Add field updated_at to pluginitem",
        "Backfill updated_at on pluginitem with now",
    ]
    # Fields with a default (revision=0, stamp_active=True, stamp_flags={}) are filled
    # by AddField itself; the nullable ones without stay empty: no backfill for Stamped.
    stamped = [op for op in ops if op.model_name_lower == "stamped"]
    assert stamped and all(isinstance(op, AddField) for op in stamped)


def test_the_migration_file_names_the_operation_by_its_import_path() -> None:
    changes = _changes_without_plugin_fields()
    add_backfills(changes)
    (migration,) = changes["djangoapp"]
    text = MigrationWriter(migration).as_string()
    assert "import earnorm_aop.integrations.django.operations" in text
    assert "earnorm_aop.integrations.django.operations.BackfillField(" in text
    compile(text, "migration.py", "exec")


def test_backfill_field_deconstructs_and_describes_each_source() -> None:
    now = BackfillField("book", "created_at")
    copied = BackfillField("Book", "created_at", from_field="published")
    constant = BackfillField("book", "rank", value=3)
    assert now.deconstruct() == ("BackfillField", ["book", "created_at"], {})
    assert copied.deconstruct()[2] == {"from_field": "published"}
    assert constant.deconstruct()[2] == {"value": 3}
    assert constant.describe() == "Backfill rank on book with 3"
    assert copied.migration_name_fragment == "backfill_book_created_at"
    assert copied.references_model("BOOK", "app")
    assert copied.references_field("book", "published", "app")
    assert not copied.references_field("book", "title", "app")
    with pytest.raises(ValueError, match="not both"):
        BackfillField("book", "rank", from_field="a", value=1)
