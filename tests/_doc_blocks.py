"""The Python blocks of the documentation pages, as the docs tests read them.

A block opens with ```` ```python ```` (it runs) or ```` ```{.python .fragment} ````
(an excerpt that cannot run on its own: a ``settings.py`` or Celery module;
it must still compile).  mkdocs' ``fenced_code`` renders both as Python; an
info string such as ```` ```python fragment ```` would not be read as a code
block at all, so any other opening that names Python is refused by the tests.

The blocks of one page run in page order in one namespace, as a reader would
paste them: later blocks may use what earlier ones defined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

RUNS = "python"
FRAGMENT = "{.python .fragment}"
# An opening fence and its info string, then the code up to the closing fence.
_BLOCK = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    info: str
    code: str

    @property
    def fragment(self) -> bool:
        return self.info == FRAGMENT

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def compiled(self) -> Any:
        # Line numbers in tracebacks are the page's: the block's first line
        # is the one after the fence.
        return compile("\n" * self.line + self.code, self.page, "exec")


def blocks(page: str, *, python_only: bool = True) -> list[Block]:
    """The fenced blocks of ``page`` (relative to the repository root), in page order."""
    text = (ROOT / page).read_text()
    found = []
    for match in _BLOCK.finditer(text):
        info = match.group(1).strip()
        if python_only and "python" not in info:
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, info, match.group(2)))
    return found


def run_page(page: str, namespace: dict[str, Any], before_each: Any = None) -> list[Block]:
    """Run every non-fragment block of ``page`` in ``namespace``; return the fragments.

    ``before_each(namespace)``, if given, runs before each block: it puts in
    what a reader of the page already has (their ``request``, an ``article``)
    where the page uses it without making it.
    """
    fragments = []
    for block in blocks(page):
        if block.fragment:
            fragments.append(block)
            continue
        if before_each is not None:
            before_each(namespace)
        exec(block.compiled(), namespace)
    return fragments
