"""What weaving one more class re-reads (issue 18, point 7): nothing a plugin shares.

A plugin's hooks and advice functions are the same on every model, so their
pointcuts are parsed and their signatures read once per process; the next
class woven with the same plugins reads neither again (counted calls, no
timing).  Per-model constants (the adapter) still differ per model.
"""

from __future__ import annotations

from typing import Any

from _calls import calls

from earnorm_aop import PluginRegistry, hook, plugin, unweave, with_plugins
from earnorm_aop.weaving.advice import signature_key
from earnorm_aop.weaving.extensions import installed, installed_as

FOUR = ("timestamp", "softdelete", "cache", "audit")


def note_class(name: str) -> type:
    class Note:
        def save(self) -> None:
            pass

        def delete(self) -> None:
            pass

    Note.__name__ = Note.__qualname__ = name
    return Note


def test_weaving_one_more_class_reads_no_signature_and_parses_no_pointcut() -> None:
    first = with_plugins(*FOUR)(note_class("First"))
    second = note_class("Second")
    counted = calls(lambda: with_plugins(*FOUR)(second))
    signatures = {n: c for n, c in counted.items() if n.endswith(":signature")}
    assert not signatures, signatures
    assert counted["earnorm_aop.weaving.pointcut:_parse"] == 0, counted
    assert counted["earnorm_aop.weaving.advice:_resolve"] == 0, counted
    for klass in (first, second):
        unweave(klass)


def test_a_per_model_constant_is_still_each_models_own() -> None:
    """The resolution is shared, the weave-time constant (``adapter``'s kind) is not."""
    registry = PluginRegistry()
    seen: list[Any] = []

    @plugin("which", registry=registry)
    class Which:
        @hook("before:save")
        def note(self, tag: str) -> None:
            seen.append(tag)

    points = installed()
    with installed_as(constants={**points.constants, "tag": lambda model: model.__name__}):
        first = with_plugins("which", registry=registry)(note_class("First"))
        second = with_plugins("which", registry=registry)(note_class("Second"))
    first().save()
    second().save()
    assert seen == ["First", "Second"]
    for klass in (first, second):
        unweave(klass)


def test_closures_of_one_factory_share_their_reading_and_others_do_not() -> None:
    def factory(default: int | None = None) -> Any:
        if default is None:

            def advice(instance: Any) -> None: ...

            return advice

        def with_default(instance: Any, n: int = default) -> None: ...

        return with_default

    assert signature_key(factory()) is signature_key(factory())
    one, two = factory(1), factory(2)  # the defaults are part of the signature
    assert signature_key(one) is one and signature_key(two) is two


def test_dispatchers_share_the_cells_of_plain_values() -> None:
    """A name, a kind or a message is one cell for every dispatcher; an advice is its own."""
    registry = PluginRegistry()

    @plugin("watch", registry=registry)
    class Watch:
        @hook("before:save")
        def check(self, instance: Any, method: str, level: str = "info") -> None: ...

    a = with_plugins("watch", registry=registry)(note_class("A"))
    b = with_plugins("watch", registry=registry)(note_class("B"))

    def cells(klass: type) -> dict[str, Any]:
        dispatch = vars(klass)["save"]._self_wrapper
        names = dispatch.__code__.co_freevars
        return dict(zip(names, dispatch.__closure__ or (), strict=True))

    mine, theirs = cells(a), cells(b)
    assert set(mine) >= {"_method", "_value0_2", "_advice0", "_g"}, mine
    assert mine["_method"] is theirs["_method"]  # "save"
    assert mine["_value0_2"] is theirs["_value0_2"]  # the default "info"
    assert mine["_advice0"] is not theirs["_advice0"]  # each model's plugin instance
    a().save()  # type: ignore[attr-defined]
    b().save()  # type: ignore[attr-defined]
    for klass in (a, b):
        unweave(klass)
