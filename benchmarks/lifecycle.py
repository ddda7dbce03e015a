"""What the ``after_change`` lifecycle event costs a Django ``save()`` (issue 17 point 3).

Run it with the project's interpreter::

    .venv/bin/python benchmarks/lifecycle.py [--repeat 200] [--saves 50]

Django on an in-memory SQLite database (the fastest save there is, so the
event's share is as large as it gets).  Three models, the same fields:

- ``bare``: no plugin;
- ``after_save``: a plugin with one unconditional ``after:save`` hook;
- ``after_change``: a plugin with one ``@hook("after_change")`` listener
  taking ``instance`` and ``changes``, so the system weaves the ``lifecycle``
  plugin (and the shared change tracking) and each save pays for the diff
  and the event.

Each round saves a loaded instance ``--saves`` times per model (one field
changed each time, so the event fires every time) and takes the thread CPU
time (``time.thread_time``); the rounds of the three models are interleaved
in a rotating order, the garbage collector is off during a round, and a
model's figure is its best round.  Printed: each model's time per save and
the ratio after_change / after_save.  Target: <= 1.10.  This is a benchmark:
it prints PASS/MISS and never fails.
"""

from __future__ import annotations

import argparse
import platform
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

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins  # noqa: E402

registry = PluginRegistry()
heard: list[int] = [0, 0]


@plugin("after_save_hook", registry=registry)
class AfterSave:
    @hook("after:save")
    def saved(self, instance: Any) -> None:
        heard[0] += 1


@plugin("change_listener", registry=registry)
class ChangeListener:
    @hook("after_change")
    def changed(self, instance: Any, changes: dict[str, Any]) -> None:
        heard[1] += 1


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
Saved = _model("Saved", "after_save_hook")
Changed = _model("Changed", "change_listener")
ROWS = (("bare", Bare), ("after_save", Saved), ("after_change", Changed))


def measure(repeat: int, count: int) -> dict[str, float]:
    """Seconds per ``save()`` of each row: its best round, the rows' rounds interleaved."""
    return best_per_save(dict(ROWS), repeat, count)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--saves", type=int, default=50)
    ns = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()}, Django {django.get_version()}, SQLite in memory; "
        f"thread CPU time, best of {ns.repeat} interleaved rounds of {ns.saves} saves"
    )
    per_save = measure(ns.repeat, ns.saves)
    for name, seconds in per_save.items():
        print(f"  save() {name:<12} {seconds * 1e6:8.2f} us")
    assert heard[0] and heard[1] == heard[0], heard  # every save fired the event
    ratio = per_save["after_change"] / per_save["after_save"]
    verdict = "PASS" if ratio <= 1.10 else "MISS"
    print(
        f"  after_change / after_save = {ratio:.3f}  (target <= 1.10)  {verdict}; "
        f"after_save / bare = {per_save['after_save'] / per_save['bare']:.3f}"
    )
    return ratio


if __name__ == "__main__":
    main()
