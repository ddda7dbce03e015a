"""EarnORM on mongomock-motor for the EarnORM integration tests (Python 3.12+).

Every test gets a fresh in-memory database (``use_mongomock``), and runs its
scenario with ``_earnorm_helpers.run`` (``asyncio.run``), so each test has its own event
loop.  Model classes are defined inside the tests: the suite's conftest
unweaves them afterwards.  EarnORM registers a model's ``_name`` once per
process, so ``_earnorm_helpers.unique`` gives each test model its own.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _earnorm_helpers import unique

from earnorm_aop.testing._ci import ci

if (
    importlib.util.find_spec("earnorm") is None
    or importlib.util.find_spec("mongomock_motor") is None
):
    _reason = (
        "EarnORM is not installed: pip install -e '.[earnorm]' on Python 3.12+ "
        "(python3 scripts/test.py does it in .venv312)"
    )
    if ci():
        raise RuntimeError(f"{_reason}; CI is set, so the EarnORM tests must run")
    collect_ignore_glob = ["test_*.py"]

    def pytest_report_header() -> str:
        return f"tests/integrations/earnorm_orm skipped: {_reason}"


@pytest.fixture(autouse=True)
def mongo() -> Iterator[Any]:
    """A fresh in-memory MongoDB behind EarnORM; EarnORM's chatty INFO logging muted."""
    from earnorm_aop.integrations.earnorm import use_mongomock

    logging.getLogger("earnorm").setLevel(logging.WARNING)
    yield use_mongomock(unique("db"))
