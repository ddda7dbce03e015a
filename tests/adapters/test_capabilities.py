"""Capabilities: what one plugin needs, provided per adapter class, made once per adapter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from earnorm_aop.adapters.base import Adapter, adapter_for
from earnorm_aop.adapters.capabilities import provide, provided
from earnorm_aop.adapters.capability_keys import AUDIT_STORE
from earnorm_aop.plugins.cache_rows import CACHED_ROWS, PlainCachedRows, cached_rows


class _Made:
    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter


class _Other(_Made):
    pass


def test_the_nearest_class_provides_and_each_adapter_gets_one_made_once() -> None:
    class Base(Adapter):
        pass

    class Child(Base):
        pass

    provide(Base, "test thing", _Made)
    child, base = Child(), Base()
    made = provided(child, "test thing", _Other)
    assert type(made) is _Made and made.adapter is child  # inherited from Base's
    assert provided(child, "test thing", _Other) is made  # once per adapter
    assert provided(base, "test thing", _Other) is not made
    provide(Child, "test thing", _Other)  # a class of its own, registered later, wins
    assert type(provided(child, "test thing", _Made)) is _Other
    assert type(provided(base, "test thing", _Other)) is _Made


def test_without_a_provider_the_plugin_s_own_is_used() -> None:
    class Lone(Adapter):
        pass

    lone = Lone()
    assert type(provided(lone, "nobody provides this", _Other)) is _Other
    assert type(cached_rows(lone)) is PlainCachedRows


def test_every_integration_provides_the_cache_s_capability() -> None:
    django = pytest.importorskip("django")
    assert django
    from earnorm_aop.integrations.django import DjangoAdapter
    from earnorm_aop.integrations.django.capabilities import DjangoCachedRows
    from earnorm_aop.integrations.sqlalchemy import SQLAlchemyAdapter
    from earnorm_aop.integrations.sqlalchemy.capabilities import SQLAlchemyCachedRows

    assert type(provided(DjangoAdapter(), CACHED_ROWS, PlainCachedRows)) is DjangoCachedRows
    assert type(cached_rows(SQLAlchemyAdapter())) is SQLAlchemyCachedRows
    assert type(cached_rows(adapter_for(int))) is PlainCachedRows


def test_bad_registrations_say_what_is_expected() -> None:
    with pytest.raises(TypeError, match="adapter class"):
        provide(Adapter(), "x", _Made)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable taking the adapter"):
        provide(Adapter, "x", "not callable")  # type: ignore[arg-type]


def test_an_adapter_written_with_its_own_audit_method_still_gets_the_records() -> None:
    """Adapters written before capabilities defined ``write_audit_record`` on themselves."""
    from earnorm_aop.plugins.audit_store import TABLE, PlainAuditStore, audit_store

    written: list[Any] = []

    class Older(Adapter):
        def write_audit_record(self, model: type, record: Any) -> None:
            written.append(record)

    before = len(TABLE)
    audit_store(Older()).write_audit_records(int, [{"a": 1}, {"a": 2}])
    assert written == [{"a": 1}, {"a": 2}] and len(TABLE) == before
    plain = audit_store(Adapter())
    assert type(plain) is PlainAuditStore
    plain.write_audit_record(int, {"action": "create"})
    assert TABLE[before:] == [{"action": "create"}]
    del TABLE[before:]


SNIPPET = """\
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from earnorm_aop.adapters.base import Adapter
from earnorm_aop.adapters.capabilities import provide, provided
from earnorm_aop.adapters.capability_keys import AUDIT_STORE, AuditStore


class MyAdapter(Adapter):
    pass


class Half:  # no write_audit_records
    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def write_audit_record(self, model: type, record: Mapping[str, Any]) -> Any:
        return None


class Whole(Half):
    def write_audit_records(self, model: type, records: Any) -> list[Any]:
        return []


provide(MyAdapter, AUDIT_STORE, Whole)
provide(MyAdapter, AUDIT_STORE, Half)  # line 29
store: AuditStore = provided(MyAdapter(), AUDIT_STORE, Whole)
"""


def test_mypy_checks_an_integrations_class_against_the_capabilitys_protocol(
    tmp_path: Path,
) -> None:
    """The key carries the protocol (issue 23 point 2): a class missing a method is an error
    where the integration provides it, not at the first write that needs it."""
    (tmp_path / "integration.py").write_text(SNIPPET)
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "c")]
    run = subprocess.run(
        [*command, "integration.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, run.stdout + run.stderr
    assert errors[0].startswith("integration.py:29:") and "AuditStore" in errors[0], errors


def test_a_key_and_its_name_are_one_capability() -> None:
    class Keyed(Adapter):
        pass

    provide(Keyed, AUDIT_STORE.name, _Made)
    adapter = Keyed()
    made = provided(adapter, AUDIT_STORE, _Other)
    assert type(made) is _Made and provided(adapter, "audit store", _Other) is made
    assert repr(AUDIT_STORE) == "Capability('audit store')"
