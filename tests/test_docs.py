"""The Python examples in the README and the tutorial run as written.

Blocks of one page run in order in one namespace, as a reader would paste
them; plugins they register in the default registry are unregistered after.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from earnorm_aop import registry
from earnorm_aop.weaving import weaver

ROOT = Path(__file__).resolve().parent.parent


def blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), re.S)


@pytest.fixture
def clean_default_registry() -> Iterator[None]:
    before = set(registry._explicit)
    yield
    for name in set(registry._explicit) - before:
        registry.unregister(name)
        # The page switches its plugin off live; a later "stamp" starts afresh.
        registry._switches.pop(name, None)


@pytest.mark.usefixtures("clean_default_registry")
@pytest.mark.parametrize("page", ["README.md", "docs/tutorial.md"])
def test_page_examples_run(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = blocks(page)
    assert code, f"{page} has no Python example"
    namespace: dict[str, Any] = {"__name__": f"docs_{Path(page).stem}"}
    try:
        for block in code:
            exec(compile(block, page, "exec"), namespace)
        out = capsys.readouterr().out
        if page == "README.md":
            assert namespace["note"].stamped is True
            assert "stamp.before_save" in out
        else:
            assert "saved at" in out
            assert "stamp.before_save" in out
            assert "stamp before save" in out  # the trace loop's record
    finally:
        for value in namespace.values():
            if isinstance(value, type) and value in weaver.woven_classes():
                weaver.unweave(value)


# -- files the docs name ---------------------------------------------------------------

PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]

# A markdown link: [text](target); URLs and anchors on the same page are left out.
_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path in the text: at least one folder and a file name with an extension, such
# as tests/django_orm/test_django_builtins.py.
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


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_page_names_exists(page: str) -> None:
    path = ROOT / page
    named = named_files(path.read_text(), path.parent)
    missing = [name for name, places in named if not any(p.exists() for p in places)]
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
