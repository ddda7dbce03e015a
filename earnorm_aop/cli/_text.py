"""Text for a terminal: docstrings without reST markup, and aligned columns.

Plugin descriptions and option help come from docstrings written for the API
reference; a shell shows them better without the links, roles and double backquotes.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import TextIO

_LINK = re.compile(r"\[`([^`]*)`\]\[[\w.]*\]")  # [`Name`][dotted.path] (mkdocstrings)
_ROLE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`([^`]*)`")


_LITERAL = re.compile(r"``([^`]*)``")


_DEFAULT_ROLE = re.compile(r"`([^`]*)`")


def _role_text(match: re.Match[str]) -> str:
    text = match.group(1)
    explicit = re.fullmatch(r"(.*?)\s*<[^>]*>", text, re.S)
    if explicit:  # :ref:`the title <target>` -> the title
        return explicit.group(1)
    if text.startswith("~"):  # :class:`~pkg.mod.Name` -> Name
        return text[1:].rsplit(".", 1)[-1]
    return text


def plain(text: str) -> str:
    """``text`` (a docstring) without markup: ``x`` -> x, :class:`~a.B` -> B.

    The package's own docstrings link as mkdocstrings renders them
    (``[`B`][a.B]`` -> B); a plugin's may still use Sphinx roles.
    """
    text = _LINK.sub(r"\1", text)
    text = _ROLE.sub(_role_text, text)
    text = _LITERAL.sub(r"\1", text)
    return _DEFAULT_ROLE.sub(r"\1", text)


def print_table(rows: Sequence[Sequence[str]], out: TextIO, *, wrap_last: int = 0) -> None:
    """Rows in columns; the last column is wrapped to ``wrap_last`` characters if given."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    indent = sum(widths) + 2 * len(widths)
    for row in rows:
        cells = [f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False)]
        last = row[-1]
        lines = textwrap.wrap(last, wrap_last) if wrap_last and last else [last]
        print("  ".join([*cells, lines[0]]).rstrip(), file=out)
        for more in lines[1:]:
            print(" " * indent + more, file=out)
