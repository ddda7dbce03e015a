"""The engine's extension points: declared in one module, installed by one call.

Nothing changes the engine by being imported: importing every module of the
package leaves the record in force as the package's ``__init__`` installed it;
the record is frozen, swapped whole (``installed_as``), and rejects a name
that would shadow a reserved one.  A per-model constant (``constants``) is
decided at weave time, once per woven method, and reaches the advice as it is.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import pytest
from _subprocess import run_json

from earnorm_aop import PluginRegistry, hook, plugin, unweave, with_plugins
from earnorm_aop.weaving import extensions

_IMPORT_ALL = """
import dataclasses, importlib, json, pkgutil
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                    "django.contrib.admin", "earnorm_aop.integrations.django"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()
import earnorm_aop
from earnorm_aop.weaving import extensions

before = extensions.installed()
points = {f.name: getattr(before, f.name) for f in dataclasses.fields(before)}
imported, failed = [], {}
for info in pkgutil.walk_packages(earnorm_aop.__path__, "earnorm_aop."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
        imported.append(info.name)
    except ImportError as exc:  # an extra not installed here (EarnORM needs Python 3.12)
        failed[info.name] = str(exc)
after = extensions.installed()
print(json.dumps({
    "same": after is before,
    "changed": [n for n, v in points.items() if getattr(after, n) is not v],
    "imported": imported,
    "failed": failed,
}))
"""


def test_importing_every_module_leaves_the_extension_points_as_installed() -> None:
    seen = run_json([sys.executable, "-c", _IMPORT_ALL])
    assert seen["same"] is True
    assert seen["changed"] == []
    assert "earnorm_aop.integrations.sqlalchemy.adapter" in seen["imported"]
    assert "earnorm_aop.integrations.django.adapter" in seen["imported"]
    assert all("earnorm" in name.split(".")[2:3] for name in seen["failed"]), seen["failed"]


def test_the_record_is_frozen_and_swapped_whole() -> None:
    record = extensions.installed()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.scheduler = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.injectables["x"] = lambda: 1  # type: ignore[index]
    seen: list[Any] = []
    with extensions.installed_as(on_subclass=(seen.append,)) as swapped:
        assert extensions.installed() is swapped
        assert swapped.scheduler is record.scheduler  # the other points as they were
    assert extensions.installed() is record


@pytest.mark.parametrize("name", ["instance", "result", "not an identifier"])
def test_an_injectable_may_not_take_a_reserved_name(name: str) -> None:
    with pytest.raises(ValueError, match="needs a new identifier"):
        extensions.Extensions(injectables={name: lambda: 1})


def test_a_name_is_either_an_injectable_or_a_constant() -> None:
    with pytest.raises(ValueError, match="each name once"):
        extensions.Extensions(injectables={"tag": lambda: 1}, constants={"tag": lambda m: 1})


def test_a_constant_is_decided_per_model_at_weave_time() -> None:
    made: list[type] = []

    def label(model: type) -> str:
        made.append(model)
        return f"label of {model.__name__}"

    registry = PluginRegistry()
    seen: list[str] = []

    @plugin("labelled", registry=registry)
    class Labelled:
        @hook("after:save")
        def saved(self, label: str) -> None:
            seen.append(label)

    with extensions.installed_as(constants={"label": label}):

        @with_plugins("labelled", registry=registry)
        class First:
            def save(self) -> None:
                pass

        @with_plugins("labelled", registry=registry)
        class Second:
            def save(self) -> None:
                pass

    weaves = len(made)
    for _ in range(3):
        First().save()
        Second().save()
    assert seen == ["label of First", "label of Second"] * 3
    assert len(made) == weaves  # nothing per call
    assert set(made) == {First, Second}
    unweave(First)
    unweave(Second)


def test_a_tripped_plugin_is_switched_off_then_the_listeners_hear_of_it() -> None:
    heard: list[tuple[str, bool]] = []
    registry = PluginRegistry()

    @plugin("fragile", registry=registry, on_error="disable", max_failures=1)
    class Fragile:
        @hook("before:save")
        def fail(self) -> None:
            raise RuntimeError("boom")

    @with_plugins("fragile", registry=registry)
    class Note:
        def save(self) -> str:
            return "saved"

    points = extensions.installed()
    listen = (*points.on_auto_disable, lambda s: heard.append((s.name, s.enabled)))
    with extensions.installed_as(on_auto_disable=listen):
        assert Note().save() == "saved"
    assert heard == [("fragile", False)]  # the engine's switch_off ran first
    assert registry.get_plugin("fragile").enabled is False
    unweave(Note)
