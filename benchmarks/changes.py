"""What change tracking costs a Django ``save()``, and a bulk update with a condition.

Run it with the project's interpreter::

    .venv/bin/python benchmarks/changes.py [--repeat 200] [--saves 50]

Django on an in-memory SQLite database (the fastest save there is, so the
tracking's share is as large as it gets).  Four models, the same fields:

- ``bare``: no plugin;
- ``untracked``: a plugin with one plain ``after:save`` hook;
- ``tracked``: the same hook with a condition (``when="status",
  changes_to="published"``) that never holds, so the ``changes`` plugin is
  woven and each save pays for the tracking and one failing condition;
- ``builtins``: the ``timestamp`` and ``audit`` plugins (audit logging each
  record), what a save costs end to end with the built-ins a model usually has.

Each round saves a loaded instance ``--saves`` times per model (one field
changed each time) and takes the thread CPU time (``time.thread_time``: what
the machine gives other processes is left out); the rounds of the three
models are interleaved in a rotating order, the garbage collector is off
during a round, and a model's figure is its best round.  Printed: each
model's time per save and the ratios untracked / bare, tracked / bare,
tracked / untracked and timestamp+audit / bare.  Target (issue #11): tracked / untracked <= 1.10.

The same rows are then timed with Django's database write
(``save_base``) replaced by nothing on the saved instance: what is left is
``save()``'s own work and the plugins'.  The tracking's extra time there is
smaller than with the write (about a third: between two saves Django's own
work pushes the tracking's code and data out of the CPU's caches), so that
figure is a lower bound, not an estimate of the real ratio.

Then a bulk update of 1,000 rows, 10 of them drafts, ``update(status=
"published")`` with the condition ``changes_to="published"``: the hook must
run 10 times and the rows must be read once (one ``SELECT`` before the
``UPDATE``).  This is a benchmark: it prints PASS/MISS and never fails; the
query count is also a test (tests/plugin_system/test_changes.py).
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import django
from django.conf import settings

settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=["earnorm_aop.integrations.django"],
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()

from _timing import best_per_save  # noqa: E402  # benchmarks/_timing.py
from django.db import connection, models  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins  # noqa: E402

registry = PluginRegistry()
fired: list[Any] = []


@plugin("plain_hook", registry=registry)
class PlainHook:
    @hook("after:save")
    def saved(self, instance: Any) -> None:
        pass


@plugin("conditional_hook", registry=registry)
class ConditionalHook:
    @hook("after:save|update_many", when="status", changes_to="published")
    def published(self, instance: Any) -> None:
        fired.append(instance.pk)


def _model(name: str, *plugins: str) -> Any:
    body = {
        "__module__": __name__,
        "Meta": type("Meta", (), {"app_label": "earnorm_aop"}),
        "title": models.CharField(max_length=100, default=""),
        "status": models.CharField(max_length=20, default="draft"),
        "views": models.IntegerField(default=0),
    }
    model = type(name, (models.Model,), body)
    if plugins:
        with_plugins(*plugins, registry=registry)(model)
    with connection.schema_editor() as editor:
        editor.create_model(model)
    return model


Bare = _model("Bare")
Untracked = _model("Untracked", "plain_hook")
Tracked = _model("Tracked", "conditional_hook")
# The built-ins a write usually has: what a save costs end to end with them.
Builtins = _model("Builtins", "timestamp", "audit")


ROWS = (("bare", Bare), ("untracked", Untracked), ("tracked", Tracked), ("builtins", Builtins))


def saves(repeat: int, count: int, database: bool = True) -> dict[str, float]:
    """Seconds per ``save()`` of each row: its best round, the rows' rounds interleaved."""
    per_save = best_per_save(dict(ROWS), repeat, count, database)
    assert not fired, "the condition never holds in the save benchmark"
    return per_save


def bulk(rows: int = 1000, drafts: int = 10) -> tuple[int, int, float]:
    """(hook runs, SELECTs, seconds) of one bulk update of ``rows`` rows, ``drafts`` drafts."""
    Tracked.objects.all().delete()
    Tracked.objects.bulk_create(
        Tracked(title=f"t{i}", status="draft" if i < drafts else "published") for i in range(rows)
    )
    fired.clear()
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        Tracked.objects.update(status="published")
    seconds = time.perf_counter() - start
    selects = sum(q["sql"].startswith("SELECT") for q in queries.captured_queries)
    return len(fired), selects, seconds


def _report(per_save: dict[str, float], what: str) -> float:
    for name, seconds in per_save.items():
        print(f"  save() {name:<10} {seconds * 1e6:8.2f} us  {what}")
    bare, untracked, tracked, builtins = (per_save[n] for n, _ in ROWS)
    ratio = tracked / untracked
    print(
        f"    untracked / bare = {untracked / bare:.3f}, tracked / bare = {tracked / bare:.3f}, "
        f"tracked / untracked = {ratio:.3f}  (tracking adds {(tracked - untracked) * 1e6:.2f} us)"
    )
    print(f"    timestamp+audit / bare = {builtins / bare:.3f}")
    return ratio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--saves", type=int, default=50)
    ns = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()}, Django {django.get_version()}, SQLite in memory; "
        f"thread CPU time, best of {ns.repeat} interleaved rounds of {ns.saves} saves"
    )
    ratio = _report(saves(ns.repeat, ns.saves), "")
    verdict = "PASS" if ratio <= 1.10 else "MISS"
    print(f"  tracked / untracked = {ratio:.3f}  (target <= 1.10)  {verdict}")
    _report(saves(ns.repeat, ns.saves, database=False), "without the database write")
    runs, selects, seconds = bulk()
    ok = "PASS" if (runs, selects) == (10, 1) else "MISS"
    print(
        f"  bulk update of 1000 rows, 10 drafts: hook ran {runs} times, "
        f"{selects} SELECT, {seconds * 1e3:.1f} ms  {ok}"
    )


if __name__ == "__main__":
    main()
