"""Pointcuts: which methods of a model an advice applies to.

A pointcut is ``KIND:METHODS`` where ``METHODS`` is a name, a glob (``get_*``) or alternatives
joined by ``|``.  A spec without a colon is an *event name*: ``before_save`` means ``before:save``
on a model that has ``save`` and a custom event otherwise (see
[`split_event`][earnorm_aop.weaving.pointcut.split_event]).  Parsing happens once, when a hook is
declared, so a typo fails at import time rather than at the first call.
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import PointcutError

__all__ = ["Kind", "Pointcut", "parse_pointcut", "split_event"]


class Kind(enum.Enum):
    """When an advice runs relative to the method it advises."""

    BEFORE = "before"
    AFTER = "after"
    AROUND = "around"
    CHAIN = "chain"
    ERROR = "error"
    # Commit-aware advice (see earnorm_aop.weaving.commit): bound like ``after``
    # at the write, run when the outermost transaction commits or rolls back.
    AFTER_COMMIT = "after_commit"
    AFTER_ROLLBACK = "after_rollback"


_KINDS = {k.value: k for k in Kind}
# Longest first, so ``after_commit_save`` splits as after_commit + save.
_PREFIXES = sorted(_KINDS, key=len, reverse=True)
_KIND_LIST = ", ".join(_KINDS)
# One alternative: identifier characters (any script, as Python names may be)
# plus the glob characters of fnmatch.
_PATTERN = re.compile(r"^[\w*?\[\]!]+$")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Pointcut:
    """A parsed ``KIND:METHODS`` pointcut."""

    kind: Kind
    patterns: tuple[str, ...]
    # The names it selected, by the model's method names (planning._matches).
    selected: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __str__(self) -> str:
        return f"{self.kind.value}:{'|'.join(self.patterns)}"

    def matches(self, name: str) -> bool:
        """Whether the method called ``name`` is selected by this pointcut.

        Globs never select names starting with ``_`` unless the pattern itself
        starts with ``_``: ``*`` must not weave ``__init__`` or private helpers.
        """
        for pattern in self.patterns:
            if not _GLOB_CHARS.intersection(pattern):
                if pattern == name:
                    return True
            elif (not name.startswith("_") or pattern.startswith("_")) and fnmatch.fnmatchcase(
                name, pattern
            ):
                return True
        return False

    def select(self, names: Iterable[str]) -> list[str]:
        """The names, in the given order, that this pointcut selects."""
        return [n for n in names if self.matches(n)]

    @property
    def exact_names(self) -> tuple[str, ...]:
        """The alternatives that are plain names rather than globs."""
        return tuple(p for p in self.patterns if not _GLOB_CHARS.intersection(p))


def parse_pointcut(spec: str) -> Pointcut:
    """Parse ``KIND:METHODS``; raise ``PointcutError`` saying what is wrong.

    A pointcut is immutable, so each text is parsed once per process and the
    result shared by every model woven with it (a plugin's hooks are read
    again for each model it is woven on).
    """
    if not isinstance(spec, str):
        raise PointcutError(f"a pointcut must be a string like 'before:save', not {spec!r}")
    return _parse(spec)


@functools.lru_cache(maxsize=4096)
def _parse(spec: str) -> Pointcut:
    kind_text, sep, methods = spec.partition(":")
    if not sep:
        raise PointcutError(
            f"pointcut {spec!r} has no ':'; write KIND:METHODS such as 'before:save' "
            f"(valid kinds: {_KIND_LIST})"
        )
    kind = _KINDS.get(kind_text.strip())
    if kind is None:
        raise PointcutError(
            f"pointcut {spec!r} has unknown kind {kind_text!r}; valid kinds: {_KIND_LIST}"
        )
    patterns = tuple(p.strip() for p in methods.split("|"))
    for pattern in patterns:
        if not pattern or not _PATTERN.match(pattern):
            raise PointcutError(
                f"pointcut {spec!r} has a bad method pattern {pattern!r}; use a method "
                "name, a glob such as 'get_*' or '*', or alternatives like 'save|update'"
            )
    return Pointcut(kind, patterns)


def split_event(name: str) -> tuple[Kind, str] | None:
    """Split a convention name (``before_save``) into its kind and method name.

    Returns ``None`` when the name has no kind prefix; such a name can only be
    a custom event.
    """
    for prefix in _PREFIXES:
        if name.startswith(prefix + "_") and len(name) > len(prefix) + 1:
            return _KINDS[prefix], name[len(prefix) + 1 :]
    return None


def is_pointcut(spec: str) -> bool:
    """Whether ``spec`` is written as a pointcut (has a colon) rather than an event name."""
    return ":" in spec


def check_event_name(spec: str) -> str:
    """Validate an event name (``after_change``): an identifier, no glob."""
    if not isinstance(spec, str) or not spec.isidentifier():
        raise PointcutError(
            f"{spec!r} is neither a pointcut ('KIND:METHODS', valid kinds: {_KIND_LIST}) "
            "nor an event name (an identifier such as 'after_change')"
        )
    return spec
