"""``max_failures`` for the plugin code run at the commit besides ``after_commit`` advice.

Under ``on_error="disable"``, a deferred call's failures in a row are its own
streak (as [`commit`][earnorm_aop.weaving.commit] keeps for ``after_commit``
advice): the plugin's code that runs at the write and succeeds between two
commits, or another deferred call of the plugin that succeeds, does not reset
it.  Else a handler of ``after_commit_change``, or a conditional
``after_commit`` advice, failing at every commit would never switch its plugin
off.  On a backend without transactions the deferred call runs at the write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from earnorm_aop import PluginRegistry, hook, plugin


def _committed(backend: Any) -> contextlib.AbstractContextManager[None]:
    return backend.transaction() if backend.transactional else contextlib.nullcontext()


def _cycles(backend: Any, Article: Any, count: int) -> None:
    """``count`` write-then-commit cycles, one created row each."""
    for i in range(count):
        with _committed(backend):
            backend.create(Article, title=f"t{i}")


def _disabled_after_two(backend: Any, registry: PluginRegistry, name: str, write: Any) -> None:
    """Three cycles: the second failure in a row switches ``name`` off, the third never runs."""
    _cycles(backend, write, 3)
    metrics = registry.metrics(name)
    assert metrics["failures"] == 2
    assert metrics["auto_disabled"]
    assert not registry.get_plugin(name).enabled


def _fails() -> Callable[..., None]:
    def fail(self: Any) -> None:
        raise RuntimeError("webhook down")

    return fail


# -- event handlers run at the commit (after_commit_change) -----------------------------


def test_a_commit_time_handler_failing_at_every_commit_disables_its_plugin(backend: Any) -> None:
    """The plugin's ``after_change`` handler succeeding at each write resets nothing."""
    registry = PluginRegistry()
    seen: list[str] = []

    @plugin("hooks", registry=registry, on_error="disable", max_failures=2)
    class Hooks:
        @hook("after_change")
        def changed(self) -> None:
            seen.append("change")

        post = hook("after_commit_change")(_fails())

    Article = backend.model("hooks", registry=registry)
    _disabled_after_two(backend, registry, "hooks", Article)
    assert seen == ["change", "change"]  # it succeeded between the other's failures


def test_a_commit_time_handler_succeeding_does_not_reset_anothers_streak(backend: Any) -> None:
    registry = PluginRegistry()
    seen: list[str] = []

    @plugin("hooks", registry=registry, on_error="disable", max_failures=2)
    class Hooks:
        post = hook("after_commit_change")(_fails())

        @hook("after_commit_change")
        def count(self) -> None:
            seen.append("count")

    Article = backend.model("hooks", registry=registry)
    _disabled_after_two(backend, registry, "hooks", Article)
    assert seen == ["count", "count"]


def test_a_commit_time_handler_recovering_keeps_its_plugin_on(backend: Any) -> None:
    """Fail, succeed, fail: never two in a row, the plugin stays on."""
    registry = PluginRegistry()
    outcomes = [False, True, False]

    @plugin("flaky", registry=registry, on_error="disable", max_failures=2)
    class Flaky:
        @hook("after_commit_change")
        def post(self) -> None:
            if not outcomes.pop(0):
                raise RuntimeError("webhook down")

    Article = backend.model("flaky", registry=registry)
    _cycles(backend, Article, 3)
    assert outcomes == []
    assert registry.metrics("flaky")["failures"] == 2
    assert not registry.metrics("flaky")["auto_disabled"]


# -- conditions' deferred advice (after_commit with a condition) ------------------------


def test_a_conditional_after_commit_failing_at_every_commit_disables_its_plugin(
    backend: Any,
) -> None:
    """The plugin's ``after:save`` advice succeeding at each write resets nothing."""
    registry = PluginRegistry()
    seen: list[str] = []

    @plugin("mailer", registry=registry, on_error="disable", max_failures=2)
    class Mailer:
        @hook("after:save")
        def wrote(self) -> None:
            seen.append("after")

        post = hook("after_commit:save", has_changed=True)(_fails())

    Article = backend.model("mailer", registry=registry)
    _disabled_after_two(backend, registry, "mailer", Article)
    assert seen == ["after", "after"]


def test_a_conditional_after_commit_succeeding_does_not_reset_anothers_streak(
    backend: Any,
) -> None:
    registry = PluginRegistry()
    seen: list[str] = []

    @plugin("mailer", registry=registry, on_error="disable", max_failures=2)
    class Mailer:
        post = hook("after_commit:save", has_changed=True)(_fails())

        @hook("after_commit:save", has_changed=True)
        def count(self) -> None:
            seen.append("count")

    Article = backend.model("mailer", registry=registry)
    _disabled_after_two(backend, registry, "mailer", Article)
    assert seen == ["count", "count"]


def test_the_commit_looks_up_no_streak_per_handler(backend: Any) -> None:
    """Each handler's streak, policy and plan are decided once for the model's handlers
    (issue 23 point 6), again when they change: a commit only runs them."""
    from _calls import calls

    registry = PluginRegistry()
    seen: list[str] = []

    @plugin("hooks", registry=registry, on_error="disable", max_failures=2)
    class Hooks:
        @hook("after_commit_change")
        def first(self, changes: dict[str, Any]) -> None:
            seen.append("first")

        @hook("after_commit_change")
        def second(self) -> None:
            seen.append("second")

    Article = backend.model("hooks", registry=registry)
    _cycles(backend, Article, 1)  # the first commit prepares them
    counted = calls(lambda: _cycles(backend, Article, 1))
    assert seen == ["first", "second"] * 2
    for per_handler in (":streak_of", ":_plan", ":policy_of"):
        assert not [n for n in counted if n.endswith(per_handler)], counted
    registry.disable("hooks")  # the handlers change: nobody listens
    _cycles(backend, Article, 1)
    registry.enable("hooks")
    _cycles(backend, Article, 1)
    assert seen == ["first", "second"] * 3
