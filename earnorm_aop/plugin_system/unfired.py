"""A hook on an event nothing fires on its model: a warning at weave time.

``@hook("after_chnage")`` is a custom event (no model method is called
``chnage``), so it weaves without an error and is never called.  After a
model is woven, each event handler of the plugins just applied is checked:
its event is fired on the model when a woven plugin declares it in ``fires``
(the built-in ``lifecycle``: ``after_change``, ``after_commit_change``,
``after_access``).  A name that reads as a convention name (``before_x``,
``after_x``, ...) or resembles a lifecycle event, and that nothing fires,
warns ([`PluginWarning`][earnorm_aop.PluginWarning]) naming the event, the model and
the nearest known names (``after_chnage`` -> ``after_change``).  Other
custom events (``order_paid``) are fired by user code with ``emit()``, which
no weave can see: they never warn.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Sequence

from ..errors import PluginWarning
from ..weaving import extensions, weaver
from ..weaving.aspect import Aspect
from ..weaving.pointcut import Kind, split_event
from .events import LIFECYCLE, firing
from .shadowing import user_level

__all__ = ["fired_events", "warn_unfired"]

_KINDS = tuple(k.value for k in Kind if k is not Kind.CHAIN)


def fired_events(model: type, woven: Sequence[Aspect] | None = None) -> tuple[str, ...]:
    """The events the plugins woven on ``model`` fire by themselves (their ``fires``).

    ``woven``: ``model``'s effective aspects, when the caller has them.
    """
    return tuple(firing(weaver.effective_aspects(model) if woven is None else woven))


def warn_unfired(
    model: type, aspects: Iterable[Aspect], woven: Sequence[Aspect] | None = None
) -> None:
    """Warn for each event handler of ``aspects`` whose event nothing fires on ``model``.

    ``woven``: ``model``'s effective aspects, when the caller has them.
    """
    fired: set[str] | None = None
    for aspect in aspects:
        for spec in aspect.advices:
            event = spec.target
            if not isinstance(event, str):
                continue
            if fired is None:  # (only a model with an event handler asks)
                fired = set(fired_events(model, woven))
            if event in fired:
                continue
            if not weaver.event_handlers(model, event):
                continue  # woven as advice on a method (or switched off): not an event here
            if split_event(event) is None and not difflib.get_close_matches(event, LIFECYCLE):
                continue  # a custom event of the user's, fired with emit()
            near = difflib.get_close_matches(event, _known(model, fired), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else "."
            warnings.warn(
                f"plugin {aspect.name!r}: handler {spec.name!r} listens to {event!r}, which "
                f"nothing fires on {model.__qualname__} (no method "
                f"{(split_event(event) or (None, event))[1]!r}, not a lifecycle event; only "
                f"emit(instance, {event!r}) would call it){hint}",
                PluginWarning,
                stacklevel=user_level(),
            )


def _known(model: type, fired: set[str]) -> list[str]:
    """Names that do fire on ``model``: convention names of its operations and methods."""
    methods = set(extensions.installed().operations(model))
    methods.update(n for n in vars(model) if not n.startswith("_") and callable(vars(model)[n]))
    names = {f"{kind}_{method}" for kind in _KINDS for method in methods}
    return sorted(names | fired | set(LIFECYCLE))
