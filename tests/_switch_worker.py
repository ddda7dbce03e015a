"""A worker process for the shared switchboard tests (importable, so ``spawn`` can start it).

Each worker weaves the ``probe`` plugin (a before, an around and an after
advice) onto its own ``Job`` class, shares its registry through Redis, and
calls ``Job.work`` in a loop bounded by ``rounds`` until told to stop.  After
each call it writes to its row of a shared array what the call saw: all three
advice (``ON``), none (``OFF``), or anything else (counted as half-applied).
"""

from __future__ import annotations

import time
from typing import Any

from earnorm_aop import PluginRegistry, RedisSwitchboard, with_plugins

UNKNOWN, ON, OFF = 0, 1, 2
# Columns of a worker's row in the status array.
STATE, CALLS, HALF, ERRORS, WIDTH = 0, 1, 2, 3, 4


class Probe:
    """Each advice marks the call: a call sees all three marks or none."""

    def before_work(self, instance: Any) -> None:
        instance.seen.append("before")

    def around_work(self, instance: Any, proceed: Any) -> Any:
        instance.seen.append("around")
        return proceed()

    def after_work(self, instance: Any) -> None:
        instance.seen.append("after")


def make_job(reg: PluginRegistry) -> type:
    @with_plugins("probe", registry=reg)
    class Job:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def work(self) -> int:
            return len(self.seen)

    return Job


def run(url: str, namespace: str, index: int, status: Any, stop: Any, rounds: int) -> None:
    reg = PluginRegistry(group=None)
    reg.register("probe", Probe)
    Job = make_job(reg)
    board = reg.share(RedisSwitchboard(url, namespace, interval=0.02, retry=0.05, timeout=0.5))
    row = index * WIDTH
    try:
        for _ in range(rounds):
            if stop.is_set():
                break
            job = Job()
            try:
                job.work()
            except Exception:
                status[row + ERRORS] += 1
                continue
            if job.seen == ["before", "around", "after"]:
                status[row + STATE] = ON
            elif job.seen == []:
                status[row + STATE] = OFF
            else:
                status[row + HALF] += 1
            status[row + CALLS] += 1
            time.sleep(0.002)  # a bounded loop that leaves the CPU to the others
    finally:
        board.close()


# -- a worker that toggles (the convergence test under faults) ---------------------------

# Columns of a toggler's row: its switch (ON/OFF), changes not yet written,
# commands done, whether its board is connected, errors.
T_STATE, T_PENDING, T_DONE, T_CONNECTED, T_ERRORS, T_WIDTH = 0, 1, 2, 3, 4, 5


def toggle(url: str, namespace: str, index: int, status: Any, commands: Any, rounds: int) -> None:
    """Toggle ``probe`` as told: ``("burst", count, seed)``, ``("set", on)``, ``("stop",)``.

    A burst is ``count`` toggles 0-3 ms apart.  The loop runs at most
    ``rounds`` times; each time the row says what the process is in.
    """
    import queue
    import random

    reg = PluginRegistry(group=None)
    reg.register("probe", Probe)
    make_job(reg)
    board = reg.share(RedisSwitchboard(url, namespace, interval=0.01, retry=0.02, timeout=0.3))
    row = index * T_WIDTH
    try:
        for _ in range(rounds):
            status[row + T_STATE] = ON if reg.switch("probe").enabled else OFF
            status[row + T_PENDING] = len(board.pending())
            status[row + T_CONNECTED] = int(board.connected)
            try:
                command = commands.get(timeout=0.01)
            except queue.Empty:
                continue
            if command[0] == "stop":
                break
            try:
                if command[0] == "burst":
                    rng = random.Random(command[2])
                    for _ in range(command[1]):
                        reg.disable("probe") if reg.switch("probe").enabled else reg.enable("probe")
                        time.sleep(rng.random() * 0.003)
                else:
                    reg.enable("probe") if command[1] else reg.disable("probe")
            except Exception:
                status[row + T_ERRORS] += 1
            status[row + T_STATE] = ON if reg.switch("probe").enabled else OFF
            status[row + T_PENDING] = len(board.pending())
            status[row + T_DONE] += 1
    finally:
        board.close()
