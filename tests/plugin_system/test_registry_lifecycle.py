"""A plugin's life in a registry, and the models it is woven onto (issue 24).

Unregistering a plugin forgets its name for new declarations; models already
woven keep running it, and it stays manageable by name there (``disable``,
``enable``, ``disabled``, ``unweave``, ``metrics``, ``health``) until it is
unwoven from the last of them.  Weaving again after ``register(...,
replace=True)``, or with a configuration that contributes other methods,
leaves only the methods the plugin now contributes.
"""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import PluginNotFoundError, PluginRegistry, unweave, weave, with_plugins


def _stamp(registry: PluginRegistry) -> type:
    class Stamp:
        def before_save(self, instance: Any) -> None:
            instance.stamped = True

    registry.register("stamp", Stamp)
    return Stamp


def _memo(registry: PluginRegistry) -> type:
    @with_plugins("stamp", registry=registry)
    class Memo:
        stamped = False

        def save(self) -> None:
            pass

    return Memo


def test_an_unregistered_plugin_still_woven_stays_manageable() -> None:
    registry = PluginRegistry(group=None)
    _stamp(registry)
    Memo = _memo(registry)
    registry.unregister("stamp")
    memo = Memo()
    memo.save()
    assert memo.stamped  # still woven: still runs (as documented)
    assert "stamp" not in registry.names()
    with pytest.raises(PluginNotFoundError):
        with_plugins("stamp", registry=registry)(type("Other", (), {"save": lambda self: None}))

    registry.disable("stamp")
    off = Memo()
    off.save()
    assert not off.stamped
    registry.enable("stamp")
    with registry.disabled("stamp"):
        Memo().save()
    assert registry.metrics("stamp")["models"] == [Memo.__qualname__]
    assert "stamp" in registry.health()["plugins"]

    unweave(Memo, "stamp", registry=registry)
    gone = Memo()
    gone.save()
    assert not gone.stamped
    # Unwoven from its last model: now it is unknown everywhere.
    assert "stamp" not in registry.health()["plugins"]
    with pytest.raises(PluginNotFoundError):
        registry.disable("stamp")
    with pytest.raises(PluginNotFoundError):
        unweave(Memo, "stamp", registry=registry)


def test_unregistering_an_unknown_name_still_raises() -> None:
    registry = PluginRegistry(group=None)
    with pytest.raises(PluginNotFoundError):
        registry.unregister("nothing")


def _contributing(registry: PluginRegistry, method: str, *, replace: bool = False) -> type:
    class Contributes:
        def before_save(self) -> None:
            pass

        def model_methods(self) -> dict[str, Any]:
            return {method: lambda instance: method}

    registry.register("extra", Contributes, replace=replace)
    return Contributes


def test_reweaving_after_replace_removes_the_methods_the_old_class_contributed() -> None:
    registry = PluginRegistry(group=None)
    _contributing(registry, "archive")

    class Memo:
        def save(self) -> None:
            pass

    weave(Memo, "extra", registry=registry)
    assert Memo().archive() == "archive"  # type: ignore[attr-defined]
    _contributing(registry, "publish", replace=True)
    weave(Memo, "extra", registry=registry)
    assert Memo().publish() == "publish"  # type: ignore[attr-defined]
    assert "archive" not in vars(Memo) and not hasattr(Memo, "archive")
    unweave(Memo, "extra", registry=registry)
    assert "publish" not in vars(Memo)


def test_reweaving_with_a_configuration_that_renames_a_method_removes_the_old_name() -> None:
    registry = PluginRegistry(group=None)

    class Named:
        def __init__(self, method: str = "archive") -> None:
            self.method = method

        def before_save(self) -> None:
            pass

        def model_methods(self) -> dict[str, Any]:
            return {self.method: lambda instance: self.method}

    registry.register("named", Named)

    @with_plugins("named", registry=registry)
    class Memo:
        def save(self) -> None:
            pass

    assert Memo().archive() == "archive"  # type: ignore[attr-defined]
    weave(Memo, "named", registry=registry, method="shelve")
    assert Memo().shelve() == "shelve"  # type: ignore[attr-defined]
    assert not hasattr(Memo, "archive")
    weave(Memo, "named", registry=registry, method="archive")
    assert Memo().archive() == "archive"  # type: ignore[attr-defined]
    assert not hasattr(Memo, "shelve")


def test_a_models_own_method_of_that_name_is_never_removed() -> None:
    registry = PluginRegistry(group=None)
    _contributing(registry, "archive")

    class Memo:
        def archive(self) -> str:
            return "own"

    weave(Memo, "extra", registry=registry)
    _contributing(registry, "publish", replace=True)
    weave(Memo, "extra", registry=registry)
    assert Memo().archive() == "own"
