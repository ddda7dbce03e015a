"""The seed's examples (issue 3) as written, with ``PluginModel`` as the ORM's model base."""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import (
    BasePlugin,
    PluginModel,
    PluginRegistry,
    emit,
    explain,
    hook,
    plugin,
)
from earnorm_aop import registry as default_registry


@pytest.fixture
def cache_plugin(reg: PluginRegistry) -> Any:
    log: list[Any] = []

    @plugin("cache", registry=reg)
    class CachePlugin:
        def __init__(self, ttl=3600, prefix="cache"):  # type: ignore[no-untyped-def]
            self.ttl = ttl
            self.prefix = prefix
            log.append(("init", ttl, prefix))

        def after_get(self, instance):  # type: ignore[no-untyped-def]
            log.append(("after_get", self.prefix, self.ttl, instance.id))

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            log.append(("before_save", self.prefix, instance.id))

    CachePlugin.log = log  # type: ignore[attr-defined]
    return CachePlugin


class Record(PluginModel):
    """The ORM model base stand-in's concrete methods."""

    def __init__(self, id: int = 1) -> None:
        self.id = id
        self.saved = 0

    def get(self) -> str:
        return f"row {self.id}"

    def save(self) -> str:
        self.saved += 1
        return "saved"


def test_cache_plugin_with_meta_dict_configuration(reg: PluginRegistry, cache_plugin: Any) -> None:
    class User(Record):
        class Meta:
            plugins = {"cache": {"ttl": 1800, "prefix": "user"}}  # noqa: RUF012
            registry = reg

    user = User(7)
    assert user.get() == "row 7"
    assert user.save() == "saved"
    assert cache_plugin.log == [
        ("init", 1800, "user"),
        ("after_get", "user", 1800, 7),
        ("before_save", "user", 7),
    ]


def test_cache_plugin_with_meta_list_uses_the_init_defaults(
    reg: PluginRegistry, cache_plugin: Any
) -> None:
    class User(Record):
        class Meta:
            plugins = ["cache"]  # noqa: RUF012
            registry = reg

    User(3).save()
    assert cache_plugin.log == [("init", 3600, "cache"), ("before_save", "cache", 3)]


def test_cache_plugin_config_schema_comes_from_init(reg: PluginRegistry, cache_plugin: Any) -> None:
    schema = reg.get_plugin("cache").config_schema
    assert schema["properties"]["ttl"]["default"] == 3600
    assert schema["properties"]["prefix"]["default"] == "cache"
    assert "required" not in schema


def test_audit_plugin_handles_the_custom_after_change_event(reg: PluginRegistry) -> None:
    changes_seen: list[Any] = []

    class AuditPlugin(BasePlugin):
        @hook("after_change")
        def log_change(self, instance, changes):  # type: ignore[no-untyped-def]
            changes_seen.append((instance.id, changes))

    reg.register("audit", AuditPlugin)

    class Post(Record):
        class Meta:
            plugins = ["audit"]  # noqa: RUF012
            registry = reg

    post = Post(5)
    emit(post, "after_change", changes={"title": ("a", "b")})
    assert changes_seen == [(5, {"title": ("a", "b")})]
    # the event is not woven as a pointcut: no method is wrapped
    assert "save" not in vars(Post)
    assert Post.save is vars(Record)["save"]
    assert "after_change: audit.log_change" in explain(Post)


def test_validation_plugin_binds_one_method_to_two_conventions(reg: PluginRegistry) -> None:
    validated: list[Any] = []

    class ValidationPlugin(BasePlugin):
        @hook(["before_save", "before_update"])
        def validate_data(self, instance):  # type: ignore[no-untyped-def]
            validated.append(instance.id)

    reg.register("validation", ValidationPlugin)
    assert reg.get_plugin("validation").hooks == ("before_save", "before_update")

    class Doc(Record):
        class Meta:
            plugins = ["validation"]  # noqa: RUF012
            registry = reg

        def update(self, **values: Any) -> str:
            return "updated"

    doc = Doc(9)
    assert doc.save() == "saved"
    assert doc.update(x=1) == "updated"
    assert validated == [9, 9]

    # On a model without update, before_update is an event, not an error.
    class Note(Record):
        class Meta:
            plugins = ["validation"]  # noqa: RUF012
            registry = reg

    note = Note(4)
    note.save()
    emit(note, "before_update")
    assert validated == [9, 9, 4, 4]
    assert "before_update: validation.validate_data" in explain(Note)


def test_registry_calls_of_the_seed() -> None:
    class AuditPlugin(BasePlugin):
        @hook("after_change")
        def log_change(self, instance, changes):  # type: ignore[no-untyped-def]
            pass

    class TimestampPlugin(BasePlugin):
        version = "1.2.0"

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.stamped = True

    class SoftDeletePlugin(BasePlugin):
        def around_delete(self, instance, proceed):  # type: ignore[no-untyped-def]
            instance.deleted = True

    registry = PluginRegistry()
    registry.register("audit", AuditPlugin)
    registry.register_many({"timestamp": TimestampPlugin, "softdelete": SoftDeletePlugin})
    info = registry.get_plugin("audit")
    assert (info.name, info.version, info.hooks) == ("audit", "0.1.0", ("after_change",))
    assert info.source == "registered"
    assert info.cls is AuditPlugin
    assert registry.get_plugin("timestamp").version == "1.2.0"
    assert registry.get_plugin("softdelete").hooks == ("around_delete",)

    registry.enable("audit")
    registry.disable("softdelete")
    assert registry.get_plugin("audit").enabled is True
    assert registry.get_plugin("softdelete").enabled is False
    assert {"audit", "timestamp", "softdelete"} <= set(registry.names())


def test_seed_models_on_a_registry_with_toggles(reg: PluginRegistry) -> None:
    class TimestampPlugin(BasePlugin):
        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.stamped = True

    class SoftDeletePlugin(BasePlugin):
        def around_delete(self, instance, proceed):  # type: ignore[no-untyped-def]
            instance.deleted = True  # never proceeds: a soft delete

    reg.register_many({"timestamp": TimestampPlugin, "softdelete": SoftDeletePlugin})

    def hard_delete(self: Any) -> str:
        self.hard_deleted = True
        return "deleted"

    class Post(Record):
        class Meta:
            plugins = ["timestamp", "softdelete"]  # noqa: RUF012
            registry = reg

        delete = hard_delete

    post = Post()
    post.save()
    assert post.delete() is None
    assert post.stamped and post.deleted and not hasattr(post, "hard_deleted")

    reg.disable("softdelete")
    post = Post()
    assert post.delete() == "deleted"
    assert post.hard_deleted and not hasattr(post, "deleted")
    assert vars(Post)["delete"] is hard_delete  # a disabled plugin costs nothing
    reg.enable("softdelete")
    assert Post().delete() is None


def test_base_plugin_with_a_name_registers_in_the_default_registry(
    default_names: list[str],
) -> None:
    class Stamp(BasePlugin):
        name = "seed_stamp_default"

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.stamped = True

    default_names.append("seed_stamp_default")
    assert default_registry.get_plugin("seed_stamp_default").cls is Stamp

    class Item(Record):
        class Meta:
            plugins = ["seed_stamp_default"]  # noqa: RUF012

    item = Item()
    item.save()
    assert item.stamped is True
