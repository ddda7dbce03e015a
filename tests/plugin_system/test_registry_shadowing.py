"""Registering a plugin under a built-in's name: a warning once, silent with ``replace=True``.

The page's ``@plugin("timestamp")`` used to replace the built-in without a word;
the model then lost ``created_at``/``updated_at`` and its first query failed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from earnorm_aop import PluginRegistry, PluginWarning, plugin
from earnorm_aop.plugins.timestamp import TimestampPlugin as BuiltinTimestamp


@pytest.fixture
def reg() -> Iterator[PluginRegistry]:
    yield PluginRegistry()  # discovers the built-ins like the default registry


def _stamp() -> type:
    class TimestampPlugin:
        def before_save(self, instance: object) -> None:
            pass

    return TimestampPlugin


def test_registering_over_a_builtin_warns_naming_it_and_how_to_keep_both(
    reg: PluginRegistry,
) -> None:
    cls = _stamp()
    with pytest.warns(PluginWarning) as caught:
        reg.register("timestamp", cls)
    (warning,) = caught
    text = str(warning.message)
    assert "earnorm_aop.plugins.timestamp.TimestampPlugin" in text
    assert "another name" in text and "replace=True" in text
    assert warning.filename == __file__  # points at the user's line, not ours
    assert reg.spec("timestamp").cls is cls  # the registration still happens


def test_the_decorator_warns_at_the_users_line(reg: PluginRegistry) -> None:
    with pytest.warns(PluginWarning, match="'softdelete'") as caught:

        @plugin("softdelete", registry=reg)
        class SoftDeletePlugin:
            def before_delete(self, instance: object) -> None:
                pass

    assert caught[0].filename == __file__


def test_warned_once_per_name(reg: PluginRegistry) -> None:
    with pytest.warns(PluginWarning):
        reg.register("cache", _stamp())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.register("cache", _stamp(), replace=True)


def test_replace_true_is_silent_and_still_listed_as_shadowed(reg: PluginRegistry) -> None:
    cls = _stamp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.register("timestamp", cls, replace=True)
    builtin, by = reg.shadowed()["timestamp"]
    assert builtin == "earnorm_aop.plugins.timestamp.TimestampPlugin"
    assert by.endswith("TimestampPlugin") and by.startswith(__name__)


def test_the_builtin_itself_or_another_name_or_no_discovery_is_silent(
    reg: PluginRegistry,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.register("timestamp", BuiltinTimestamp)
        reg.register("my_timestamp", _stamp())
        PluginRegistry(group=None).register("timestamp", _stamp())
    assert reg.shadowed() == {}


def test_unregister_forgets_the_shadowing(reg: PluginRegistry) -> None:
    with pytest.warns(PluginWarning):
        reg.register("audit", _stamp())
    assert list(reg.shadowed()) == ["audit"]
    reg.unregister("audit")
    assert reg.shadowed() == {}
