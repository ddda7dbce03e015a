"""Versioned configuration: ``config_version`` and ``config_upgrades`` on a plugin.

An older configuration is upgraded step by step with one warning naming both
versions, wherever it comes from (``with_plugins``, ``Meta``, a settings file,
a shared switchboard); a newer one is an error; a broken chain of upgrades
fails when the plugin is registered.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from earnorm_aop import (
    PluginConfigError,
    PluginConfigWarning,
    PluginError,
    PluginModel,
    PluginRegistry,
    Switchboard,
    with_plugins,
)
from earnorm_aop.runtime.switchboard import SharedConfig, model_path
from earnorm_aop.weaving import weaver


class Slugger:
    """Version 1 named the source ``from_field``; version 2 renamed it ``source``;
    version 3 added ``separator`` (version 2's slugs were joined with ``_``)."""

    config_version = 3
    config_upgrades: ClassVar[dict[int, Any]] = {
        1: lambda old: {"source": old.pop("from_field"), **old},
        2: lambda old: {**old, "separator": "_"},
    }

    class Config(BaseModel):
        source: str = "title"
        separator: str = "-"

    def before_save(self, instance: Any) -> None:
        instance.slug = self.config.separator.join(getattr(instance, self.config.source).split())


@pytest.fixture
def reg() -> Iterator[PluginRegistry]:
    reg = PluginRegistry(group=None)
    reg.register("slugger", Slugger)
    yield reg


def _config(model: type) -> Any:
    (aspect,) = [a for a in weaver.effective_aspects(model) if a.name == "slugger"]
    return aspect.plugin.config


def _model(reg: PluginRegistry, **config: Any) -> type:
    class Post:
        title = "hello big world"
        name = "a b"

        def save(self) -> None:
            pass

    return with_plugins("slugger", registry=reg, slugger=config)(Post)


def test_an_older_configuration_is_upgraded_with_one_warning_naming_both_versions(
    reg: PluginRegistry,
) -> None:
    with pytest.warns(PluginConfigWarning) as caught:
        Post = _model(reg, config_version=1, from_field="name")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "plugin 'slugger' on " in message
    assert "configuration version 1 upgraded to version 3" in message
    assert "{'source': 'name', 'separator': '_'}" in message  # what to write instead
    assert _config(Post).model_dump() == {"source": "name", "separator": "_"}
    post = Post()
    post.save()
    assert post.slug == "a_b"  # type: ignore[attr-defined]


def test_the_current_version_or_none_is_taken_as_it_is(reg: PluginRegistry) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stated = _model(reg, config_version=3, source="name")
        unstated = _model(reg, source="name")
    assert _config(stated).model_dump() == _config(unstated).model_dump()
    assert _config(stated).separator == "-"


def test_a_newer_configuration_than_the_plugin_knows_is_an_error(reg: PluginRegistry) -> None:
    with pytest.raises(
        PluginConfigError, match=r"version 4, newer than this plugin knows \(version 3\)"
    ):
        _model(reg, config_version=4, source="name")
    with pytest.raises(PluginConfigError, match="config_version must be a positive int"):
        _model(reg, config_version="2")


def test_an_upgrade_that_fails_names_the_step(reg: PluginRegistry) -> None:
    with pytest.raises(PluginConfigError, match=r"from version 1 to 2 failed: KeyError"):
        _model(reg, config_version=1, source="name")  # version 1 had from_field


def test_meta_and_a_settings_file_are_upgraded_too(reg: PluginRegistry) -> None:
    settings_file = '{"slugger": {"config_version": 2, "source": "name"}}'
    with pytest.warns(PluginConfigWarning, match="version 2 upgraded to version 3"):
        Post = _model(reg, **json.loads(settings_file)["slugger"])
    assert _config(Post).separator == "_"

    with pytest.warns(PluginConfigWarning, match="version 1 upgraded to version 3"):

        class Page(PluginModel):
            title = "x y"

            class Meta:
                plugins: ClassVar[dict[str, Any]] = {
                    "slugger": {"config_version": 1, "from_field": "title"}
                }
                registry = reg

            def save(self) -> None:
                pass

    assert _config(Page).model_dump() == {"source": "title", "separator": "_"}


class _Board(Switchboard):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[dict[str, Any]] = []

    def publish(self, name: str, enabled: bool, *, origin: str) -> None:
        pass

    def publish_config(self, name: str, model: str, config: dict[str, Any]) -> None:
        self.published.append(config)


def test_the_switchboard_shares_the_current_version_and_upgrades_what_it_receives(
    reg: PluginRegistry,
) -> None:
    Post = _model(reg)
    board = reg.share(_Board())
    try:
        with pytest.warns(PluginConfigWarning, match="version 1 upgraded to version 3"):
            board.reconfigure(Post, "slugger", config_version=1, from_field="name")
        assert board.published == [{"source": "name", "separator": "_", "config_version": 3}]
        assert _config(Post).source == "name"
        # From a process with the plugin's version 2:
        shared = SharedConfig(
            "slugger", model_path(Post), {"config_version": 2, "source": "title"}, 9
        )
        with pytest.warns(PluginConfigWarning, match="version 2 upgraded to version 3"):
            assert board.apply_config(shared)
        assert _config(Post).model_dump() == {"source": "title", "separator": "_"}
    finally:
        reg.unshare()


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"config_version": 0}, "config_version must be a positive int"),
        ({"config_version": 2, "config_upgrades": {2: dict}}, "key 2 is not a version before"),
        ({"config_version": 3, "config_upgrades": {1: dict}}, "no upgrade from version 2"),
        ({"config_version": 2, "config_upgrades": {1: "rename"}}, r"config_upgrades\[1\] must be"),
        ({"config_version": 2, "config_upgrades": [dict]}, "config_upgrades must map"),
    ],
)
def test_a_broken_chain_of_upgrades_fails_at_registration(
    attrs: dict[str, Any], message: str
) -> None:
    cls = type("Broken", (), {"before_save": lambda self, instance: None, **attrs})
    with pytest.raises(PluginError, match=message):
        PluginRegistry(group=None).register("broken", cls)


@settings(max_examples=30, deadline=None)
@given(start=st.integers(1, 5), values=st.dictionaries(st.sampled_from("abc"), st.integers()))
def test_every_older_version_reaches_the_current_one_through_each_step(
    start: int, values: dict[str, int]
) -> None:
    from earnorm_aop.plugin_system.versioning import upgrade_config

    steps = {v: (lambda old, v=v: {**old, f"step{v}": True}) for v in range(1, 5)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = upgrade_config("p", "M", 5, steps, {**values, "config_version": start})
    assert out == {**values, **{f"step{v}": True for v in range(start, 5)}}
    assert len(caught) == (start < 5)
