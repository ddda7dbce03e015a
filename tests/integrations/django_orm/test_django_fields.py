"""Plugin fields become real Django fields: in the table, in migrations, with the right types."""

from __future__ import annotations

import datetime
import typing
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.operations import CreateModel
from django.db.migrations.state import ModelState, ProjectState
from django.forms.models import model_to_dict, modelform_factory
from django.test.utils import isolate_apps
from djangoapp.models import PluginItem, Post, Stamped
from djangoapp.plugins import registry

from earnorm_aop import PluginError, with_plugins
from earnorm_aop.integrations import FieldSpec
from earnorm_aop.integrations.django import django_field


def columns(table: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        return {c.name: c for c in connection.introspection.get_table_description(cursor, table)}


def indexed_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {c["columns"][0] for c in constraints.values() if c["index"] and len(c["columns"]) == 1}


def created_fields(changes: dict[str, Any], app: str, model: str) -> dict[str, Any]:
    for migration in changes[app]:
        for op in migration.operations:
            if isinstance(op, CreateModel) and op.name_lower == model:
                return dict(op.fields)
    raise AssertionError(f"no CreateModel for {app}.{model}")


def test_plugin_fields_are_columns_of_the_table() -> None:
    cols = columns("djangoapp_stamped")
    assert {"stamped_at", "revision", "stamp_note", "stamp_flags", "stamp_active"} <= set(cols)
    assert cols["stamped_at"].null_ok
    assert not cols["revision"].null_ok
    assert "hidden_at" in columns("djangoapp_article")
    assert "hidden_at" in columns("djangoapp_page")  # declared on an abstract base
    assert {"hidden_at", "stamp_active"} <= indexed_columns("djangoapp_article") | indexed_columns(
        "djangoapp_stamped"
    )


def test_annotations_map_to_django_fields() -> None:
    stamped_at = Stamped._meta.get_field("stamped_at")
    assert type(stamped_at) is models.DateTimeField
    assert stamped_at.null and stamped_at.blank
    revision = Stamped._meta.get_field("revision")
    assert type(revision) is models.IntegerField
    assert revision.default == 0 and not revision.null
    note = Stamped._meta.get_field("stamp_note")
    assert type(note) is models.CharField and note.null and note.max_length == 255
    flags = Stamped._meta.get_field("stamp_flags")
    assert type(flags) is models.JSONField
    assert callable(flags.default) and flags.default() == {}
    assert flags.default() is not flags.default()  # a fresh dict per row
    active = Stamped._meta.get_field("stamp_active")
    assert type(active) is models.BooleanField and active.default is True and active.db_index


def test_plugin_field_values_round_trip() -> None:
    obj = Stamped.objects.create(title="a")
    loaded = Stamped.objects.get(pk=obj.pk)
    assert loaded.revision == 1
    assert loaded.stamped_at == obj.stamped_at
    assert loaded.stamped_at.tzinfo is not None
    assert loaded.stamp_flags == {} and loaded.stamp_active is True and loaded.stamp_note is None


def test_makemigrations_sees_plugin_fields() -> None:
    changes = MigrationAutodetector(ProjectState(), ProjectState.from_apps(apps))._detect_changes()
    article = created_fields(changes, "djangoapp", "article")
    assert isinstance(article["hidden_at"], models.DateTimeField)
    assert article["hidden_at"].null and article["hidden_at"].db_index
    assert "hidden_at" in created_fields(changes, "djangoapp", "page")
    assert {"stamped_at", "revision", "stamp_flags"} <= set(
        created_fields(changes, "djangoapp", "stamped")
    )


PLUGIN_OWNED = ("created_at", "updated_at", "deleted_at")


def test_fields_a_plugin_owns_are_not_editable_in_migrations() -> None:
    """The migration state (what makemigrations writes) says editable=False for each."""
    state = ModelState.from_model(PluginItem)
    for name in PLUGIN_OWNED:
        field = state.fields[name]
        assert field.editable is False, name
        assert field.deconstruct()[3]["editable"] is False
    assert state.fields["title"].editable is True
    changes = MigrationAutodetector(ProjectState(), ProjectState.from_apps(apps))._detect_changes()
    created = created_fields(changes, "djangoapp", "pluginitem")
    assert [n for n in PLUGIN_OWNED if created[n].editable] == []


def test_fields_a_plugin_owns_are_left_out_of_model_forms() -> None:
    form_class = modelform_factory(PluginItem, fields="__all__")
    assert sorted(form_class.base_fields) == ["shelf", "title"]
    assert not set(PLUGIN_OWNED) & set(model_to_dict(PluginItem(title="x")))
    with pytest.raises(FieldError, match="created_at"):
        modelform_factory(PluginItem, fields=["title", "created_at"])


def test_private_managers_do_not_look_like_a_change_to_migrations() -> None:
    """A state rendered from migrations (user classes) equals the live one (private classes)."""
    live = ProjectState.from_apps(apps)
    rendered = ProjectState.from_apps(live.apps)  # managers rebuilt from deconstruct()
    changes = MigrationAutodetector(rendered, live)._detect_changes()
    assert changes == {}
    managers = dict(ModelState.from_model(Post).managers)
    path = managers["objects"].deconstruct()[1]
    assert path == "djangoapp.models.PublishedManager"
    live_manager = Post._meta.default_manager
    rendered_manager = live.apps.get_model("djangoapp", "Post")._meta.default_manager
    assert type(live_manager) is not type(rendered_manager)
    assert live_manager == rendered_manager and rendered_manager == live_manager


def test_the_audit_table_migration_is_up_to_date() -> None:
    call_command("makemigrations", "earnorm_aop", check=True, dry_run=True, verbosity=0)


def test_with_plugins_on_a_model_adds_fields_before_the_table_exists(create_tables: Any) -> None:
    with isolate_apps("djangoapp"):

        @with_plugins("stamp", registry=registry)
        class Late(models.Model):
            title = models.CharField(max_length=10)

            class Meta:
                app_label = "djangoapp"

    create_tables(Late)
    assert {"stamped_at", "revision"} <= set(columns(Late._meta.db_table))
    assert Late.objects.create(title="x").revision == 1


def test_a_models_own_field_wins_over_a_plugin_field() -> None:
    with isolate_apps("djangoapp"):

        class Own(models.Model):
            hidden_at = models.DateField(null=True)

            plugins = ("hidden",)
            plugin_registry = registry

            class Meta:
                app_label = "djangoapp"

    assert type(Own._meta.get_field("hidden_at")) is models.DateField


@pytest.mark.parametrize(
    ("annotation", "field_class", "null"),
    [
        (bool, models.BooleanField, False),
        (int | None, models.IntegerField, True),
        (float, models.FloatField, False),
        (str, models.CharField, False),
        (datetime.datetime | None, models.DateTimeField, True),
        (datetime.date, models.DateField, False),
        (datetime.time, models.TimeField, False),
        (datetime.timedelta, models.DurationField, False),
        (uuid.UUID, models.UUIDField, False),
        (bytes, models.BinaryField, False),
        (dict[str, int], models.JSONField, False),
        (list[str] | None, models.JSONField, True),
        (typing.Any, models.JSONField, False),
        (typing.Optional[datetime.date], models.DateField, True),  # noqa: UP045
        (typing.Annotated[int, "meta"], models.IntegerField, False),
        ("datetime | None", models.DateTimeField, True),
        ("Optional[int]", models.IntegerField, True),
        ("dict[str, Any]", models.JSONField, False),
    ],
)
def test_field_mapping(annotation: Any, field_class: type, null: bool) -> None:
    field = django_field(FieldSpec("f", annotation, default=_default(field_class)))
    assert type(field) is field_class
    assert field.null is null


def _default(field_class: type) -> Any:
    """A non-None default, so nullability comes from the annotation alone."""
    return {
        models.BooleanField: False,
        models.IntegerField: 0,
        models.FloatField: 0.0,
        models.CharField: "",
        models.DateTimeField: datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
        models.DateField: datetime.date(2020, 1, 1),
        models.TimeField: datetime.time(0),
        models.DurationField: datetime.timedelta(0),
        models.UUIDField: uuid.UUID(int=0),
        models.BinaryField: b"",
        models.JSONField: [],
    }[field_class]


def test_a_none_default_makes_the_column_nullable() -> None:
    field = django_field(FieldSpec("deleted_by", str))
    assert field.null and field.blank and field.get_default() is None


def test_a_mapped_field_is_not_editable_a_field_instance_keeps_its_own_option() -> None:
    assert django_field(FieldSpec("stamped_at", datetime.datetime | None)).editable is False
    prototype = models.CharField(max_length=20, blank=True)
    assert django_field(FieldSpec("note", prototype)).editable is True


def test_a_django_field_annotation_is_cloned_per_model() -> None:
    prototype = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    field = django_field(FieldSpec("price", prototype))
    assert type(field) is models.DecimalField and field is not prototype
    assert (field.max_digits, field.decimal_places, field.null) == (8, 2, True)


@pytest.mark.parametrize(
    ("annotation", "message"),
    [(Decimal, "Decimal"), (int | str, "union"), ("Path", "Path"), (object(), "object")],
)
def test_unmappable_annotations_are_plugin_errors(annotation: Any, message: str) -> None:
    with pytest.raises(PluginError, match=message) as info:
        django_field(FieldSpec("f", annotation), "app.Model")
    assert "'f' on app.Model" in str(info.value)
