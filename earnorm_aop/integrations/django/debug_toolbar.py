"""A django-debug-toolbar panel: a request's woven calls that ran plugins (extra ``debug-toolbar``).

Add it to the toolbar's panels::

    DEBUG_TOOLBAR_PANELS = [
        *debug_toolbar.settings.PANELS_DEFAULTS,
        "earnorm_aop.integrations.django.debug_toolbar.PluginsPanel",
    ]

For each woven call of the request that ran advice it shows the model and
method, the advice in the order it ran (plugin, advice, kind, outcome, time),
the call's outcome (``vetoed``, ``recovered``, ``failed``, ``raised`` or
``ok``) and the SQL queries the plugins' advice ran themselves: a query runs
inside an advice (a soft delete's ``UPDATE``, an audit table's ``INSERT``) or
inside the model's own method, and only the first kind is the plugins' cost.

How: while the panel is on, the request runs inside [`earnorm_aop.trace`][earnorm_aop.trace]
(every woven call then takes the interpreted chain, which reports each advice
run), and each database connection has an ``execute_wrapper`` that asks the
engine which advice, if any, is running the query
([`earnorm_aop.weaving.attribution.running_advice`][earnorm_aop.weaving.attribution.running_advice]).
That costs something per call and per query, which is why it is a debugging panel: off
(the panel disabled, or the toolbar not shown) nothing is wrapped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from debug_toolbar.panels import Panel
from django.db import connections
from django.http import HttpRequest, HttpResponse

from ...weaving import weaver
from ...weaving.attribution import running_advice
from ...weaving.tracing import TraceRecord

__all__ = ["PluginsPanel", "collect"]

_FAILED = ("raised", "failed")


class _Query:
    __slots__ = ("advice", "call", "ms", "sql")

    def __init__(self, call: int, advice: str, sql: str, ms: float) -> None:
        self.call, self.advice, self.sql, self.ms = call, advice, sql, ms


@contextmanager
def _queries_of_advice(into: list[_Query]) -> Iterator[None]:
    """Record each SQL query an advice runs, on every connection, inside the block."""

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        owner = running_advice()
        if owner is None:  # the model's own query, or no woven call at all
            return execute(sql, params, many, ctx)
        start = time.perf_counter()
        try:
            return execute(sql, params, many, ctx)
        finally:
            label, call = owner
            into.append(_Query(call, label, str(sql), (time.perf_counter() - start) * 1e3))

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(wrapper))
        yield


def _outcome(records: list[TraceRecord]) -> str:
    outcomes = {r.outcome for r in records}
    for verdict, found in (
        ("raised", "raised"),
        ("failed", "failed"),
        ("vetoed", "veto"),
        ("recovered", "recovered"),
    ):
        if found in outcomes:
            return verdict
    return "ok"


def collect(records: list[TraceRecord], queries: list[Any]) -> list[dict[str, Any]]:
    """The request's woven calls, in the order they started, as the panel shows them.

    ``records`` are a trace's (``TraceRecord.call`` numbers each woven call);
    ``queries`` carry the call number and advice that ran each one.
    """
    by_call: dict[int, list[TraceRecord]] = {}
    for r in records:
        by_call.setdefault(r.call, []).append(r)
    sql: dict[int, list[dict[str, Any]]] = {}
    for q in queries:
        sql.setdefault(q.call, []).append({"advice": q.advice, "sql": q.sql, "ms": round(q.ms, 3)})
    calls: list[dict[str, Any]] = []
    for number, runs in by_call.items():
        runs.sort(key=lambda r: r.started)
        first = runs[0]
        span = max(r.started + r.duration for r in runs) - first.started
        calls.append(
            {
                "number": number,
                "model": first.model,
                "method": first.method,
                "outcome": _outcome(runs),
                "ms": round(span * 1e3, 3),
                "started": first.started,
                "advice": [
                    {
                        "plugin": r.plugin,
                        "advice": r.advice,
                        "kind": r.kind,
                        "outcome": r.outcome,
                        "ms": round(r.duration * 1e3, 3),
                    }
                    for r in runs
                ],
                "queries": sql.get(number, []),
            }
        )
    calls.sort(key=lambda c: c["started"])
    for c in calls:
        del c["started"]
    return calls


class PluginsPanel(Panel):
    """The woven calls of the request: advice in order, time, outcome, the plugins' queries."""

    title = "Plugins"
    template = "earnorm_aop/debug_toolbar/plugins.html"

    @property
    def nav_subtitle(self) -> str:
        stats: dict[str, Any] = self.get_stats()  # type: ignore[no-untyped-call]
        calls = stats.get("calls", [])
        queries = sum(len(c["queries"]) for c in calls)
        return f"{len(calls)} woven calls, {queries} plugin queries"

    def process_request(self, request: HttpRequest) -> HttpResponse:
        queries: list[_Query] = []
        with _queries_of_advice(queries), weaver.trace() as trace:
            response: HttpResponse = super().process_request(request)  # type: ignore[no-untyped-call]
        self._seen = (list(trace), queries)
        return response

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        records, queries = getattr(self, "_seen", ([], []))
        calls = collect(records, queries)
        self.record_stats(  # type: ignore[no-untyped-call]
            {
                "calls": calls,
                "vetoed": sum(c["outcome"] == "vetoed" for c in calls),
                "failed": sum(c["outcome"] in _FAILED for c in calls),
            }
        )
