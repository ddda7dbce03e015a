"""Registration: ``@plugin``, ``BasePlugin`` auto-registration, every error with its message."""

from __future__ import annotations

import abc
from typing import Any

import pytest

from earnorm_aop import (
    BasePlugin,
    DuplicatePluginError,
    PluginError,
    PluginModel,
    PluginNotFoundError,
    PluginRegistry,
    plugin,
)
from earnorm_aop import registry as default_registry


class Cache:
    def before_save(self) -> None:
        pass


class OtherCache:
    def after_get(self) -> None:
        pass


# --------------------------------------------------------------------------
# PluginNotFoundError
# --------------------------------------------------------------------------


def test_not_found_lists_known_names_and_suggests_the_closest(reg: PluginRegistry) -> None:
    reg.register_many({"cache": Cache, "audit": OtherCache, "timestamp": Cache})
    with pytest.raises(PluginNotFoundError) as info:
        reg.get_plugin("cahce")
    err = info.value
    assert str(err) == (
        "no plugin named 'cahce'; did you mean 'cache'? Known plugins: audit, cache, timestamp."
    )
    assert err.name == "cahce"
    assert err.known == ["audit", "cache", "timestamp"]
    assert isinstance(err, LookupError) and isinstance(err, PluginError)


def test_not_found_without_a_close_name(reg: PluginRegistry) -> None:
    reg.register("cache", Cache)
    with pytest.raises(PluginNotFoundError) as info:
        reg.get_plugin("zebra")
    assert "did you mean" not in str(info.value)
    assert str(info.value) == "no plugin named 'zebra'. Known plugins: cache."


def test_not_found_in_an_empty_registry(reg: PluginRegistry) -> None:
    with pytest.raises(PluginNotFoundError, match=r"Known plugins: \(none\)\."):
        reg.get_plugin("cache")
    with pytest.raises(PluginNotFoundError, match="registered explicitly"):
        reg.unregister("cache")


# --------------------------------------------------------------------------
# DuplicatePluginError
# --------------------------------------------------------------------------


def test_a_second_class_under_a_taken_name(reg: PluginRegistry) -> None:
    reg.register("cache", Cache)
    with pytest.raises(DuplicatePluginError) as info:
        reg.register("cache", OtherCache)
    message = str(info.value)
    assert "plugin 'cache' is already registered as" in message
    assert f"{__name__}.Cache" in message
    assert "replace=True" in message and "OtherCache" in message
    assert reg.get_plugin("cache").cls is Cache  # unchanged


def test_replace_true_and_the_same_class_again(reg: PluginRegistry) -> None:
    reg.register("cache", Cache)
    reg.register("cache", Cache)  # the same class again: fine
    reg.register("cache", OtherCache, replace=True)
    assert reg.get_plugin("cache").cls is OtherCache
    assert reg.get_plugin("cache").hooks == ("after_get",)
    with pytest.raises(DuplicatePluginError):
        reg.register_many({"audit": Cache, "cache": Cache})
    reg.register_many({"cache": Cache}, replace=True)
    assert reg.get_plugin("cache").cls is Cache


def test_plugin_decorator_twice_under_one_name(reg: PluginRegistry) -> None:
    @plugin("dup", registry=reg)
    class First:
        def before_save(self) -> None:
            pass

    with pytest.raises(DuplicatePluginError, match="plugin 'dup' is already registered"):

        @plugin("dup", registry=reg)
        class Second:
            def before_save(self) -> None:
                pass

    assert reg.get_plugin("dup").cls is First

    class Refused:
        version = "2.0"

        def before_save(self) -> None:
            pass

    with pytest.raises(DuplicatePluginError):
        plugin("dup", version="9.9", priority=5, registry=reg)(Refused)
    # A refused registration leaves the class as it was.
    assert Refused.version == "2.0"
    assert "name" not in vars(Refused) and "priority" not in vars(Refused)

    @plugin("dup", registry=reg, replace=True)
    class Third:
        def before_save(self) -> None:
            pass

    assert reg.get_plugin("dup").cls is Third


def test_unregister_then_register_again(reg: PluginRegistry) -> None:
    reg.register("cache", Cache)
    reg.unregister("cache")
    assert "cache" not in reg
    with pytest.raises(PluginNotFoundError):
        reg.get_plugin("cache")
    reg.register("cache", OtherCache)
    assert reg.get_plugin("cache").cls is OtherCache


# --------------------------------------------------------------------------
# not a plugin
# --------------------------------------------------------------------------


def test_a_non_class_is_not_a_plugin(reg: PluginRegistry) -> None:
    def before_save() -> None:
        pass

    with pytest.raises(PluginError, match=r"plugin 'fn' must be a class .* not function"):
        reg.register("fn", before_save)  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="must be a class"):
        reg.register("obj", Cache())  # type: ignore[arg-type]
    assert "fn" not in reg and "obj" not in reg


def test_a_class_without_hooks_is_not_a_plugin(reg: PluginRegistry) -> None:
    class Empty:
        name = "x"
        version = "1.0"

        def _private(self) -> None:
            pass

    with pytest.raises(PluginError) as info:
        reg.register("empty", Empty)
    message = str(info.value)
    assert "Empty registered as plugin 'empty' has no hooks" in message
    assert "before_save" in message
    with pytest.raises(PluginError, match="has no hooks"):

        @plugin("empty", registry=reg)
        class AlsoEmpty:
            pass


def test_bad_plugin_options(reg: PluginRegistry) -> None:
    with pytest.raises(PluginError, match="must be an identifier"):
        reg.register("not a name", Cache)
    with pytest.raises(PluginError, match="on_error must be 'raise', 'log' or 'disable'"):
        plugin("p", registry=reg, on_error="ignore")(type("P", (Cache,), {}))  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="max_failures must be a positive int"):
        plugin("p", registry=reg, max_failures=0)(type("P", (Cache,), {}))
    with pytest.raises(PluginError, match="priority must be an int"):
        plugin("p", registry=reg, priority="high")(type("P", (Cache,), {}))  # type: ignore[arg-type]
    assert "p" not in reg


# --------------------------------------------------------------------------
# @plugin metadata and BasePlugin auto-registration
# --------------------------------------------------------------------------


def test_plugin_decorator_metadata_reaches_plugin_info(reg: PluginRegistry) -> None:
    @plugin(
        "meta",
        version="2.1.0",
        requires=["cache"],
        priority=3,
        description="Says things.",
        registry=reg,
    )
    class Meta:
        def before_save(self) -> None:
            pass

    info = reg.get_plugin("meta")
    assert (info.name, info.version, info.priority) == ("meta", "2.1.0", 3)
    assert info.requires == {"cache": ""}
    assert info.description == "Says things."
    assert info.enabled is True and info.source == "registered"
    assert info.config_schema["type"] == "object"
    assert Meta.name == "meta"  # type: ignore[attr-defined]


def test_description_defaults_to_the_docstring(reg: PluginRegistry) -> None:
    @plugin("doc", registry=reg)
    class Doc:
        """Stamps rows."""

        def before_save(self) -> None:
            pass

    assert reg.get_plugin("doc").description == "Stamps rows."


def test_base_plugin_registers_named_concrete_subclasses(reg: PluginRegistry) -> None:
    class Named(BasePlugin):
        name = "named"
        registry = reg
        version = "3.0"

        def before_save(self) -> None:
            pass

    class Unnamed(BasePlugin):
        registry = reg

        def before_save(self) -> None:
            pass

    class Abstract(BasePlugin):
        name = "abstract"
        abstract = True
        registry = reg

        def before_save(self) -> None:
            pass

    class AbcAbstract(BasePlugin, metaclass=abc.ABCMeta):
        name = "abc_abstract"
        registry = reg

        @abc.abstractmethod
        def before_save(self) -> None: ...

    class Concrete(AbcAbstract):
        name = "concrete"

        def before_save(self) -> None:
            pass

    class Inherits(Named):  # inherits name but does not set its own: not registered again
        pass

    assert reg.names() == ["concrete", "named"]
    assert reg.get_plugin("named").cls is Named
    assert reg.get_plugin("named").version == "3.0"
    assert reg.get_plugin("concrete").cls is Concrete
    assert Inherits.name == "named"  # type: ignore[comparison-overlap]


def test_base_plugin_duplicate_name_fails_at_class_definition(reg: PluginRegistry) -> None:
    class One(BasePlugin):
        name = "same"
        registry = reg

        def before_save(self) -> None:
            pass

    with pytest.raises(DuplicatePluginError, match="plugin 'same' is already registered"):

        class Two(BasePlugin):
            name = "same"
            registry = reg

            def before_save(self) -> None:
                pass


def test_base_plugin_without_hooks_fails_at_class_definition(reg: PluginRegistry) -> None:
    with pytest.raises(PluginError, match="has no hooks"):

        class Hookless(BasePlugin):
            name = "hookless"
            registry = reg


def test_default_registry_with_unique_names(default_names: list[str]) -> None:
    @plugin("errors_default_one")
    class One:
        def before_save(self) -> None:
            pass

    default_names.append("errors_default_one")
    assert default_registry.get_plugin("errors_default_one").cls is One
    assert "errors_default_one" in default_registry
    with pytest.raises(PluginNotFoundError, match="did you mean 'errors_default_one'"):
        default_registry.get_plugin("errors_default_onr")
    with pytest.raises(DuplicatePluginError):

        @plugin("errors_default_one")
        class Two:
            def before_save(self) -> None:
                pass


def test_plugin_info_hooks_list_every_declaration(reg: PluginRegistry) -> None:
    from earnorm_aop import hook

    @plugin("many", registry=reg)
    class Many:
        def before_save(self) -> None:
            pass

        @hook(["around:get|save", "after_change"])
        def both(self, proceed: Any = None) -> None:
            pass

    assert reg.get_plugin("many").hooks == ("before_save", "around:get|save", "after_change")


# --------------------------------------------------------------------------
# a nameless BasePlugin subclass that a model names
# --------------------------------------------------------------------------


def test_a_nameless_base_plugin_named_by_a_model_says_why_it_is_not_registered(
    reg: PluginRegistry,
) -> None:
    reg_ = reg

    class AuditingPlugin(BasePlugin):
        def before_save(self, instance):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(PluginNotFoundError) as info:

        class Post(PluginModel):
            class Meta:
                plugins = ["auditing"]  # noqa: RUF012
                registry = reg_

            def save(self) -> None:
                pass

    message = str(info.value)
    assert (
        f"class {AuditingPlugin.__qualname__}(BasePlugin) in module {__name__} has no `name`, "
        "so it was not registered; set name = 'auditing' in its class body, or register it "
        "with registry.register('auditing', AuditingPlugin)"
    ) in message
    assert info.value.hint and ".Post)" in message

    # registered in another registry: says so
    other = PluginRegistry(group=None)
    other.register("auditing", AuditingPlugin)
    with pytest.raises(PluginNotFoundError, match="in another registry"):
        reg.spec("auditing")
    # registered here under another name: names it
    reg.register("audit_log", AuditingPlugin)
    with pytest.raises(PluginNotFoundError, match="is registered as 'audit_log'; use that name"):
        reg.spec("auditing")
    # a name that no such class matches gets the usual suggestions only
    with pytest.raises(PluginNotFoundError) as info:
        reg.spec("audti_log")
    assert info.value.hint == "" and "did you mean 'audit_log'" in str(info.value)


def test_an_abstract_nameless_base_plugin_is_no_hint(reg: PluginRegistry) -> None:
    class BaseAuditPlugin(BasePlugin):
        abstract = True

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(PluginNotFoundError) as info:
        reg.spec("baseaudit")
    assert info.value.hint == ""
