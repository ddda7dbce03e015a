"""Shared fixtures and helpers for the plugin-layer tests (registry, models, config).

``conftest.py`` loads this module as a pytest plugin (``pytest_plugins``), so
its fixtures are available everywhere.  ``reg`` is an isolated registry
(``PluginRegistry(group=None)``: no entry-point discovery), so plugin names
never collide with the default registry's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from earnorm_aop import PluginNotFoundError, PluginRegistry, hook
from earnorm_aop import registry as default_registry
from earnorm_aop.weaving import weaver


@pytest.fixture
def reg() -> Iterator[PluginRegistry]:
    """An isolated registry; every class woven during the test is unwoven afterwards."""
    before = set(weaver.woven_classes())
    yield PluginRegistry(group=None)
    for klass in set(weaver.woven_classes()) - before:
        weaver.unweave(klass)


@pytest.fixture
def default_names() -> Iterator[list[str]]:
    """Names a test registers in the default registry; unregistered afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(PluginNotFoundError):
            default_registry.enable(name)
            default_registry.unregister(name)


def recording_plugin(
    log: list[Any], tag: str, methods: str = "save", *, asynchronous: bool = False
) -> type:
    """A plugin class with one advice of each kind on ``methods``, logging ``(tag, kind)``.

    With ``asynchronous`` its ``around`` advice is ``async def`` (for async methods).
    """

    class Recording:
        pass

    def before(self: Any) -> None:
        log.append((tag, "before"))

    def around(self: Any, proceed: Any) -> Any:
        log.append((tag, "around>"))
        result = proceed()
        log.append((tag, "<around"))
        return result

    async def around_async(self: Any, proceed: Any) -> Any:
        log.append((tag, "around>"))
        result = await proceed()
        log.append((tag, "<around"))
        return result

    def chain(self: Any, value: Any) -> Any:
        log.append((tag, "chain"))
        return value

    def after(self: Any) -> None:
        log.append((tag, "after"))

    Recording.before_it = hook(f"before:{methods}")(before)  # type: ignore[attr-defined]
    Recording.around_it = hook(f"around:{methods}")(  # type: ignore[attr-defined]
        around_async if asynchronous else around
    )
    Recording.chain_it = hook(f"chain:{methods}")(chain)  # type: ignore[attr-defined]
    Recording.after_it = hook(f"after:{methods}")(after)  # type: ignore[attr-defined]
    Recording.__name__ = Recording.__qualname__ = f"Recording_{tag}"
    return Recording


def expected_run(tags: list[str], body: Any = "save") -> list[Any]:
    """The documented run order of ``recording_plugin`` advice for plugins in ``tags`` order.

    Every before in plugin order, the around onion (first outermost) around
    the method (which logs ``body``), then chain in reverse order, then after
    in reverse order.
    """
    out: list[Any] = [(t, "before") for t in tags]
    out += [(t, "around>") for t in tags]
    out.append(body)
    out += [(t, "<around") for t in reversed(tags)]
    out += [(t, "chain") for t in reversed(tags)]
    out += [(t, "after") for t in reversed(tags)]
    return out
