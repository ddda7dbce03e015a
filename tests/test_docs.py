"""Every Python block of the README and of every docs/ page runs as written.

Blocks of one page run in order in one namespace, as a reader would paste
them (``tests/_doc_blocks.py``); what they register, weave, mask or share is
undone after the page.  Most pages run on plain classes and the in-memory
store; the Django ones run on the Django test setup (``tests/_django_setup.py``),
in an isolated app registry so the models they define never reach the test
app; docs/earnorm.md runs in the EarnORM step (Python 3.12+:
``tests/integrations/earnorm_orm/test_earnorm_docs.py``).  A block that cannot run on its
own (a settings excerpt, a Celery module) is marked ```` ```{.python .fragment} ````
and must compile.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _doc_blocks import FRAGMENT, ROOT, RUNS, blocks, run_page

from earnorm_aop import registry
from earnorm_aop.integrations.memory import default_store
from earnorm_aop.plugin_system import masking
from earnorm_aop.testing._ci import ci
from earnorm_aop.weaving import weaver

pytest_plugins = ["pytester"]

DOC_PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))
# Pages another test runs: the EarnORM step runs its page on Python 3.12+; the
# SQLAlchemy tests run theirs (the page and its test land together).
RUN_ELSEWHERE = {
    "docs/earnorm.md": "tests/integrations/earnorm_orm/test_earnorm_docs.py",
    "docs/quickstart-earnorm.md": "tests/integrations/earnorm_orm/test_earnorm_docs.py",
    "docs/quickstart-django.md": "tests/integrations/django_orm/test_django_quickstart_page.py",
    "docs/sqlalchemy.md": "tests/integrations/sqlalchemy_orm/test_sqlalchemy_docs.py",
    "docs/quickstart-sqlalchemy.md": "tests/integrations/sqlalchemy_orm/test_sqlalchemy_docs.py",
}


@pytest.fixture
def page_state() -> Iterator[dict[str, Any]]:
    """A page's namespace; afterwards its classes are unwoven, its masks and rows dropped."""
    namespace: dict[str, Any] = {}
    masks = (set(masking._global), dict(masking._models))
    audit_rows = len(default_store.audit)
    before = set(registry._explicit)
    try:
        yield namespace
    finally:
        for value in list(namespace.values()):
            if isinstance(value, type) and value in weaver.woven_classes():
                weaver.unweave(value)
            if isinstance(value, type):
                default_store._tables.pop(value, None)
        for name in set(registry._explicit) - before:
            registry.unregister(name)
            registry._switches.pop(name, None)  # a later page's plugin of that name starts afresh
        masking.unmask()
        masking.mask(*masks[0])
        masking._models.clear()
        masking._models.update(masks[1])
        masking._resolved.clear()
        del default_store.audit[audit_rows:]


# -- the pages ---------------------------------------------------------------------------


def _readme(namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run_page("README.md", namespace)
    assert namespace["note"].stamped is True
    assert "stamp.before_save" in capsys.readouterr().out


def _tutorial(namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run_page("docs/tutorial.md", namespace)
    out = capsys.readouterr().out
    assert "saved at" in out
    assert "stamp.before_save" in out
    assert "stamp before save" in out  # the trace loop's record


def _readers_objects(namespace: dict[str, Any]) -> None:
    """What a reader has where a block uses it without making it: a request, an article."""
    namespace.setdefault("request", SimpleNamespace(user=SimpleNamespace(username="alice")))
    if "Article" in namespace and "article" not in namespace:
        namespace["article"] = namespace["Article"](title="Hello")


def _plugins(namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with _django_models():
        run_page("docs/plugins.md", namespace, _readers_objects)
    article = namespace["article"]
    label = f"{namespace['__name__']}.Article"
    (record,) = [r for r in default_store.audit if r["model"] == label and r["id"] == article.id]
    assert record["actor"] == "alice", "the context block's actor is the audit record's"


def _publishing(namespace: dict[str, Any]) -> None:
    run_page("docs/publishing.md", namespace)
    assert namespace["tag"].slug == "big-news"  # the upgraded configuration is in force


def _semantics(namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run_page("docs/semantics.md", namespace)
    from earnorm_aop import with_plugins
    from earnorm_aop.integrations.memory import MemoryModel

    # The conditions of "publishing" are compiled at weave time, on a model with those fields.
    @with_plugins("publishing", "notify")
    class Story(MemoryModel):
        id: int | None = None
        status: str = "draft"
        title: str = ""
        body: str = ""
        price: int = 0

    namespace["Story"] = Story  # unwoven with the page's classes
    story = Story(title="t")
    story.save()
    story.status = "published"
    story.save()


def _django(namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with _django_models():
        fragments = run_page("docs/django.md", namespace)
        fields = {f.name for f in namespace["Article"]._meta.get_fields()}
        assert {"created_at", "updated_at", "deleted_at"} <= fields, "the plugins' fields"
        woven = {a.name for a in weaver.effective_aspects(namespace["Comment"])}
        assert {"timestamp", "cache"} <= woven
    (settings,) = fragments
    exec(settings.compiled(), scope := {})
    from django.apps import apps

    app = "earnorm_aop.integrations.django"
    assert app in scope["INSTALLED_APPS"]
    assert apps.get_app_config("earnorm_aop").name == app, "the label the page gives"


def _admin_and_metrics(namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        run_page("docs/admin-and-metrics.md", namespace)
    finally:
        if "collector" in namespace:
            namespace["collector"].unregister()
    # The keys the first block's comment shows are the keys metrics() gives.
    first = blocks("docs/admin-and-metrics.md")[0].code
    health, metrics = first.split('registry.metrics("audit")')
    outcomes = {"ok", "failed"}  # the keys of the example's "runs"
    assert set(re.findall(r'"(\w+)":', metrics)) - outcomes == set(registry.metrics("audit"))
    assert set(re.findall(r'# \{"(\w+)":[^,]*, "(\w+)":', health)[0]) == set(registry.health())


def _migrations(namespace: dict[str, Any]) -> None:
    """The schema plugin of the page adds its fields and runs its hook on a model."""
    run_page("docs/migrations.md", namespace)
    from earnorm_aop import with_plugins
    from earnorm_aop.integrations.memory import MemoryModel

    @with_plugins("reviewed")
    class Paper(MemoryModel):
        id: int | None = None
        title: str = ""

    namespace["Paper"] = Paper  # unwoven after the page
    paper = Paper(title="x")
    paper.save()
    assert (paper.reviewed_at, paper.reviews) == (None, 1)


def _operations(namespace: dict[str, Any], request: pytest.FixtureRequest) -> None:
    """Run the page (its Redis block on a real redis-server), then check its fragments."""
    from concurrent.futures import ThreadPoolExecutor

    from earnorm_aop import with_plugins
    from earnorm_aop.integrations.django import middleware
    from earnorm_aop.integrations.memory import MemoryModel

    @with_plugins(audit={"sink": "table"})
    class Article(MemoryModel):
        id: int | None = None
        title: str = ""

    redis_url = request.getfixturevalue("redis_url")
    page = "docs/operations.md"
    audited = len(default_store.audit)
    saved: list[object] = []

    def given(ns: dict[str, Any]) -> None:
        ns.setdefault("article", Article(title="Hello"))
        ns.setdefault("item", ns["article"])
        ns.setdefault("executor", executor)
        ns.setdefault("other_work", saved.append)

    fragments = []
    with ThreadPoolExecutor(max_workers=1) as executor:
        try:
            for block in blocks(page):
                if "RedisSwitchboard" in block.code:
                    assert registry.switchboard is None
                if block.fragment:
                    fragments.append(block)
                    continue
                given(namespace)
                code = block.code.replace('"redis://cache:6379/0"', repr(redis_url))
                exec(compile("\n" * block.line + code, page, "exec"), namespace)
            assert registry.switchboard is not None, "the page's share() is in force"
        finally:
            registry.unshare()
            weaver.unweave(Article)
            default_store._tables.pop(Article, None)
    assert masking.masked_fields(namespace["Account"]) == {"password", "token", "pin"}
    assert masking.masked_fields(namespace["Card"]) == {"password", "token", "number"}
    actors = [r["actor"] for r in default_store.audit[audited:]]
    assert actors[0] == "alice", "the first block's audit record says actor='alice'"
    assert saved == [namespace["article"]], "context.bind(other_work) ran it"
    # The settings excerpts name only keys the middleware knows.
    settings = [b for b in fragments if "EARNORM_AOP_CONTEXT" in b.code]
    assert settings, "the page's EARNORM_AOP_CONTEXT example is gone"
    exec(settings[0].compiled(), scope := {})
    assert set(scope["EARNORM_AOP_CONTEXT"]) <= set(middleware._KEYS)
    (middlewares,) = [b for b in fragments if "MIDDLEWARE" in b.code]
    exec(middlewares.compiled(), scope := {})
    assert scope["MIDDLEWARE"][-1] == f"{middleware.__name__}.ContextMiddleware"
    (celery,) = [b for b in fragments if "celery" in b.code]
    _celery_handlers_carry_the_context(celery, request)


def _celery_handlers_carry_the_context(block: Any, request: pytest.FixtureRequest) -> None:
    """The Celery handlers, called as Celery calls them, hand the context to the task.

    Celery is not a dependency; where it is missing, its ``celery.signals`` is
    stood in for by signals whose ``connect`` returns the handler, as Celery's does.
    """
    import types

    from earnorm_aop import context

    if importlib.util.find_spec("celery") is None:
        signals = types.ModuleType("celery.signals")
        for name in ("before_task_publish", "task_prerun", "task_postrun"):
            setattr(signals, name, SimpleNamespace(connect=lambda handler: handler))
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setitem(sys.modules, "celery", types.ModuleType("celery"))
        monkeypatch.setitem(sys.modules, "celery.signals", signals)
    handlers: dict[str, Any] = {}
    exec(block.compiled(), handlers)
    headers: dict[str, Any] = {}
    with context(actor="alice", request_id="r-42"):
        handlers["send_context"](headers=headers)  # in the web process
    task = SimpleNamespace(request=SimpleNamespace(headers=headers))
    handlers["restore_context"](task_id="t1", task=task)  # in the worker
    try:
        assert (context.actor, context.request_id) == ("alice", "r-42")
    finally:
        handlers["end_context"](task_id="t1")
    assert context.actor is None


def _reference(namespace: dict[str, Any], pytester: pytest.Pytester) -> None:
    (block,) = [b for b in blocks("docs/reference.md") if not b.fragment]
    pytester.makepyfile(test_reference_example=block.code)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


# A drawn diagram: the expression that draws it in a comment, then its Mermaid block.
_DIAGRAM = re.compile(r"^<!-- (explain\([^\n]*\)) -->\n```mermaid\n(.*?)^```$", re.M | re.S)


def _diagrams(namespace: dict[str, Any]) -> None:
    """docs/diagrams.md: each Mermaid block is still what its expression draws."""
    run_page("docs/diagrams.md", namespace)
    page = ROOT / "docs" / "diagrams.md"
    if os.environ.get("EARNORM_AOP_REGENERATE_DOCS"):  # as tests/cli/test_reference.py does
        page.write_text(
            _DIAGRAM.sub(
                lambda m: f"<!-- {m[1]} -->\n```mermaid\n{eval(m[1], namespace)}```",
                page.read_text(),
            )
        )
    found = _DIAGRAM.findall(page.read_text())
    assert len(found) >= 5
    stale = [expr for expr, chart in found if eval(expr, namespace) != chart]
    assert not stale, (
        f"docs/diagrams.md: the diagrams of {stale} changed; paste each expression's "
        "output (print(...)) in place of its block"
    )
    assert all("-->" in chart for _, chart in found)


@contextmanager
def _django_models() -> Iterator[None]:
    """Django set up for tests; models defined inside belong to an isolated registry.

    A page's models are defined in a module named ``djangoapp.docs_<page>``
    (``MODULE_NAMES``), so Django takes them for the test app's, in a registry
    of their own that vanishes with the block: the test app keeps its models.
    """
    import _django_setup

    _django_setup.configure()
    from django.test.utils import isolate_apps

    with isolate_apps("djangoapp"):
        yield


PAGE_RUNNERS: dict[str, Callable[..., None]] = {
    "README.md": _readme,
    "docs/tutorial.md": _tutorial,
    "docs/plugins.md": _plugins,
    "docs/publishing.md": _publishing,
    "docs/semantics.md": _semantics,
    "docs/django.md": _django,
    "docs/admin-and-metrics.md": _admin_and_metrics,
    "docs/operations.md": _operations,
    "docs/migrations.md": _migrations,
    "docs/reference.md": _reference,
    "docs/diagrams.md": _diagrams,
}
MODULE_NAMES = {
    "docs/plugins.md": "djangoapp.docs_plugins",
    "docs/django.md": "djangoapp.docs_django",
}


@pytest.mark.parametrize("page", sorted(PAGE_RUNNERS))
def test_page_examples_run(
    page: str, page_state: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    runner = PAGE_RUNNERS[page]
    page_state["__name__"] = MODULE_NAMES.get(page, f"docs_{Path(page).stem.replace('-', '_')}")
    needs = runner.__code__.co_varnames[1 : runner.__code__.co_argcount]
    runner(page_state, *(request if n == "request" else request.getfixturevalue(n) for n in needs))


@pytest.mark.parametrize("page", ["README.md", *DOC_PAGES])
def test_every_python_block_is_run_or_a_fragment(page: str) -> None:
    """Each page with Python has a runner; a fence naming Python is one of the two kinds."""
    found = blocks(page)
    odd = [f"{b.where}: ```{b.info}" for b in found if b.info not in (RUNS, FRAGMENT)]
    assert not odd, (
        f"use ```{RUNS} (it runs) or ```{FRAGMENT} (it cannot run on its own); "
        f"mkdocs does not render other info strings as Python: {odd}"
    )
    if any(not b.fragment for b in found):
        assert page in PAGE_RUNNERS or page in RUN_ELSEWHERE, (
            f"{page} has Python blocks no test runs: add it to PAGE_RUNNERS in {__file__}"
        )
    for block in found:
        if block.fragment:
            block.compiled()  # a fragment still compiles


def test_every_name_the_reference_lists_is_importable_from_the_package() -> None:
    """docs/reference.md: "Everything here is importable from earnorm_aop" (its first tables)."""
    import earnorm_aop

    text = (ROOT / "docs" / "reference.md").read_text()
    listed = re.findall(r"^\| `([A-Za-z_]\w*)", text[: text.index("## The registry")], re.M)
    assert len(listed) > 15
    assert [name for name in listed if not hasattr(earnorm_aop, name)] == []


def _option_tables(text: str) -> dict[str, dict[str, str]]:
    """Each plugin section's `| option | default | meaning |` rows: option -> default."""
    tables = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = re.match(r"`(\w+)`", section)
        table = re.search(
            r"^\| option \| default \| meaning \|\n\|[-|]+\|\n((?:\|.*\n)+)", section, re.M
        )
        if name and table:
            rows = re.findall(r"^\| `(\w+)` \| ([^|]*) \|", table.group(1), re.M)
            tables[name.group(1)] = {option: default.strip() for option, default in rows}
    return tables


def test_the_built_in_option_tables_are_the_config_schemas() -> None:
    """docs/plugins.md lists each built-in's options, with the defaults its Config has."""
    import ast

    tables = _option_tables((ROOT / "docs" / "plugins.md").read_text())
    assert sorted(tables) == sorted(
        ["timestamp", "changes", "softdelete", "cache", "audit", "validation"]
    )
    for name, options in tables.items():
        schema = registry.get_plugin(name).config_schema["properties"]
        assert sorted(options) == sorted(schema), f"{name}: the page's options are not its Config's"
        for option, default in options.items():
            shown = ast.literal_eval(re.match(r"`([^`]*)`", default).group(1))  # type: ignore[union-attr]
            assert shown == schema[option].get("default", shown), f"{name}.{option}: default"


def test_the_pages_run_elsewhere_have_their_test() -> None:
    present = {page: test for page, test in RUN_ELSEWHERE.items() if (ROOT / page).exists()}
    assert "docs/earnorm.md" in present
    for page, test in present.items():
        assert (ROOT / test).exists(), f"{page} is said to be run by {test}, which is missing"
        assert Path(page).name in (ROOT / test).read_text(), f"{test} does not run {page}"


def test_block_reader_sees_both_kinds_and_odd_ones(tmp_path: Path) -> None:
    """The parser finds runnable blocks, fragments and odd info strings, with their lines."""
    page = tmp_path / "page.md"
    page.write_text(
        "# t\n\n```python\na = 1\n```\n\n```\nshell\n```\n\n"
        "```{.python .fragment}\nX = [...]\n```\n\n```python fragment\nb\n```\n"
    )
    found = blocks(str(page))
    assert [(b.line, b.info, b.fragment) for b in found] == [
        (3, "python", False),
        (11, "{.python .fragment}", True),
        (15, "python fragment", False),
    ]


# -- mkdocs --------------------------------------------------------------------------------


def test_mkdocs_nav_lists_every_page_once() -> None:
    text = (ROOT / "mkdocs.yml").read_text()
    nav = re.findall(r"^\s+- [^:\n]+:\s*(\S+\.md)\s*$", text, re.M)
    assert nav, "mkdocs.yml has no nav"
    on_disk = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert sorted(nav) == on_disk, "mkdocs.yml's nav and the pages in docs/ differ"
    assert len(set(nav)) == len(nav), "a page is listed twice in the nav"


def test_mkdocs_builds_the_site_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict`` passes; a fragment is Python code; diagrams are Mermaid."""
    if importlib.util.find_spec("mkdocs") is None:
        reason = "mkdocs is not installed (it is in the test extra: pip install -e '.[test]')"
        if ci():
            pytest.fail(f"{reason}; CI is set, so the site must be built")
        pytest.skip(reason)
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    operations = (site / "operations" / "index.html").read_text()
    fragment = operations.index('<div class="fragment highlight">')  # highlighted as Python
    assert '<code><span class="n">' in operations[fragment : fragment + 200]
    assert "```" not in operations, "a fence mkdocs did not read as a code block"
    api = (site / "api" / "index.html").read_text()  # mkdocstrings read the docstrings
    for name in (
        "earnorm_aop.PluginRegistry.rollout",
        "earnorm_aop.explain",
        "earnorm_aop.plugin_system.diagrams.ModelDiagram.to_mermaid",
        "earnorm_aop.integrations.django.debug_toolbar.PluginsPanel",
    ):
        assert f'id="{name}"' in api, name
    diagrams = (site / "diagrams" / "index.html").read_text()
    assert diagrams.count('<pre class="mermaid"><code>flowchart LR') >= 5  # drawn by the theme


# -- files the docs name ---------------------------------------------------------------

PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]

# A markdown link: [text](target); URLs and anchors on the same page are left out.
_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path in the text: at least one folder and a file name with an extension, such
# as tests/integrations/django_orm/test_django_builtins.py.
_PATH = re.compile(
    r"(?<![\w./:-])((?:\.?[\w-]+/)+[\w.-]+\.(?:py|md|toml|yml|yaml|txt|cfg|json|ini))\b"
)
# A project document named on its own, such as DESIGN.md or CHANGELOG.md.
_DOCUMENT = re.compile(r"(?<![\w./-])([A-Z][A-Z0-9_-]*\.md)\b")


def named_files(text: str, here: Path) -> list[tuple[str, list[Path]]]:
    """Every file ``text`` (a page in folder ``here``) names, with where it may live."""
    found: list[tuple[str, list[Path]]] = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # https://..., mailto:, an anchor on this page
        found.append((target, [here / target.split("#", 1)[0]]))
    for path in _PATH.findall(text):
        found.append((path, [ROOT / path, here / path]))
    for name in _DOCUMENT.findall(text):
        found.append((name, [ROOT / name, here / name]))
    return found


def readers_files(page: str) -> set[str]:
    """The files a page has its reader write: each fragment's first line ``# path[: ...]``."""
    found = set()
    for block in blocks(page):
        first = block.code.partition("\n")[0]
        if block.fragment and first.startswith("# "):
            found.add(first[2:].partition(":")[0].strip())
    return found


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_page_names_exists(page: str) -> None:
    path = ROOT / page
    named = named_files(path.read_text(), path.parent)
    own = readers_files(page)  # a quickstart's blog/models.py is the reader's, not ours
    missing = [
        name for name, places in named if name not in own and not any(p.exists() for p in places)
    ]
    assert not missing, f"{page} names files that are not in the repository: {missing}"


def test_the_file_check_sees_links_paths_and_documents() -> None:
    """Each kind of reference is found, so the check above can fail."""
    text = (
        "see `DESIGN.md`, [x](nowhere.md#a), [y](#here), tests/no_such_test.py, "
        "[z](https://example.org/a.md) and [w](../README.md)"
    )
    named = dict(named_files(text, ROOT / "docs"))
    assert set(named) == {"DESIGN.md", "nowhere.md#a", "tests/no_such_test.py", "../README.md"}
    assert not any(p.exists() for p in named["DESIGN.md"])
    assert not any(p.exists() for p in named["nowhere.md#a"])
    assert any(p.exists() for p in named["../README.md"])


# -- installing ----------------------------------------------------------------------------


def test_every_extra_is_documented_in_the_readme() -> None:
    """Each extra of pyproject.toml has a row in the README's table, and a pip line shows them."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    readme = (ROOT / "README.md").read_text()
    rows = set(re.findall(r"^\| `([\w-]+)` \|", readme, re.M))
    assert sorted(rows) == sorted(extras), "README's extras table differs from pyproject.toml"
    assert re.search(r'^pip install "earnorm-aop\[[\w,]+\]"', readme, re.M), (
        "README shows no pip install line with extras"
    )


def test_the_readme_still_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert first_block is not None
    assert [line.split()[:2] for line in first_block.group(1).splitlines()] == [
        ["python3", "scripts/demo.py"],
        ["python3", "scripts/test.py"],
    ]
