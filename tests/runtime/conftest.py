"""The ``boards`` fixture of the shared-switch tests (their helpers: ``tests/_switchboards.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from earnorm_aop import PluginRegistry


@pytest.fixture
def boards() -> Iterator[list[PluginRegistry]]:
    """Registries to unshare at the end (their listener threads stop)."""
    made: list[PluginRegistry] = []
    yield made
    for reg in made:
        reg.unshare()
