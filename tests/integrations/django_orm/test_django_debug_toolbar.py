"""earnorm_aop's django-debug-toolbar panel without a browser: Django's test ``Client``.

``projects/toolbar_session.py`` requests the page of ``toolbar_urls`` (create,
edit and delete a soft-deleted, audited ``store.Note``) behind the toolbar, in a
process of its own, and fetches the Plugins panel as the toolbar's JavaScript
does.  The panel must list every woven call of the request in order with its
advice and outcome, and only the SQL the plugins' advice ran.  The browser test
(``test_django_debug_toolbar_browser.py``) shows the same in chromium; this one
runs wherever django-debug-toolbar is installed.  ``collect``, which turns a
trace into those rows, is checked here on records of every outcome.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from _subprocess import run_json

pytest.importorskip("debug_toolbar", reason="django-debug-toolbar is in the test extra")

from earnorm_aop.integrations.django.debug_toolbar import _Query, collect
from earnorm_aop.weaving.tracing import TraceRecord

HERE = Path(__file__).parent
ROW = re.compile(r'<tr class="earnorm-call earnorm-outcome-(\w+)">(.*?)</tr>', re.S)


def _text(fragment: str) -> str:
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return words.replace(" :", ":")


def _rows(panel: str) -> list[dict[str, Any]]:
    rows = []
    for outcome, body in ROW.findall(panel):
        rows.append(
            {
                "outcome": outcome,
                "name": _text(re.search(r'class="earnorm-call-name">(.*?)</td>', body, re.S)[1]),
                "advice": [
                    _text(li)
                    for ol in re.findall(r'<ol class="earnorm-advice">(.*?)</ol>', body, re.S)
                    for li in re.findall(r"<li>(.*?)</li>", ol, re.S)
                ],
                "queries": [
                    (_text(a), _text(sql))
                    for a, sql in re.findall(
                        r'class="earnorm-query-advice">(.*?)</code>.*?'
                        r'class="earnorm-query-sql"[^>]*>(.*?)</code>',
                        body,
                        re.S,
                    )
                ],
            }
        )
    return rows


def test_the_plugins_panel_lists_the_requests_woven_calls_and_the_plugins_queries(
    tmp_path: Path,
) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "toolbar_settings",
        "PYTHONPATH": str(HERE / "projects"),
        "EARNORM_AOP_ADMIN_DB": str(tmp_path / "toolbar.sqlite3"),
    }
    seen = run_json(
        [sys.executable, str(HERE / "projects" / "toolbar_session.py")],
        cwd=HERE / "projects",
        env=env,
        timeout=180,
    )
    assert seen["status"] == [200, 200]
    assert seen["heading"].startswith("Note ")
    assert seen["subtitle"] == "5 woven calls, 4 plugin queries"
    panel = seen["panel"]
    assert "5 woven calls ran plugins, 1 vetoed." in _text(panel)
    rows = _rows(panel)
    # create (the manager's get_queryset, then the INSERT's save), edit, delete (vetoed:
    # the soft delete saves instead, a nested woven save of its own)
    assert [(r["name"], r["outcome"]) for r in rows] == [
        ("Note.get_queryset", "ok"),
        ("Note.save", "ok"),
        ("Note.save", "ok"),
        ("Note.delete", "vetoed"),
        ("Note.save", "ok"),
    ]
    assert [a.split(":")[0] for a in rows[2]["advice"]] == [
        "around timestamp.stamp_save",
        "after lifecycle.changed",  # fires after_change, which audit listens to
        "after changes.remember_saved",
    ]
    assert rows[3]["advice"][0].startswith("before softdelete.soft_delete: veto,")
    queries = [(a, sql.split()[0]) for r in rows for a, sql in r["queries"]]
    assert queries.count(("lifecycle.changed", "INSERT")) >= 2  # audit's rows
    assert ("softdelete.soft_delete", "UPDATE") in queries
    # the model's own INSERT and UPDATEs of store_note are not the plugins'
    assert not any('INTO "store_note"' in sql for r in rows for _, sql in r["queries"])


def _record(call: int, plugin: str, outcome: str, started: float, **kw: Any) -> TraceRecord:
    return TraceRecord(
        plugin=plugin,
        advice=kw.get("advice", "go"),
        kind=kw.get("kind", "before"),
        model="Note",
        method=kw.get("method", "save"),
        outcome=outcome,
        duration=kw.get("duration", 0.001),
        call=call,
        started=started,
    )


def test_collect_groups_by_call_in_the_order_calls_started_and_names_the_worst_outcome() -> None:
    records = [
        # call 7 started last although its records come first
        _record(7, "a", "ok", started=30.0),
        _record(3, "b", "recovered", started=10.5, kind="error"),
        _record(3, "a", "ok", started=10.0, duration=2.0),
        _record(5, "a", "veto", started=20.0),
        _record(5, "c", "failed", started=20.1),
        _record(9, "a", "raised", started=40.0),
        _record(9, "b", "veto", started=40.1),
        _record(9, "c", "failed", started=40.2),
    ]
    queries = [_Query(3, "a.go", "SELECT 1", 0.12345), _Query(3, "b.go", "UPDATE t", 1.0)]
    calls = collect(records, queries)
    assert [(c["number"], c["outcome"]) for c in calls] == [
        (3, "recovered"),  # recovered beats ok
        (5, "failed"),  # failed beats veto
        (7, "ok"),
        (9, "raised"),  # raised beats everything
    ]
    first = calls[0]
    assert [a["plugin"] for a in first["advice"]] == ["a", "b"]  # in the order they started
    assert first["ms"] == 2000.0  # from the first start to the last end: 10.0 .. 12.0 s
    assert first["queries"] == [
        {"advice": "a.go", "sql": "SELECT 1", "ms": 0.123},
        {"advice": "b.go", "sql": "UPDATE t", "ms": 1.0},
    ]
    assert calls[1]["queries"] == []
    assert all("started" not in c for c in calls)
    assert collect([], []) == []
