"""Helpers of the EarnORM tests: a unique model name per test, one event loop per scenario."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_names = itertools.count(1)


def unique(stem: str) -> str:
    """A model ``_name`` no other test uses (EarnORM registers each name once)."""
    return f"{stem}_{next(_names)}"


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run one test's async scenario on a new event loop."""
    return asyncio.run(scenario)
