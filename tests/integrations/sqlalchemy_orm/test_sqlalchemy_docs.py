"""The Python examples of docs/sqlalchemy.md run as written, in order, in one namespace."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

from earnorm_aop.weaving import weaver

PAGE = Path(__file__).resolve().parents[3] / "docs" / "sqlalchemy.md"


def test_page_examples_run() -> None:
    code = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(code) >= 3
    # SQLAlchemy resolves annotations (Mapped[int]) in the class's module.
    module = types.ModuleType("docs_sqlalchemy")
    sys.modules[module.__name__] = module
    namespace = vars(module)
    try:
        for block in code:
            exec(compile(block, str(PAGE), "exec"), namespace)
        engine = namespace["engine"]
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT title, deleted_at FROM article").all()
        assert len(rows) == 2 and all(deleted is not None for _, deleted in rows)
        assert {t for t, _ in rows} == {"renamed", "gone"}
    finally:
        for value in namespace.values():
            if isinstance(value, type) and value in weaver.woven_classes():
                weaver.unweave(value)
        del sys.modules[module.__name__]


def test_the_quickstart_runs_top_to_bottom() -> None:
    """docs/quickstart-sqlalchemy.md, every block in order: its asserts are the checks.

    Its audit trail (the sync and the async half each) is checked by the page's
    own ``assert`` lines; here, that it ran them all and that the rows are stored.
    """
    from _doc_blocks import blocks

    page = "docs/quickstart-sqlalchemy.md"
    found = blocks(page)
    assert [b.fragment for b in found] == [False] * 4
    module = types.ModuleType("docs_quickstart_sqlalchemy")
    sys.modules[module.__name__] = module
    namespace = vars(module)
    try:
        for block in found:
            exec(block.compiled(), namespace)
        with namespace["engine"].connect() as conn:
            rows = conn.exec_driver_sql("SELECT title, deleted_at FROM post").all()
        assert [(title, deleted is not None) for title, deleted in rows] == [("Hello, world", True)]
    finally:
        for value in namespace.values():
            if isinstance(value, type) and value in weaver.woven_classes():
                weaver.unweave(value)
        del sys.modules[module.__name__]
