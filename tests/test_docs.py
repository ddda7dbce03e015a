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
