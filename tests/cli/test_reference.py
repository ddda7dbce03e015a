"""``earnorm-aop docs PLUGIN``: a plugin's reference from what it declares; the built-ins' page.

``docs/plugins-reference.md`` holds, between markers, the output of
``earnorm-aop docs NAME`` for each built-in plugin; the test here regenerates
every section and fails on any difference.  After changing a built-in, run it
with ``EARNORM_AOP_REGENERATE_DOCS=1`` to rewrite the sections.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field

from earnorm_aop import PluginRegistry, hook, plugin, when
from earnorm_aop.adapters.base import FieldSpec
from earnorm_aop.cli import main
from earnorm_aop.cli._reference import reference, render_markdown
from earnorm_aop.plugin_system.registry import registry

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugins-reference.md"
SECTION = re.compile(
    r"<!-- generated: earnorm-aop docs (\w+) -->\n(.*?)<!-- end generated -->\n", re.S
)
BUILTINS = ["audit", "cache", "changes", "lifecycle", "softdelete", "timestamp", "validation"]


def test_the_built_ins_reference_is_generated_from_their_declarations() -> None:
    text = PAGE.read_text()
    expected = {name: render_markdown(reference(registry, name)) for name in BUILTINS}
    if os.environ.get("EARNORM_AOP_REGENERATE_DOCS"):
        text = SECTION.sub(
            lambda m: (
                f"<!-- generated: earnorm-aop docs {m[1]} -->\n{expected[m[1]]}"
                "<!-- end generated -->\n"
            ),
            text,
        )
        PAGE.write_text(text)
    found = dict(SECTION.findall(text))
    assert sorted(found) == BUILTINS, "one generated section per built-in plugin"
    stale = [name for name in BUILTINS if found[name] != expected[name]]
    assert not stale, (
        f"docs/plugins-reference.md is out of date for {stale}; regenerate it with "
        "EARNORM_AOP_REGENERATE_DOCS=1 python3 scripts/test.py tests/cli/test_reference.py"
    )


@pytest.fixture
def reg() -> PluginRegistry:
    reg = PluginRegistry(group=None)

    @plugin("publish", version="2.1.0", requires={"other": ">=1"}, registry=reg)
    class Publish:
        """Publish posts.

        More words that the reference leaves out.
        """

        class Config(BaseModel):
            channel: str = Field("news", description="Where to announce | twice.")
            limit: int = Field(description="How many a day.")

        fields: ClassVar[dict[str, FieldSpec]] = {"published_at": FieldSpec("published_at", int, 0)}

        @hook("after:save", when="status", was="draft", is_now="published")
        def announce(self, instance: Any) -> None:
            """Announce a post once it is published."""

        @when("title", has_changed=True)
        def after_change(self, instance: Any) -> None:
            pass

    @plugin("other", registry=reg)
    class Other:
        def before_save(self, instance: Any) -> None:
            pass

        def model_methods(self) -> dict[str, Any]:
            return {"ping": lambda obj: "pong"}

    return reg


def test_the_reference_shows_hooks_conditions_options_and_contributions(
    reg: PluginRegistry,
) -> None:
    data = reference(reg, "publish")
    assert data["version"] == "2.1.0" and data["requires"] == {"other": ">=1"}
    assert data["description"].startswith("Publish posts.")
    hooks = {h["method"]: h for h in data["hooks"]}
    assert hooks["announce"]["binds"] == "after:save"
    assert hooks["announce"]["condition"] == "when='status', was='draft', is_now='published'"
    assert hooks["after_change"]["kind"] == "event"
    assert hooks["after_change"]["condition"] == "when='title', has_changed=True"
    options = {o["name"]: o for o in data["options"]}
    assert options["channel"]["default"] == "news" and not options["channel"]["required"]
    assert options["limit"]["required"] and options["limit"]["type"] == "int"
    # The fields need the configuration (limit is required), so the reference says so.
    assert data["fields"] == [] and "depends on its configuration" in data["note"]
    assert reference(reg, "other")["methods"] == [{"name": "ping", "kind": "method", "doc": None}]
    md = render_markdown(data)
    assert md.startswith("## `publish` 2.1.0\n\nPublish posts.\n")
    assert "| `channel` | str | `'news'` | Where to announce \\| twice. |" in md
    assert "| `limit` | int | (required) | How many a day. |" in md
    assert "- `announce`: pointcut `after:save`, when `when='status'" in md
    assert "More words" not in md


def test_the_command_prints_markdown_or_json_and_refuses_unknown_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["docs", "softdelete"]) == 0
    out = capsys.readouterr().out
    assert out == render_markdown(reference(registry, "softdelete"))
    assert "- method `Model.with_deleted()`" in out
    assert main(["docs", "softdelete", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (field,) = data["fields"]
    assert field["name"] == "deleted_at" and field["default"] == "None"
    assert main(["docs", "softdelte"]) == 2
    assert "softdelete" in capsys.readouterr().err  # the closest name
