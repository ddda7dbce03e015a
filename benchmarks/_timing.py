"""The timing loop the Django ``save()`` benchmarks share (``changes.py``, ``lifecycle.py``).

Each round saves one loaded instance ``saves`` times (one field changed each
time, so every save writes and every listener fires) and takes the thread CPU
time (``time.thread_time``: what the machine gives other processes is left
out), with the garbage collector off (a collection lands on whichever row runs
then: noise).  The rounds of the rows are interleaved in a rotating order and
a row's figure is its best round, which is what a quiet machine would show.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["best_per_save", "no_write", "saver"]


def no_write(*args: Any, **kwargs: Any) -> None:
    """Django's ``save_base`` replaced by nothing: what is left is ``save()``'s own work."""
    return None


def saver(model: Any, saves: int, database: bool = True) -> Callable[[], float]:
    """A round of ``saves`` saves of one loaded instance of ``model``, in thread CPU seconds.

    ``database=False``: Django's write (``save_base``) replaced by nothing on
    that instance, so what is timed is ``save()``'s own work and the plugins'.
    """
    obj = model.objects.get(pk=model.objects.create(title="a").pk)
    if not database:
        obj.save_base = no_write
    save = obj.save
    clock = time.thread_time
    counter = [0]

    def run() -> float:
        gc.disable()
        try:
            n = counter[0]
            start = clock()
            for i in range(n, n + saves):
                obj.views = i + 1
                save()
            seconds = clock() - start
            counter[0] = n + saves
            return seconds
        finally:
            gc.enable()

    return run


def best_per_save(
    models: Mapping[str, Any], repeat: int, saves: int, database: bool = True
) -> dict[str, float]:
    """Seconds per ``save()`` of each named model: its best round, the rows' rounds interleaved."""
    runs = {name: saver(model, saves, database) for name, model in models.items()}
    best = dict.fromkeys(runs, float("inf"))
    order = list(runs)
    for i in range(repeat):
        k = i % len(order)
        for name in order[k:] + order[:k]:  # rotated: no row always runs first
            best[name] = min(best[name], runs[name]())
    return {name: seconds / saves for name, seconds in best.items()}
