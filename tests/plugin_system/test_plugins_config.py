"""Plugin configuration: nested ``Config`` or ``__init__``, errors, one instance per config."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from earnorm_aop import (
    BasePlugin,
    PluginConfigError,
    PluginModel,
    PluginRegistry,
    plugin,
    weave,
    with_plugins,
)


class Model:
    def save(self) -> str:
        return "saved"


@pytest.fixture
def counted(reg: PluginRegistry) -> list[dict[str, Any]]:
    """Plugin ``counted`` (``__init__(ttl: int = 60, prefix: str = "c")``) logging each __init__."""
    inits: list[dict[str, Any]] = []

    @plugin("counted", registry=reg)
    class Counted:
        def __init__(self, ttl: int = 60, prefix: str = "c") -> None:
            inits.append({"ttl": ttl, "prefix": prefix})
            self.ttl = ttl

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.ttl_seen = self.ttl

    return inits


# --------------------------------------------------------------------------
# nested Config
# --------------------------------------------------------------------------


def test_nested_config_is_validated_into_self_config(reg: PluginRegistry) -> None:
    seen_in_init: list[Any] = []

    class Cache(BasePlugin):
        class Config(BaseModel):
            ttl: int = Field(3600, ge=0)
            prefix: str = "cache"

        def __init__(self) -> None:
            seen_in_init.append(self.config)

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.seen = (self.config.ttl, self.config.prefix)

    reg.register("cache", Cache)

    @with_plugins(cache={"ttl": "1800"}, registry=reg)  # lax pydantic: "1800" -> 1800
    class M(Model):
        pass

    m = M()
    m.save()
    assert m.seen == (1800, "cache")
    assert isinstance(seen_in_init[0], Cache.Config)
    assert seen_in_init[0].ttl == 1800

    schema = reg.get_plugin("cache").config_schema
    assert schema["properties"]["ttl"]["minimum"] == 0
    assert schema["properties"]["prefix"]["default"] == "cache"

    with pytest.raises(PluginConfigError) as info:

        @with_plugins(cache={"ttl": -1}, registry=reg)
        class N(Model):
            pass

    message = str(info.value)
    assert "plugin 'cache'" in message and "N:" in message and "option 'ttl'" in message
    assert "-1" in message


# --------------------------------------------------------------------------
# __init__ signature
# --------------------------------------------------------------------------


def test_init_annotations_and_defaults_make_the_schema(reg: PluginRegistry) -> None:
    @plugin("typed", registry=reg)
    class Typed:
        def __init__(self, ttl: int, prefix: str = "p", anything=None) -> None:  # type: ignore[no-untyped-def]
            pass

        def before_save(self) -> None:
            pass

    schema = reg.get_plugin("typed").config_schema
    assert schema["properties"]["ttl"]["type"] == "integer"
    assert schema["properties"]["prefix"] == {"default": "p", "title": "Prefix", "type": "string"}
    assert "type" not in schema["properties"]["anything"]  # unannotated: any value
    assert schema["required"] == ["ttl"]
    assert schema["additionalProperties"] is False


def test_unannotated_parameters_accept_any_value(reg: PluginRegistry) -> None:
    got: list[Any] = []

    @plugin("loose", registry=reg)
    class Loose:
        def __init__(self, backend=None, **options):  # type: ignore[no-untyped-def]
            got.append((backend, options))

        def before_save(self) -> None:
            pass

    marker = object()

    @with_plugins(loose={"backend": marker, "extra": [1, 2]}, registry=reg)
    class M(Model):
        pass

    assert got == [(marker, {"extra": [1, 2]})]


def test_unknown_key_names_plugin_model_and_field(reg: PluginRegistry, counted: Any) -> None:
    with pytest.raises(PluginConfigError) as info:

        class User(PluginModel):
            class Meta:
                plugins = {"counted": {"tll": 5}}  # noqa: RUF012
                registry = reg

            def save(self) -> None:
                pass

    message = str(info.value)
    assert message.startswith("plugin 'counted' on ")
    assert "User:" in message
    assert "unknown option 'tll'" in message
    assert "Known options: ttl, prefix" in message
    assert counted == []  # nothing was created


def test_wrong_type_names_plugin_model_and_field(reg: PluginRegistry, counted: Any) -> None:
    class Order(Model):
        pass

    with pytest.raises(PluginConfigError) as info:
        with_plugins(counted={"ttl": "soon"}, registry=reg)(Order)

    message = str(info.value)
    assert "plugin 'counted'" in message and "Order:" in message
    assert "option 'ttl'" in message and "'soon'" in message
    assert "save" not in vars(Order)


def test_missing_required_option(reg: PluginRegistry) -> None:
    @plugin("needs", registry=reg)
    class Needs:
        def __init__(self, url: str) -> None:
            self.url = url

        def before_save(self) -> None:
            pass

    with pytest.raises(PluginConfigError, match=r"'needs' on \S*M: option 'url' is required"):

        @with_plugins("needs", registry=reg)
        class M(Model):
            pass


def test_bad_config_on_runtime_weave(reg: PluginRegistry, counted: Any) -> None:
    class M(Model):
        pass

    with pytest.raises(PluginConfigError, match="unknown option 'colour'"):
        weave(M, "counted", registry=reg, colour="red")
    assert "save" not in vars(M)


# --------------------------------------------------------------------------
# one instance per (model, configuration)
# --------------------------------------------------------------------------


def test_plugin_instance_created_once_per_model_and_configuration(
    reg: PluginRegistry, counted: list[dict[str, Any]]
) -> None:
    class A(Model):
        pass

    class B(Model):
        pass

    weave(A, "counted", registry=reg, ttl=5)
    assert len(counted) == 1
    weave(A, "counted", registry=reg, ttl=5)  # same model, same configuration
    weave(A, "counted", registry=reg, ttl="5")  # validates to the same configuration
    assert len(counted) == 1
    a = A()
    for _ in range(3):
        a.save()
    assert len(counted) == 1 and a.ttl_seen == 5

    weave(B, "counted", registry=reg, ttl=5)  # another model: its own instance
    assert len(counted) == 2
    weave(A, "counted", registry=reg, ttl=9)  # another configuration: a new instance
    assert len(counted) == 3
    a.save()
    assert a.ttl_seen == 9
    weave(A, "counted", registry=reg, ttl=5)  # back to the first one: reused
    assert len(counted) == 3
    a.save()
    assert a.ttl_seen == 5


def test_subclasses_share_the_parent_instance(
    reg: PluginRegistry, counted: list[dict[str, Any]]
) -> None:
    class Parent(PluginModel):
        class Meta:
            plugins = {"counted": {"ttl": 7}}  # noqa: RUF012
            registry = reg

        def save(self) -> None:
            pass

    class Child(Parent):
        pass

    class Other(Parent):
        class Meta:
            plugins = {"counted": {"ttl": 8}}  # noqa: RUF012

    child, other = Child(), Other()
    child.save()
    other.save()
    assert (child.ttl_seen, other.ttl_seen) == (7, 8)
    assert counted == [{"ttl": 7, "prefix": "c"}, {"ttl": 8, "prefix": "c"}]


class _Backend:
    pass


def test_one_unresolvable_annotation_keeps_the_others_validated(reg: PluginRegistry) -> None:
    class LocalBackend:  # a local name: the string annotation below cannot be resolved
        pass

    @plugin("partly", registry=reg)
    class Partly:
        def __init__(
            self, ttl: int = 60, backend: LocalBackend | None = None, other: _Backend | None = None
        ) -> None:
            self.backend = backend

        def before_save(self) -> None:
            pass

    class M(Model):
        pass

    with pytest.raises(PluginConfigError, match=r"option 'ttl'.*'soon'"):
        weave(M, "partly", registry=reg, ttl="soon")
    with pytest.raises(PluginConfigError, match=r"option 'other'"):
        weave(M, "partly", registry=reg, other="not a backend")
    backend = LocalBackend()
    weave(M, "partly", registry=reg, backend=backend)  # unresolvable: any value
    assert reg.get_plugin("partly").config_schema["properties"]["ttl"]["type"] == "integer"


def test_config_schema_with_an_option_of_an_arbitrary_class(reg: PluginRegistry) -> None:
    @plugin("clienty", registry=reg)
    class Clienty:
        def __init__(self, client: _Backend | None = None, ttl: int = 5) -> None:
            self.client = client

        def before_save(self) -> None:
            pass

    schema = reg.get_plugin("clienty").config_schema  # JSON Schema cannot say "a _Backend"
    assert schema["properties"]["client"]["anyOf"] == [{}, {"type": "null"}]
    assert schema["properties"]["ttl"] == {"default": 5, "title": "Ttl", "type": "integer"}

    class M(Model):
        pass

    with pytest.raises(PluginConfigError, match=r"option 'client'"):
        weave(M, "clienty", registry=reg, client="not a backend")


def test_nested_config_refuses_an_unknown_option(reg: PluginRegistry) -> None:
    """pydantic ignores unknown keys by default; a misspelt option must fail at weave time."""

    class Cache(BasePlugin):
        class Config(BaseModel):
            ttl: int = 60

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.ttl = self.config.ttl

    reg.register("cache", Cache)
    with pytest.raises(PluginConfigError, match=r"unknown option 'tl'.*Known options: ttl"):

        @with_plugins(cache={"tl": 3}, registry=reg)
        class M(Model):
            pass

    # The plugin's own model is still what the user wrote (name, docs, isinstance).
    info = reg.get_plugin("cache")
    assert info.config_schema["title"] == "Config"


def test_nested_config_that_chooses_extra_keeps_its_choice(reg: PluginRegistry) -> None:
    class Loose(BasePlugin):
        class Config(BaseModel):
            model_config = ConfigDict(extra="allow")
            ttl: int = 60

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.extra = dict(self.config.model_extra or {})

    reg.register("loose", Loose)

    @with_plugins(loose={"colour": "red"}, registry=reg)
    class M(Model):
        pass

    m = M()
    m.save()
    assert m.extra == {"colour": "red"}
