"""Every example of the plugin page (shared/PLUGIN-PAGE.md), as written, and what each claims.

The plugins below are the page's code unchanged, apart from imports and the
base model (issue 7).  ``BaseModel`` is a minimal ORM model: a
:class:`~earnorm_aop.PluginModel` stored in the in-memory database, so
``save``, ``delete``, ``update``, the classmethods ``get`` and
``get_queryset`` are real operations.  ``cache``, ``AuditLog``, ``AccessLog``
and ``ValidationError`` are the stand-ins the page leaves to the reader, and
``datetime.now()`` ticks one second per call so times can be compared.

The page's ``@plugin("timestamp")`` etc. register in the default registry,
shadowing the built-ins: the ``page_names`` fixture unregisters them after
each test.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from earnorm_aop import (
    BasePlugin,
    PluginModel,
    PluginNotFoundError,
    PluginRegistry,
    PluginWarning,
    context,
    emit,
    explain,
    hook,
    plugin,
)
from earnorm_aop import registry as default_registry
from earnorm_aop.integrations.memory import MemoryModel, MemoryStore, NotFound
from earnorm_aop.weaving import weaver

# -- stand-ins for what the page leaves to the reader ----------------------------------


class datetime:  # the page calls datetime.now()
    """``datetime.now()`` ticking one second per call, from 2025-01-01."""

    current = _dt.datetime(2025, 1, 1)

    @classmethod
    def now(cls) -> _dt.datetime:
        cls.current += _dt.timedelta(seconds=1)
        return cls.current


class _Cache:
    """The page's ``cache``: ``set(key, value, ttl=...)`` and ``delete(key)``, recorded."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.calls: list[tuple[Any, ...]] = []

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.calls.append(("set", key, ttl))
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.calls.append(("delete", key))
        self.data.pop(key, None)


cache = _Cache()


class _Log:
    rows: ClassVar[list[dict[str, Any]]]

    @classmethod
    def create(cls, **fields: Any) -> None:
        cls.rows.append(fields)


class AuditLog(_Log):
    rows: ClassVar[list[dict[str, Any]]] = []


class AccessLog(_Log):
    rows: ClassVar[list[dict[str, Any]]] = []


class ValidationError(Exception):
    pass


class BaseModel(PluginModel, MemoryModel):
    """The ORM's model base: a row of an in-memory table with the fields the page uses."""

    __store__ = MemoryStore()
    id: int | None = None
    name: str = ""
    created_at: _dt.datetime | None = None
    updated_at: _dt.datetime | None = None
    deleted_at: _dt.datetime | None = None


@pytest.fixture(autouse=True)
def _fresh_stand_ins() -> Iterator[None]:
    BaseModel.__store__ = MemoryStore()
    cache.__init__()  # type: ignore[misc]
    AuditLog.rows.clear()
    AccessLog.rows.clear()
    before = set(weaver.woven_classes())
    yield
    for klass in set(weaver.woven_classes()) - before:
        weaver.unweave(klass)


@pytest.fixture
def page_names() -> Iterator[None]:
    """Unregister, after the test, the names the page's code registers in the default registry."""
    yield
    for name in ("timestamp", "softdelete", "cache", "audit", "validation"):
        with contextlib.suppress(PluginNotFoundError):
            default_registry.unregister(name)


def plugin_instance(model: type, name: str) -> Any:
    (aspect,) = [a for a in weaver.effective_aspects(model) if a.name == name]
    return aspect.plugin


# -- the page's code, as written --------------------------------------------------------


def basic_plugins() -> tuple[type, type]:
    """### Basic Plugins"""

    # Timestamp plugin
    @plugin("timestamp")
    class TimestampPlugin:
        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.updated_at = datetime.now()
            if not instance.id:
                instance.created_at = datetime.now()

    # Soft delete plugin
    @plugin("softdelete")
    class SoftDeletePlugin:
        def before_delete(self, instance):  # type: ignore[no-untyped-def]
            instance.deleted_at = datetime.now()
            instance.save()
            return False  # Prevent actual deletion

        def get_queryset(self, queryset):  # type: ignore[no-untyped-def]
            return queryset.filter(deleted_at=None)

    return TimestampPlugin, SoftDeletePlugin


def configurable_plugin() -> type:
    """### Plugin Configuration"""

    # Configurable plugin
    @plugin("cache")
    class CachePlugin:
        def __init__(self, ttl=3600, prefix="cache"):  # type: ignore[no-untyped-def]
            self.ttl = ttl
            self.prefix = prefix

        def after_get(self, instance):  # type: ignore[no-untyped-def]
            key = f"{self.prefix}:{instance.id}"
            cache.set(key, instance, ttl=self.ttl)

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            key = f"{self.prefix}:{instance.id}"
            cache.delete(key)

    return CachePlugin


def custom_hook_plugins() -> tuple[type, type]:
    """### Custom Hooks"""

    # Define custom hooks
    class AuditPlugin(BasePlugin):
        @hook("after_change")
        def log_change(self, instance, changes):  # type: ignore[no-untyped-def]
            AuditLog.create(
                model=instance.__class__.__name__, instance_id=instance.id, changes=changes
            )

        @hook("after_access")
        def log_access(self, instance, user):  # type: ignore[no-untyped-def]
            AccessLog.create(model=instance.__class__.__name__, instance_id=instance.id, user=user)

    # Multiple hooks
    class ValidationPlugin(BasePlugin):
        @hook(["before_save", "before_update"])
        def validate_data(self, instance):  # type: ignore[no-untyped-def]
            if not instance.is_valid():
                raise ValidationError()

    return AuditPlugin, ValidationPlugin


# -- Basic Plugins ----------------------------------------------------------------------


@pytest.mark.usefixtures("page_names")
def test_timestamp_sets_created_at_once_and_updated_at_on_every_save() -> None:
    basic_plugins()

    # Apply plugins
    class User(BaseModel):
        class Meta:
            plugins = ["timestamp", "softdelete"]  # noqa: RUF012

    user = User(name="ann")
    user.save()
    assert user.id == 1
    assert user.created_at is not None and user.updated_at is not None
    created, first_update = user.created_at, user.updated_at
    stored = User.get(1)
    assert (stored.created_at, stored.updated_at) == (created, first_update)

    user.name = "anne"
    user.save()
    assert user.created_at == created  # the id is set now: created_at stays
    assert user.updated_at > first_update
    assert User.get(1).updated_at == user.updated_at


@pytest.mark.usefixtures("page_names")
def test_softdelete_vetoes_the_delete_and_filters_the_queryset() -> None:
    basic_plugins()

    class User(BaseModel):
        class Meta:
            plugins = ["timestamp", "softdelete"]  # noqa: RUF012

    ann, bob = User(name="ann"), User(name="bob")
    ann.save()
    bob.save()
    before_delete = ann.updated_at

    assert ann.delete() is None  # vetoed: the ORM's delete did not run
    rows = {row["id"]: row for row in BaseModel.__store__.rows(User)}
    assert set(rows) == {1, 2}  # the row is still in the table
    assert rows[1]["deleted_at"] == ann.deleted_at is not None
    assert rows[1]["updated_at"] > before_delete  # the plugin's save went through timestamp
    assert ann.id == 1  # the real delete would have cleared it

    assert [u.name for u in User.get_queryset()] == ["bob"]
    assert [u.name for u in User.get_queryset().filter(name="ann")] == []
    with pytest.raises(NotFound):
        User.get(1)  # get reads through the default queryset
    assert User.get(2).name == "bob"


# -- Plugin Configuration -----------------------------------------------------------------


@pytest.mark.usefixtures("page_names")
def test_cache_configuration_and_the_keys_of_after_get_and_before_save() -> None:
    configurable_plugin()

    # Apply with config
    class User(BaseModel):
        class Meta:
            plugins = {"cache": {"ttl": 1800, "prefix": "user"}}  # noqa: RUF012

    obj = plugin_instance(User, "cache")
    assert (obj.ttl, obj.prefix) == (1800, "user")

    user = User(name="ann")
    user.save()  # a new record: its id is not known yet
    assert cache.calls == [("delete", "user:None")]

    cache.calls.clear()
    fetched = User.get(1)
    # after_get's instance is the record fetched, as the page expects
    assert cache.calls == [("set", "user:1", 1800)]
    assert cache.data["user:1"] is fetched and fetched.name == "ann"

    fetched.name = "anne"
    fetched.save()
    assert cache.calls[-1] == ("delete", "user:1")
    assert "user:1" not in cache.data


@pytest.mark.usefixtures("page_names")
def test_cache_as_a_list_entry_uses_the_init_defaults() -> None:
    CachePlugin = configurable_plugin()

    class User(BaseModel):
        class Meta:
            plugins = ["cache"]  # noqa: RUF012

    obj = plugin_instance(User, "cache")
    assert isinstance(obj, CachePlugin)
    assert (obj.ttl, obj.prefix) == (3600, "cache")
    User(name="ann").save()
    User.get(1)
    assert cache.calls == [("delete", "cache:None"), ("set", "cache:1", 3600)]
    schema = default_registry.get_plugin("cache").config_schema
    assert schema["properties"]["ttl"]["default"] == 3600
    assert schema["properties"]["prefix"]["default"] == "cache"
    assert "required" not in schema


# -- Custom Hooks ----------------------------------------------------------------------------


@pytest.mark.usefixtures("page_names")
def test_custom_hooks_fire_by_themselves() -> None:
    AuditPlugin, _ = custom_hook_plugins()
    with pytest.warns(PluginWarning, match="built-in 'audit'"):
        default_registry.register("audit", AuditPlugin)

    class Post(BaseModel):
        class Meta:
            plugins = ["audit"]  # noqa: RUF012

    post = Post(name="hello")
    post.save()
    post.save()  # changes nothing: no after_change
    post.name = "bye"
    post.save()
    assert AuditLog.rows == [
        {"model": "Post", "instance_id": 1, "changes": {"id": (None, 1), "name": (None, "hello")}},
        {"model": "Post", "instance_id": 1, "changes": {"name": ("hello", "bye")}},
    ]
    with context(actor="ann"):
        Post.get(1)
    assert AccessLog.rows == [{"model": "Post", "instance_id": 1, "user": "ann"}]
    emit(post, "after_access", user="bob")  # still fired by hand too
    assert AccessLog.rows[-1]["user"] == "bob"
    text = explain(Post)
    assert "after_change: audit.log_change" in text
    assert "after_access: audit.log_access" in text


@pytest.mark.usefixtures("page_names")
def test_one_method_bound_to_several_hooks() -> None:
    _, ValidationPlugin = custom_hook_plugins()
    default_registry.register("validation", ValidationPlugin)
    assert default_registry.get_plugin("validation").hooks == ("before_save", "before_update")

    class Doc(BaseModel):
        class Meta:
            plugins = ["validation"]  # noqa: RUF012

        def is_valid(self) -> bool:
            return bool(self.name)

    store = BaseModel.__store__
    with pytest.raises(ValidationError):
        Doc(name="").save()
    assert store.rows(Doc) == []  # refused before anything was written

    doc = Doc(name="ok")
    doc.save()
    doc.update(name="still ok")
    doc.name = ""  # invalid now: the update is refused before it writes
    with pytest.raises(ValidationError):
        doc.update(deleted_at=None)
    assert [r["name"] for r in store.rows(Doc)] == ["still ok"]

    # On a model without update, before_update is an event, not an error.
    class Note(PluginModel):
        class Meta:
            plugins = ["validation"]  # noqa: RUF012

        def __init__(self, valid: bool) -> None:
            self.valid = valid

        def is_valid(self) -> bool:
            return self.valid

        def save(self) -> str:
            return "saved"

    assert Note(True).save() == "saved"
    with pytest.raises(ValidationError):
        emit(Note(False), "before_update")
    assert "before_update: validation.validate_data" in explain(Note)


# -- Plugin Management ------------------------------------------------------------------------


@pytest.mark.usefixtures("page_names")
def test_plugin_management(capsys: pytest.CaptureFixture[str]) -> None:
    TimestampPlugin, SoftDeletePlugin = basic_plugins()
    AuditPlugin, _ = custom_hook_plugins()

    # Register plugin
    registry = PluginRegistry()
    registry.register("audit", AuditPlugin)
    registry.register_many({"timestamp": TimestampPlugin, "softdelete": SoftDeletePlugin})

    # Get plugin info
    plugin = registry.get_plugin("audit")
    print(f"Name: {plugin.name}")
    print(f"Version: {plugin.version}")
    print(f"Hooks: {plugin.hooks}")

    # Enable/disable plugins
    registry.enable("audit")
    registry.disable("softdelete")

    assert capsys.readouterr().out.splitlines() == [
        "Name: audit",
        "Version: 0.1.0",
        "Hooks: ('after_change', 'after_access')",
    ]
    assert plugin.cls is AuditPlugin and plugin.source == "registered"
    assert registry.get_plugin("timestamp").hooks == ("before_save",)
    assert registry.get_plugin("softdelete").hooks == ("before_delete", "chain:get_queryset")
    assert registry.get_plugin("audit").enabled is True
    assert registry.get_plugin("softdelete").enabled is False
    assert {"audit", "timestamp", "softdelete"} <= set(registry.names())

    # A model on that registry: softdelete is off, so delete is real; on again, soft.
    page_registry = registry

    class User(BaseModel):
        class Meta:
            plugins = ["timestamp", "softdelete"]  # noqa: RUF012
            registry = page_registry

    ann, bob = User(name="ann"), User(name="bob")
    ann.save()
    bob.save()
    assert ann.delete() == 1
    assert [r["name"] for r in BaseModel.__store__.rows(User)] == ["bob"]
    assert "delete" not in vars(User)  # a disabled plugin costs nothing
    registry.enable("softdelete")
    assert bob.delete() is None
    assert [r["name"] for r in BaseModel.__store__.rows(User)] == ["bob"]
    assert [u.name for u in User.get_queryset()] == []


def test_a_base_plugin_with_a_name_registers_itself(default_names: list[str]) -> None:
    """What the page's ``BasePlugin`` adds: a subclass with ``name`` needs no register call."""

    class Stamp(BasePlugin):
        name = "seed_stamp_default"

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.name = "stamped"

    default_names.append("seed_stamp_default")
    assert default_registry.get_plugin("seed_stamp_default").cls is Stamp

    class Item(BaseModel):
        class Meta:
            plugins = ["seed_stamp_default"]  # noqa: RUF012

    item = Item()
    item.save()
    assert item.name == "stamped"
