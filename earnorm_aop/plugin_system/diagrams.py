"""Diagrams of what runs when a model's methods are called: Mermaid and Graphviz DOT.

``diagram(Model)`` reads the same plans [`explain`][earnorm_aop.explain] prints
(the weaver's ``describe``), so a picture cannot drift from the dispatch
order.  Each woven method is drawn as a chain: the call, its ``before``
advice, the ``around``/``chain`` advice that wrap it, the original method,
the ``after`` advice (``after_commit``/``after_rollback`` on a dotted edge
labelled with the transaction's end) and, on a dashed edge from the original,
the ``error`` advice.  Custom events are drawn apart: who fires each one (a
plugin that declares it in ``fires``, or ``emit()`` from user code) and the
handlers it reaches, in order.  Disabled advice is drawn with a dashed border.

Text out, nothing to install: Mermaid renders in GitHub, GitLab and the docs
site; DOT through ``dot -Tsvg``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..weaving import weaver
from ..weaving.aspect import Aspect
from ..weaving.pointcut import Kind, split_event
from .events import firing

__all__ = ["EventNode", "MethodNode", "ModelDiagram", "Step", "diagram"]

_WRAPPING = (Kind.AROUND, Kind.CHAIN)
_AT_END = {Kind.AFTER_COMMIT: "on commit", Kind.AFTER_ROLLBACK: "on rollback"}


@dataclass(frozen=True)
class Step:
    """One advice in a chain: its kind, ``plugin.advice`` label, whether it is on, and the
    events it fires (its plugin class's ``fires_from``: ``lifecycle.changed`` fires
    ``after_change``), drawn as a dotted ``fires`` edge to each."""

    kind: str
    label: str
    enabled: bool
    fires: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodNode:
    """One woven method and its advice, in execution order."""

    method: str
    installed: bool
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class EventNode:
    """A custom event of the model: who fires it and its handlers, in plugin order."""

    event: str
    fired_by: tuple[str, ...]
    handlers: tuple[str, ...]


@dataclass(frozen=True)
class ModelDiagram:
    """The chains and events of one model; ``to_mermaid()`` / ``to_dot()`` draw them."""

    model: str
    plugins: tuple[tuple[str, bool], ...]
    methods: tuple[MethodNode, ...]
    events: tuple[EventNode, ...]

    def to_mermaid(self) -> str:
        """A Mermaid ``flowchart`` (paste it in a ```` ```mermaid ```` block)."""
        return _Mermaid(self).render()

    def to_dot(self) -> str:
        """A Graphviz ``digraph`` (``dot -Tsvg``)."""
        return _Dot(self).render()


def _fires(aspect: Aspect) -> tuple[str, ...]:
    """The events a plugin says it fires: its class's ``fires`` (a tuple of names)."""
    return tuple(getattr(type(aspect.plugin), "fires", ()))


def _fires_from(aspect: Aspect, advice: str) -> tuple[str, ...]:
    """The events one advice of ``aspect`` fires: its class's ``fires_from`` (name -> events)."""
    table = getattr(type(aspect.plugin), "fires_from", None) or {}
    return tuple(table.get(advice, ()))


def _fired_by(aspects: Sequence[Aspect], event: str) -> tuple[str, ...]:
    found = [f"plugin {a.name}" for a in aspects if event in _fires(a)]
    return tuple(found) or (f'emit(instance, "{event}")',)


def diagram(
    model: type, methods: Iterable[str] | None = None, *, events: bool = True
) -> ModelDiagram:
    """What runs when ``model``'s methods are called, ready to draw.

    ``methods`` keeps only the chains of those methods (all by default), in the
    order given; ``events=False`` leaves the custom events out.
    """
    aspects = weaver.effective_aspects(model)
    chains = weaver.describe(model) if aspects else []
    if methods is not None:
        wanted = list(methods)
        by_name = {c.method: c for c in chains}
        unknown = [m for m in wanted if m not in by_name]
        if unknown:
            woven = ", ".join(by_name) or "none"
            raise ValueError(
                f"{model.__name__} has no woven method {', '.join(map(repr, unknown))}; "
                f"its woven methods: {woven}"
            )
        chains = [by_name[m] for m in wanted]
    nodes = tuple(
        MethodNode(
            c.method,
            c.installed,
            tuple(
                Step(
                    a.kind.value,
                    a.label,
                    a.aspect.switch.enabled,
                    _fires_from(a.aspect, a.spec.name),
                )
                for a in c.advice
            ),
        )
        for c in chains
    )
    names = {c.method for c in chains}
    handlers: dict[str, list[str]] = {}
    for aspect in aspects:
        for spec in aspect.advices:
            target = spec.target
            if not isinstance(target, str):
                continue
            split = split_event(target)
            if split is not None and split[1] in names:
                continue
            if not any(a.spec is spec for c in chains for a in c.advice):
                handlers.setdefault(target, []).append(f"{aspect.name}.{spec.name}")
    fired = set(firing(aspects))
    for event in sorted(fired - set(handlers)):
        handlers[event] = []  # fired, but nobody on this model listens
    drawn = tuple(
        EventNode(event, _fired_by(aspects, event), tuple(hs))
        for event, hs in handlers.items()
        if events
    )
    return ModelDiagram(
        model=model.__name__,
        plugins=tuple((a.name, a.switch.enabled) for a in aspects),
        methods=nodes,
        events=drawn,
    )


# -- drawing ------------------------------------------------------------------------------


def _ident(*parts: str) -> str:
    return "_".join(re.sub(r"\W+", "_", p) for p in parts).strip("_") or "node"


class _Graph:
    """The layout both formats share: nodes and edges in drawing order."""

    def __init__(self, d: ModelDiagram) -> None:
        self.d = d
        self.nodes: list[tuple[str, str, str, bool]] = []  # id, label, shape, enabled
        self.edges: list[tuple[str, str, str, str]] = []  # from, to, label, style
        self.groups: list[tuple[str, str, list[str]]] = []  # id, title, node ids
        self.firing: list[tuple[str, tuple[str, ...]]] = []  # an advice node, the events it fires

    def layout(self) -> None:
        for m, method in enumerate(self.d.methods):
            self._method(_ident("m", str(m), method.method), method)
        drawn: dict[str, str] = {}  # event -> its node
        for e, event in enumerate(self.d.events):
            gid = _ident("ev", str(e), event.event)
            ids = []
            eid = _ident(gid, "event")
            drawn[event.event] = eid
            self.nodes.append((eid, f"event {event.event}", "event", True))
            ids.append(eid)
            for i, who in enumerate(event.fired_by):
                fid = _ident(gid, "by", str(i))
                self.nodes.append((fid, who, "source", True))
                ids.append(fid)
                self.edges.append((fid, eid, "fires", "solid"))
            prev = eid
            for i, handler in enumerate(event.handlers):
                hid = _ident(gid, "h", str(i))
                self.nodes.append((hid, f"handler: {handler}", "advice", True))
                ids.append(hid)
                self.edges.append((prev, hid, "", "solid"))
                prev = hid
            if not event.handlers:
                hid = _ident(gid, "none")
                self.nodes.append((hid, "no handler on this model", "source", True))
                ids.append(hid)
                self.edges.append((eid, hid, "", "dotted"))
            self.groups.append((gid, f"event {event.event}", ids))
        for nid, names in self.firing:  # where in a chain each event is fired
            for name in names:
                if name in drawn:
                    self.edges.append((nid, drawn[name], "fires", "dotted"))

    def _node(self, ids: list[str], nid: str, label: str, shape: str, enabled: bool = True) -> str:
        self.nodes.append((nid, label, shape, enabled))
        ids.append(nid)
        return nid

    def _step(self, ids: list[str], nid: str, step: Step) -> str:
        if step.fires:
            self.firing.append((nid, step.fires))
        return self._node(ids, nid, f"{step.kind}: {step.label}", "advice", step.enabled)

    def _method(self, gid: str, method: MethodNode) -> None:
        ids: list[str] = []
        start = self._node(ids, _ident(gid, "call"), f"call {method.method}()", "start")
        kinds = [(Kind(s.kind), s) for s in method.steps]
        befores = [s for k, s in kinds if k is Kind.BEFORE]
        wraps = [s for k, s in kinds if k in _WRAPPING]
        prev = start
        for i, s in enumerate(befores + wraps):
            nid = self._step(ids, _ident(gid, f"s{i}"), s)
            self.edges.append((prev, nid, "", "solid"))
            prev = nid
        title = "original method" if method.installed else "original (all advice off)"
        label = f"{self.d.model}.{method.method}\n{title}"
        core = self._node(ids, _ident(gid, "orig"), label, "core")
        self.edges.append((prev, core, "", "solid"))
        prev = core
        for i, s in enumerate(s for k, s in kinds if k is Kind.AFTER):
            nid = self._step(ids, _ident(gid, f"a{i}"), s)
            self.edges.append((prev, nid, "", "solid"))
            prev = nid
        for i, (k, s) in enumerate((k, s) for k, s in kinds if k in _AT_END):
            nid = self._step(ids, _ident(gid, f"c{i}"), s)
            self.edges.append((prev, nid, _AT_END[k], "dotted"))
        for i, s in enumerate(s for k, s in kinds if k is Kind.ERROR):
            nid = self._step(ids, _ident(gid, f"e{i}"), s)
            self.edges.append((core, nid, "raises", "dashed"))
        self.groups.append((gid, f"{self.d.model}.{method.method}", ids))


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


class _Mermaid(_Graph):
    _SHAPES = {  # noqa: RUF012 - a constant table
        "start": ('(["', '"])'),
        "advice": ('["', '"]'),
        "core": ('[["', '"]]'),
        "event": ('{{"', '"}}'),
        "source": ('("', '")'),
    }
    _ARROWS = {"solid": "-->", "dashed": "-.->", "dotted": "-.->"}  # noqa: RUF012

    def render(self) -> str:
        self.layout()
        lines = ["flowchart LR"]
        by_id = {n[0]: n for n in self.nodes}
        for gid, title, ids in self.groups:
            lines.append(f'  subgraph {gid}["{_mermaid_text(title)}"]')
            lines.append("    direction LR")
            for nid in ids:
                _, label, shape, _enabled = by_id[nid]
                left, right = self._SHAPES[shape]
                lines.append(f"    {nid}{left}{_mermaid_text(label)}{right}")
            lines.append("  end")
        if not self.groups:
            lines.append(f'  none["{_mermaid_text(self.d.model)}: no plugins"]')
        for a, b, label, style in self.edges:
            arrow = self._ARROWS[style]
            text = f"|{_mermaid_text(label)}|" if label else ""
            lines.append(f"  {a} {arrow}{text} {b}")
        off = [n[0] for n in self.nodes if not n[3]]
        if off:
            lines.append("  classDef disabled stroke-dasharray: 5 5,color:#888")
            lines.append(f"  class {','.join(off)} disabled")
        return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Dot(_Graph):
    _SHAPES = {  # noqa: RUF012
        "start": "oval",
        "advice": "box",
        "core": "box3d",
        "event": "hexagon",
        "source": "note",
    }

    def render(self) -> str:
        self.layout()
        lines = [
            f'digraph "{_dot_text(self.d.model)}" {{',
            "  rankdir=LR;",
            '  node [fontname="Helvetica", fontsize=10];',
        ]
        by_id = {n[0]: n for n in self.nodes}
        for gid, title, ids in self.groups:
            lines.append(f"  subgraph cluster_{gid} {{")
            lines.append(f'    label="{_dot_text(title)}";')
            for nid in ids:
                _, label, shape, enabled = by_id[nid]
                style = "" if enabled else ', style=dashed, fontcolor="gray50"'
                lines.append(
                    f'    {nid} [label="{_dot_text(label)}", shape={self._SHAPES[shape]}{style}];'
                )
            lines.append("  }")
        if not self.groups:
            lines.append(f'  none [label="{_dot_text(self.d.model)}: no plugins", shape=box];')
        for a, b, label, style in self.edges:
            attrs = [] if style == "solid" else [f"style={style}"]
            if label:
                attrs.append(f'label="{_dot_text(label)}"')
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f"  {a} -> {b}{suffix};")
        lines.append("}")
        return "\n".join(lines) + "\n"
