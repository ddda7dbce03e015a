"""Helpers of the shared-switch tests (``tests/runtime/test_switchboard*.py``).

A ``probe`` registry and its ``Job`` (from ``_switch_worker``, as the worker
processes make them), a configurable ``tag`` plugin, what a call ran, and a
bounded poll.  The ``boards`` fixture that unshares the registries a test made
is in ``tests/runtime/conftest.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from _switch_worker import Probe, make_job
from pydantic import BaseModel, ConfigDict

from earnorm_aop import PluginRegistry, plugin, with_plugins

# Short listener and retry intervals: a test's waits are counted in polls, not seconds.
FAST = {"interval": 0.02, "retry": 0.05, "timeout": 0.5}
ALL = ["before", "around", "after"]  # what a call of Job.work runs with probe on


def eventually(check: Callable[[], Any], attempts: int = 250, pause: float = 0.02) -> bool:
    """Poll ``check`` a bounded number of times; whether it came true."""
    for _ in range(attempts):
        if check():
            return True
        time.sleep(pause)
    return bool(check())


def seen(Job: type) -> list[str]:
    """The advice one call of ``Job().work()`` ran."""
    job = Job()
    job.work()
    return list(job.seen)


def probe_registry(boards: list[PluginRegistry]) -> tuple[PluginRegistry, type]:
    """A registry with ``probe`` (unshared at the end) and its ``Job``."""
    reg = PluginRegistry(group=None)
    reg.register("probe", Probe)
    boards.append(reg)
    return reg, make_job(reg)


class Tag:
    """A configurable plugin: each call is tagged with the configured label."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label: str = "declared"

    config: Config

    def after_work(self, instance: Any) -> None:
        instance.seen.append(self.config.label)


def tagged_job(reg: PluginRegistry) -> type:
    """A ``Job`` whose model path is the same in every registry (as in every process)."""

    @with_plugins("tag", registry=reg)
    class Job:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def work(self) -> None:
            pass

    return Job


def fragile_registry(
    boards: list[PluginRegistry], max_failures: int
) -> tuple[PluginRegistry, type]:
    """A registry (unshared at the end) whose ``fragile`` plugin fails every ``Job.work`` call.

    Its ``on_error="disable"`` switches it off after ``max_failures`` calls; the
    call itself goes on (``"done"``).
    """
    reg = PluginRegistry(group=None)

    @plugin("fragile", on_error="disable", max_failures=max_failures, registry=reg)
    class Fragile:
        def before_work(self) -> None:
            raise RuntimeError("backend down")

    @with_plugins("fragile", registry=reg)
    class Job:
        def work(self) -> str:
            return "done"

    boards.append(reg)
    return reg, Job
