"""Diagrams of a model's chains: ``explain(Model).to_mermaid()`` / ``.to_dot()`` and the CLI's.

The Mermaid text is read back edge by edge (a small reader below), so the
tests check the drawn order against the order the dispatcher runs advice in;
the DOT text is rendered by Graphviz's real ``dot`` (installed by .ci/run).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnorm_aop import PluginRegistry, emit, explain, hook, plugin, with_plugins
from earnorm_aop.cli import main
from earnorm_aop.testing._ci import ci
from earnorm_aop.weaving import weaver

_NODE = re.compile(r'^\s+(\w+)(?:\(\[|\[\[|\{\{|\[|\()"(.*)"(?:\]\)|\]\]|\}\}|\]|\))$')
_EDGE = re.compile(r"^\s+(\w+) (-->|-\.->)(?:\|([^|]*)\|)? (\w+)$")


def _read_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str, str]], set[str]]:
    """Nodes (id -> label), edges (from, arrow, label, to) and the ids classed ``disabled``."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str, str]] = []
    disabled: set[str] = set()
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    for line in lines[1:]:
        if m := _NODE.match(line):
            nodes[m.group(1)] = m.group(2).replace("<br/>", "\n").replace("#quot;", '"')
        elif m := _EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3) or "", m.group(4)))
        elif line.strip().startswith("class "):
            disabled.update(line.split()[1].split(","))
        else:
            assert line.strip().split()[0] in {"subgraph", "direction", "end", "classDef"}, line
    for a, _, _, b in edges:
        assert a in nodes and b in nodes, (a, b)
    return nodes, edges, disabled


def _solid_path(
    nodes: dict[str, str], edges: list[tuple[str, str, str, str]], start: str
) -> list[str]:
    """The labels met following the solid arrows from the node labelled ``start``."""
    here = next(n for n, label in nodes.items() if label == start)
    out = [nodes[here]]
    while True:
        nxt = [b for a, arrow, _, b in edges if a == here and arrow == "-->"]
        if not nxt:
            return out
        assert len(nxt) == 1
        here = nxt[0]
        out.append(nodes[here])


@pytest.fixture
def reg() -> Iterator[PluginRegistry]:
    registry = PluginRegistry(group=None)
    before = set(weaver.woven_classes())
    yield registry
    for klass in set(weaver.woven_classes()) - before:
        weaver.unweave(klass)


def _model(reg: PluginRegistry) -> type:
    @plugin("guard", priority=90, registry=reg)
    class Guard:
        fires = ("guarded",)

        def before_save(self, instance: object) -> None:
            pass

        @hook("error:save")
        def report(self) -> None:
            pass

    @plugin("wrap", priority=50, registry=reg)
    class Wrap:
        def around_save(self, proceed: object) -> object:
            return proceed()  # type: ignore[operator]

    @plugin("note", priority=10, registry=reg)
    class Note:
        def after_save(self) -> None:
            pass

        @hook("guarded")
        def on_guarded(self) -> None:
            pass

        @hook("published")
        def on_published(self) -> None:
            pass

    @with_plugins("guard", "wrap", "note", registry=reg)
    class Post:
        def save(self) -> str:
            return 'saved "quoted"'

    return Post


def test_each_method_is_drawn_as_its_chain_in_dispatch_order(reg: PluginRegistry) -> None:
    Post = _model(reg)
    nodes, edges, disabled = _read_mermaid(explain(Post).to_mermaid())
    assert _solid_path(nodes, edges, "call save()") == [
        "call save()",
        "before: guard.before_save",
        "around: wrap.around_save",
        "Post.save\noriginal method",
        "after: note.after_save",
    ]
    original = next(n for n, label in nodes.items() if label.startswith("Post.save"))
    assert [
        (nodes[b], label) for a, arrow, label, b in edges if a == original and arrow == "-.->"
    ] == [("error: guard.report", "raises")]
    assert disabled == set()


def test_events_show_who_fires_them_and_their_handlers(reg: PluginRegistry) -> None:
    Post = _model(reg)
    nodes, edges, _ = _read_mermaid(explain(Post).to_mermaid())
    fired = {(nodes[a], nodes[b]) for a, _, label, b in edges if label == "fires"}
    assert fired == {
        ("plugin guard", "event guarded"),  # a plugin's own ``fires``
        ('emit(instance, "published")', "event published"),
    }
    assert _solid_path(nodes, edges, "event guarded") == [
        "event guarded",
        "handler: note.on_guarded",
    ]
    emit(Post(), "published")  # what the diagram says fires it does reach the handler


def test_disabled_plugins_are_drawn_dashed(reg: PluginRegistry) -> None:
    Post = _model(reg)
    reg.disable("wrap")
    text = explain(Post).to_mermaid()
    nodes, _, disabled = _read_mermaid(text)
    assert {nodes[n] for n in disabled} == {"around: wrap.around_save"}
    assert "classDef disabled stroke-dasharray" in text
    dot = explain(Post).to_dot()
    line = next(x for x in dot.splitlines() if "wrap.around_save" in x)
    assert "style=dashed" in line
    reg.disable("guard")
    reg.disable("note")
    nodes, _, _ = _read_mermaid(explain(Post).to_mermaid())
    assert "Post.save\noriginal (all advice off)" in nodes.values()


def test_a_model_without_plugins_draws_one_node() -> None:
    class Bare:
        def save(self) -> None:
            pass

    assert explain(Bare).to_mermaid() == 'flowchart LR\n  none["Bare: no plugins"]\n'
    assert "none [label=" in explain(Bare).to_dot()
    assert str(explain(Bare)).endswith("Bare\n  (no plugins)")  # still the text it always was


def _dot_binary() -> str:
    found = shutil.which("dot")
    if found is None:
        reason = "Graphviz's dot is not installed (apt-get install graphviz)"
        if ci():
            pytest.fail(f"{reason}; CI is set, so the DOT output must be rendered")
        pytest.skip(reason)
    return found


def test_graphviz_renders_the_dot_text(reg: PluginRegistry) -> None:
    dot = _dot_binary()
    Post = _model(reg)
    out = subprocess.run(
        [dot, "-Tsvg"], input=explain(Post).to_dot(), capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no syntax warnings either
    for label in ("before: guard.before_save", "handler: note.on_guarded", "plugin guard"):
        assert label in out.stdout


@settings(max_examples=25, deadline=None)
@given(
    hooks=st.lists(
        st.tuples(st.sampled_from(["before", "after", "around"]), st.integers(0, 100)),
        min_size=1,
        max_size=6,
    )
)
def test_the_drawn_chain_is_the_order_explain_prints(hooks: list[tuple[str, int]]) -> None:
    reg = PluginRegistry(group=None)
    names = []
    for i, (kind, priority) in enumerate(hooks):
        name = f"p{i}"
        if kind == "around":
            body = {"around_save": lambda self, proceed: proceed()}
        else:
            body = {f"{kind}_save": lambda self: None}
        plugin(name, priority=priority, registry=reg)(type(name, (), body))
        names.append(name)

    class Thing:
        def save(self) -> None:
            pass

    with_plugins(*names, registry=reg)(Thing)
    try:
        nodes, edges, _ = _read_mermaid(explain(Thing).to_mermaid())
        drawn = [x for x in _solid_path(nodes, edges, "call save()")[1:] if ": " in x]
        printed = [
            f"{parts[1]}: {parts[2]}"
            for parts in (line.split() for line in str(explain(Thing)).splitlines())
            if parts and parts[0].rstrip(".").isdigit()
        ]
        assert drawn == printed
    finally:
        weaver.unweave(Thing)


def test_cli_explain_format(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    module = sys.modules[__name__]
    module.CliPost = None  # type: ignore[attr-defined]
    reg = PluginRegistry(group=None)
    Post = _model(reg)
    module.CliPost = Post  # type: ignore[attr-defined]
    try:
        assert main(["explain", f"{__name__}:CliPost", "--format", "mermaid"]) == 0
        assert capsys.readouterr().out == explain(Post).to_mermaid()
        assert main(["explain", f"{__name__}:CliPost", "--format", "dot"]) == 0
        assert capsys.readouterr().out == explain(Post).to_dot()
        assert main(["explain", f"{__name__}:CliPost", "--format", "dot", "--json"]) == 2
        assert "exclusive" in capsys.readouterr().err
    finally:
        del module.CliPost  # type: ignore[attr-defined]
        weaver.unweave(Post)


def test_the_lifecycle_events_a_model_fires_are_drawn_with_their_listeners() -> None:
    """The page's AuditPlugin: after_change and after_access, fired by the system (lifecycle).

    ``after_query_load`` is drawn only where a handler asks for loads (nothing
    watches another model's loads).
    """
    reg = PluginRegistry(group=None)

    class AuditPlugin:
        @hook("after_change")
        def log_change(self, instance: object, changes: object) -> None:
            pass

        @hook("after_access")
        def log_access(self, instance: object, user: object) -> None:
            pass

    class Loads:
        @hook("after_access", loads=True)
        def log_load(self, instance: object) -> None:
            pass

    reg.register("audit_page", AuditPlugin)
    reg.register("loads", Loads)

    @with_plugins("audit_page", registry=reg)
    class Post:
        def save(self) -> None:
            pass

        @classmethod
        def get(cls, pk: int) -> Post:
            return cls()

    nodes, edges, _ = _read_mermaid(explain(Post).to_mermaid())
    labels = set(nodes.values())
    for event, handler in (
        ("after_change", "audit_page.log_change"),
        ("after_access", "audit_page.log_access"),
    ):
        event_node = next(n for n, label in nodes.items() if label == f"event {event}")
        fired_by = {nodes[a] for a, arrow, label, b in edges if b == event_node and arrow == "-->"}
        assert fired_by == {"plugin lifecycle"}
        assert any(a == event_node and nodes[b] == f"handler: {handler}" for a, _, _, b in edges), (
            event
        )
    # Where in the chains each is fired: a dotted "fires" edge from the advice that fires it.
    fired_from = {
        (nodes[a], nodes[b]) for a, arrow, label, b in edges if arrow == "-.->" and label == "fires"
    }
    assert ("after: lifecycle.changed", "event after_change") in fired_from
    assert ("after: lifecycle.accessed", "event after_access") in fired_from
    assert "event after_query_load" not in labels
    assert "fires by itself: after_change, after_commit_change, after_access" in str(explain(Post))

    @with_plugins("loads", registry=reg)
    class Note:
        @classmethod
        def get(cls, pk: int) -> Note:
            return cls()

    nodes, edges, _ = _read_mermaid(explain(Note).to_mermaid())
    assert {"event after_query_load", "handler: loads.log_load"} <= set(nodes.values())
    assert str(explain(Note)).endswith("after_access, after_query_load")
