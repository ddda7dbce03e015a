"""``explain(model)`` (methods, advice in run order, enabled state, events) and ``trace()``."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from _plugin_helpers import recording_plugin

from earnorm_aop import PluginRegistry, explain, hook, plugin, trace, with_plugins

THREAD_TIMEOUT = 60.0  # seconds: a stuck thread fails its test instead of hanging the run


@pytest.fixture
def model(reg: PluginRegistry) -> type:
    log: list[Any] = []
    reg.register("a", recording_plugin(log, "a"))
    reg.register("b", recording_plugin(log, "b", "save|get"))

    @plugin("guard", registry=reg, priority=-1)
    class Guard:
        def before_get(self, key: int) -> bool:
            return key != 0  # veto key 0

        @hook("restocked")
        def changed(self) -> None:
            pass

    @with_plugins("a", "b", "guard", registry=reg)
    class Shop:
        def save(self) -> str:
            return "saved"

        def get(self, key: int) -> int:
            return key

        def untouched(self) -> None:
            pass

    return Shop


def test_explain_lists_methods_advice_in_order_and_state(reg: PluginRegistry, model: type) -> None:
    lines = explain(model).splitlines()
    assert lines[0].endswith("Shop")
    assert lines[1] == "  plugins, in order: a, b, guard"
    text = "\n".join(lines)
    save = [line.split() for line in lines[lines.index("  save") + 1 : lines.index("  get")]]
    assert [(w[1], w[2], w[3]) for w in save] == [
        ("before", "a.before_it", "enabled"),
        ("before", "b.before_it", "enabled"),
        ("around", "a.around_it", "enabled"),
        ("around", "b.around_it", "enabled"),
        ("chain", "b.chain_it", "enabled"),
        ("chain", "a.chain_it", "enabled"),
        ("after", "b.after_it", "enabled"),
        ("after", "a.after_it", "enabled"),
    ]
    assert [w[0] for w in save] == [f"{n}." for n in range(1, 9)]
    get_start = lines.index("  get") + 1
    get = [line.split()[2] for line in lines[get_start : get_start + 5]]
    assert get == ["b.before_it", "guard.before_get", "b.around_it", "b.chain_it", "b.after_it"]
    assert "untouched" not in text
    assert "  events (fired with emit):" in lines
    assert "    restocked: guard.changed" in lines


def test_explain_shows_disabled_plugins(reg: PluginRegistry, model: type) -> None:
    reg.disable("a")
    text = explain(model)
    assert "plugins, in order: a (disabled), b, guard" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["1.", "before", "a.before_it", "disabled"] in rows
    assert ["2.", "before", "b.before_it", "enabled"] in rows
    reg.disable("b")
    reg.disable("guard")
    text = explain(model)
    assert "  save   [all advice disabled: original method]" in text
    assert "  get   [all advice disabled: original method]" in text
    assert " enabled" not in text


def test_explain_of_a_class_without_plugins() -> None:
    class Nothing:
        def save(self) -> None:
            pass

    assert explain(Nothing).splitlines()[1] == "  (no plugins)"


def test_trace_records_every_advice_run(reg: PluginRegistry, model: type) -> None:
    reg.disable("a")
    with trace() as t:
        assert model().save() == "saved"
        assert model().get(0) is None  # vetoed
    records = list(t)
    assert len(t) == len(records) == 6
    assert [(r.plugin, r.kind, r.method, r.outcome) for r in records] == [
        ("b", "before", "save", "ok"),
        ("b", "around", "save", "ok"),
        ("b", "chain", "save", "ok"),
        ("b", "after", "save", "ok"),
        ("b", "before", "get", "ok"),
        ("guard", "before", "get", "veto"),
    ]
    assert all(r.model.endswith("Shop") for r in records)
    assert t[5].advice == "before_get"
    assert all(isinstance(r.duration, float) and r.duration >= 0 for r in records)
    table = t.format().splitlines()
    assert table[0].split() == ["plugin", "kind", "call", "outcome", "µs"]
    row = table[6].split()
    assert (row[0], row[1], row[3]) == ("guard", "before", "veto")
    assert row[2].endswith("Shop.get")

    model().save()  # outside the block: not recorded
    assert len(t) == 6


def test_trace_records_failures_under_the_log_policy(
    reg: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    @plugin("shaky", registry=reg, on_error="log")
    class Shaky:
        def before_save(self) -> None:
            raise RuntimeError("shaky")

    @with_plugins("shaky", registry=reg)
    class M:
        def save(self) -> str:
            return "saved"

    with caplog.at_level(logging.CRITICAL), trace() as t:
        assert M().save() == "saved"
    [record] = list(t)
    assert (record.plugin, record.kind, record.outcome) == ("shaky", "before", "failed")


def test_trace_is_local_to_the_thread(reg: PluginRegistry, model: type) -> None:
    with trace() as t:
        thread = threading.Thread(target=lambda: model().save())
        thread.start()
        thread.join(THREAD_TIMEOUT)
        assert not thread.is_alive()
        assert len(t) == 0
        model().save()
        assert len(t) > 0
