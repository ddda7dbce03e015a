"""docs/earnorm.md: its Python blocks run as written, on EarnORM (Python 3.12+).

The rest of the pages run in the main suite (tests/test_docs.py); this one
needs EarnORM, so the EarnORM step runs it.  The blocks run in page order in
one namespace, as a reader would paste them.
"""

from __future__ import annotations

from typing import Any

from _doc_blocks import run_page

from earnorm_aop.weaving import weaver

PAGE = "docs/earnorm.md"


def test_earnorm_page_examples_run() -> None:
    namespace: dict[str, Any] = {"__name__": "docs_earnorm"}
    try:
        fragments = run_page(PAGE, namespace)
        assert fragments == []
        woven = {
            name: sorted(a.name for a in weaver.effective_aspects(namespace[name]))
            for name in ("User", "Post")
        }
        assert woven == {
            "User": ["cache", "changes", "softdelete", "timestamp"],
            "Post": ["audit", "changes", "lifecycle", "timestamp"],
        }
        assert namespace["db"] is not None  # use_mongomock returned the database
    finally:
        for value in namespace.values():
            if isinstance(value, type) and value in weaver.woven_classes():
                weaver.unweave(value)


def test_the_quickstart_runs_top_to_bottom() -> None:
    """docs/quickstart-earnorm.md, every block in order: its asserts are the checks."""
    namespace: dict[str, Any] = {"__name__": "docs_quickstart_earnorm"}
    try:
        assert run_page("docs/quickstart-earnorm.md", namespace) == []
        assert sorted(a.name for a in weaver.effective_aspects(namespace["Post"])) == [
            "audit",
            "changes",
            "lifecycle",
            "softdelete",
            "timestamp",
        ]
    finally:
        for value in namespace.values():
            if isinstance(value, type) and value in weaver.woven_classes():
                weaver.unweave(value)
