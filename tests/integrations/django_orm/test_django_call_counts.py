"""The hot path of a Django ``save()`` pinned by counting calls, not by timing.

As SQLAlchemy's ``test/aaa_profiling`` does: the number of Python calls into
earnorm_aop one ``save()`` of a loaded instance makes (timestamp and audit
woven, audit writing to its table) holds on a loaded machine where timings
drift.  What weave time decided must not come back per call: no adapter
look-up, no planning, no MRO scan for the ``after_change`` event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _calls import calls, ours

from earnorm_aop import PluginRegistry, hook, plugin
from earnorm_aop.testing import open_backend
from earnorm_aop.testing._django import DjangoBackend

# Calls into earnorm_aop per save, measured when the test was written (issue 23:
# ~230 before the event tables and the weave-time adapter, 60 before the
# lifecycle event became an ``after`` advice of the write's record).  Like SQLAlchemy's
# profiles, a little slack: a change that adds a call or two per save is fine,
# one that brings back a per-call look-up is not.
SAVE_CALLS = 50  # 49, then one for the audit row built by AuditRecord.of (one mapping)


@pytest.fixture
def backend() -> Iterator[DjangoBackend]:
    with open_backend("django") as django:
        assert isinstance(django, DjangoBackend)
        yield django


def test_one_save_with_timestamp_and_audit(backend: DjangoBackend) -> None:
    Article = backend.model("timestamp", "audit", audit={"sink": "table"})
    obj = Article.objects.get(pk=backend.create(Article, title="a").pk)
    obj.title = "b"
    obj.save()  # first-sight work (the audit table's statement, caches) done
    obj.title = "c"
    counted = ours(calls(obj.save))
    assert not [n for n in counted if n.endswith(":adapter_for")], counted
    assert not [n for n in counted if ".planning:" in n or ".rebuild:" in n], counted
    assert sum(counted.values()) <= SAVE_CALLS * 1.05, sorted(counted.items())
    # The write's state and the save's one record (timestamp and lifecycle share it).
    assert counted["earnorm_aop.adapters.tracking:__init__"] == 2, counted
    assert [row["changes"] for row in backend.audit_rows(Article)][-1]["title"] == ("b", "c")


# Calls into earnorm_aop per save with one after_change listener (issue 17 point 3):
# the dispatcher, the write's record (made before any advice), the lifecycle
# ``after`` advice as weave time made it for the model, the diff (one pass over
# the instance's values), the handler called by position (its arguments decided
# when the model's listeners last changed) and the changes plugin's bookkeeping.
# 25 before the event became an ``after`` advice (no ``around`` level, no
# ``proceed``) and the diff, the remembering, the key's read and the handler's call
# got cheaper.
LISTENED_SAVE_CALLS = 12


def test_one_save_with_an_after_change_listener(backend: DjangoBackend) -> None:
    """No look-up of the model's listeners, no awaitable test: both decided at weave time."""
    registry = PluginRegistry()
    heard: list[dict[str, Any]] = []

    @plugin("listener", registry=registry)
    class Listener:
        @hook("after_change")
        def changed(self, instance: Any, changes: dict[str, Any]) -> None:
            heard.append(changes)

    Article = backend.model("listener", registry=registry)
    obj = Article.objects.get(pk=backend.create(Article, title="a").pk)
    obj.title = "b"
    obj.save()
    obj.title = "c"
    counted = ours(calls(obj.save))
    assert heard[-1] == {"title": ("b", "c")}
    looked_up = (":event_handlers", ":_heard", ":listened", ":_plan", ":_arguments", ":proceed")
    for per_call in looked_up:
        assert not [n for n in counted if n.endswith(per_call)], counted
    assert not calls(obj.save)["inspect:isawaitable"]
    assert sum(counted.values()) <= LISTENED_SAVE_CALLS * 1.05, sorted(counted.items())
    # The listener switched off and on again: the held table follows each rebuild.
    registry.disable("listener")
    obj.title = "d"
    obj.save()
    assert heard[-1] == {"title": ("b", "c")}
    registry.enable("listener")
    obj.title = "e"
    obj.save()
    assert heard[-1] == {"title": ("d", "e")}


def test_a_save_with_after_commit_advice_looks_up_no_adapter(backend: DjangoBackend) -> None:
    """The model's ``defer`` is decided when the advice is woven (issue 23): a write inside a
    transaction hands its deferred call over without asking which adapter the model has."""
    from django.db import transaction

    registry = PluginRegistry()
    committed: list[Any] = []

    @plugin("notify", registry=registry)
    class Notify:
        @hook("after_commit:save")
        def sent(self, instance: Any) -> None:
            committed.append(instance.title)

    Article = backend.model("notify", registry=registry)
    obj = Article.objects.get(pk=backend.create(Article, title="a").pk)
    obj.title = "b"
    with transaction.atomic():
        counted = ours(calls(obj.save))
        assert committed == ["a"]  # the create's, outside a transaction; "b" waits
    assert not [n for n in counted if n.endswith((":adapter_for", ":scheduler_of"))], counted
    assert committed == ["a", "b"]
