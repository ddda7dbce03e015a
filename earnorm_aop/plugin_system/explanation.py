"""``explain(model)``: what runs, in what order, when a model's method is called.

The text is built from the same plans the weaver installs, so it cannot drift
from the real dispatch order.
"""

from __future__ import annotations

from ..weaving import weaver
from ..weaving.pointcut import split_event

__all__ = ["explain"]


def explain(model: type) -> str:
    """A text table: each woven method, its advice in execution order, enabled state; events."""
    aspects = weaver.effective_aspects(model)
    lines = [f"{model.__qualname__}"]
    if not aspects:
        lines.append("  (no plugins)")
        return "\n".join(lines)
    listed = ", ".join(a.name + ("" if a.switch.enabled else " (disabled)") for a in aspects)
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
    return "\n".join(lines)
