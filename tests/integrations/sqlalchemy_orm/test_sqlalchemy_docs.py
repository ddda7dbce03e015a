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
