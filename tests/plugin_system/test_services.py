"""Services the plugin layer weaves by itself are found by role, not by a plugin's name."""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins
from earnorm_aop.errors import PluginError
from earnorm_aop.plugin_system import services
from earnorm_aop.plugin_system.registry import registry as default_registry
from earnorm_aop.plugins.changes import ChangesPlugin
from earnorm_aop.plugins.lifecycle import LifecyclePlugin
from earnorm_aop.weaving import weaver


def _names(model: type) -> set[str]:
    return {a.name for a in weaver.effective_aspects(model)}


def _conditional(reg: PluginRegistry) -> None:
    @plugin("publish", registry=reg)
    class Publish:
        @hook("after:save", when="status", has_changed=True)
        def published(self, instance: Any) -> None:
            pass


def test_the_built_ins_serve_tracking_and_the_lifecycle_events() -> None:
    assert default_registry.serving(services.TRACKING) == ChangesPlugin.name
    assert default_registry.serving(services.LIFECYCLE_EVENTS) == LifecyclePlugin.name
    assert default_registry.serving("nothing serves this") is None


def test_a_plugin_serving_tracking_under_its_own_name_is_the_one_woven() -> None:
    reg = PluginRegistry(group=None)
    _conditional(reg)

    class MyTracking(ChangesPlugin):
        name = "my_tracking"

    reg.register("my_tracking", MyTracking)

    @with_plugins("publish", registry=reg)
    class Note:
        status: str = "draft"

        def save(self) -> None:
            pass

    assert _names(Note) == {"publish", "my_tracking"}


def test_an_isolated_registry_gets_the_built_in_service() -> None:
    reg = PluginRegistry(group=None)
    _conditional(reg)

    @with_plugins("publish", registry=reg)
    class Note:
        status: str = "draft"

        def save(self) -> None:
            pass

    assert _names(Note) == {"publish", ChangesPlugin.name}


def test_a_listener_gets_both_services_and_nothing_else_does() -> None:
    reg = PluginRegistry(group=None)

    @plugin("listener", registry=reg)
    class Listener:
        @hook("after_change")
        def heard(self, instance: Any, changes: dict[str, Any]) -> None:
            pass

    @plugin("plain", registry=reg)
    class Plain:
        @hook("after:save")
        def saved(self, instance: Any) -> None:
            pass

    @with_plugins("listener", registry=reg)
    class Heard:
        def save(self) -> None:
            pass

    @with_plugins("plain", registry=reg)
    class Quiet:
        def save(self) -> None:
            pass

    assert _names(Heard) == {"listener", LifecyclePlugin.name, ChangesPlugin.name}
    assert _names(Quiet) == {"plain"}


def test_no_plugin_serving_a_needed_role_says_what_to_register(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = PluginRegistry(group=None)
    _conditional(reg)
    monkeypatch.setattr(default_registry, "serving", lambda role: None)
    with pytest.raises(PluginError, match="'serves' attribute is 'tracking'") as info:

        @with_plugins("publish", registry=reg)
        class Note:
            status: str = "draft"

            def save(self) -> None:
                pass

    assert "needs a plugin serving 'tracking'" in str(info.value)
