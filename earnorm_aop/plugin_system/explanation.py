"""``explain(model)``: what runs, in what order, when a model's method is called.

The text is built from the same plans the weaver installs, so it cannot drift
from the real dispatch order.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..weaving import weaver
from ..weaving.aspect import Switch
from ..weaving.pointcut import split_event
from .diagrams import ModelDiagram, diagram
from .rollout import Rollout
from .unfired import fired_events

__all__ = ["Explanation", "explain"]


class Explanation(str):
    """The text [`explain`][earnorm_aop.plugin_system.explanation.explain] prints, which also draws
    itself: ``to_mermaid()``, ``to_dot()``.

    A ``str`` so that ``print(explain(Model))`` and comparisons keep working;
    the diagrams are made from the model's plans when asked for.
    """

    model: type

    def diagram(self, methods: Iterable[str] | None = None, *, events: bool = True) -> ModelDiagram:
        """The chains and events, as data (see
        [`earnorm_aop.plugin_system.diagrams`][earnorm_aop.plugin_system.diagrams]).

        ``methods`` keeps only those methods' chains; ``events=False`` leaves events out.
        """
        return diagram(self.model, methods, events=events)

    def to_mermaid(self, methods: Iterable[str] | None = None, *, events: bool = True) -> str:
        """A Mermaid flowchart of each woven method's chain and of the model's events."""
        return self.diagram(methods, events=events).to_mermaid()

    def to_dot(self, methods: Iterable[str] | None = None, *, events: bool = True) -> str:
        """The same as a Graphviz digraph."""
        return self.diagram(methods, events=events).to_dot()


def explain(model: type) -> Explanation:
    """The text table of ``_explain_text``, which draws itself
    ([`Explanation`][earnorm_aop.plugin_system.explanation.Explanation])."""
    out = Explanation(_explain_text(model))
    out.model = model
    return out


def _state(switch: Switch) -> str:
    if not switch.enabled:
        return " (disabled)"
    rollout = switch.rollout
    if isinstance(rollout, Rollout):
        return f" (rollout {rollout.percent:g}% by {rollout.by_label()})"
    return ""


def _explain_text(model: type) -> str:
    """A text table: each woven method, its advice in execution order, enabled state; events."""
    aspects = weaver.effective_aspects(model)
    lines = [f"{model.__qualname__}"]
    if not aspects:
        lines.append("  (no plugins)")
        return "\n".join(lines)
    listed = ", ".join(a.name + _state(a.switch) for a in aspects)
    lines.append(f"  plugins, in order: {listed}")
    chains = weaver.describe(model)
    width = max([len(a.label) for c in chains for a in c.advice] + [10])
    for chain in chains:
        state = "" if chain.installed else "   [all advice disabled: original method]"
        lines.append(f"  {chain.method}{state}")
        for n, advice in enumerate(chain.advice, 1):
            on = "enabled" if advice.aspect.switch.enabled else "disabled"
            lines.append(f"    {n}. {advice.kind.value:<7} {advice.label:<{width}}  {on}")
    names = {c.method for c in chains}
    events: dict[str, list[str]] = {}
    for aspect in aspects:
        for spec in aspect.advices:
            target = spec.target
            if isinstance(target, str):
                split = split_event(target)
                if split is None or split[1] not in names:
                    woven = any(a.spec is spec for c in chains for a in c.advice)
                    if not woven:
                        events.setdefault(target, []).append(f"{aspect.name}.{spec.name}")
    if events:
        lines.append("  events (fired with emit):")
        for event, handlers in events.items():
            lines.append(f"    {event}: {', '.join(handlers)}")
    fired = fired_events(model)
    if fired:
        lines.append(f"  fires by itself: {', '.join(fired)}")
    return "\n".join(lines)
