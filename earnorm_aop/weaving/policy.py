"""Error policies: what a failing advice, event handler or deferred call does.

A plugin's ``on_error`` names one of three [`OnError`][earnorm_aop.weaving.policy.OnError] objects,
and every place that runs a plugin's code asks the same object
([`policy_of`][earnorm_aop.weaving.policy.policy_of]): the generated and interpreted dispatchers,
the commit scheduler's deferred calls, conditions' deferred advice and event handlers.  So a policy
is defined here once, and one plugin has one failure count
([`record_failure`][earnorm_aop.weaving.policy.record_failure]):

- ``raise``: the exception propagates (``goes_on`` is false);
- ``log``: the failure is counted and logged, the operation goes on;
- ``disable``: as ``log``, and past ``max_failures`` consecutive failures the
  plugin is switched off (the ``on_auto_disable`` extension point); a success
  resets the count (``disables``).  A deferred advice (``after_commit``,
  ``after_rollback``, conditional or not) or handler of a commit-time event
  runs where no other advice's success is seen, so it keeps a count of its
  own, its ``Streak`` ([`commit`][earnorm_aop.weaving.commit]): only its own
  success resets it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import extensions
from .aspect import Aspect

__all__ = ["DISABLE", "LOG", "RAISE", "OnError", "policy_of", "record_failure"]

log = logging.getLogger("earnorm_aop")


@dataclass(frozen=True, slots=True)
class OnError:
    """One ``on_error`` policy (see the module docstring)."""

    name: str
    goes_on: bool
    disables: bool

    def failed(self, aspect: Aspect, error: Exception, what: str) -> None:
        """Raise ``error`` (``raise``), or count and log it; ``what`` says what failed where."""
        if not self.goes_on:
            raise error
        record_failure(aspect, error, what)

    def run(
        self, aspect: Aspect, call: Callable[[], Any], on_failure: Callable[[Exception], object]
    ) -> None:
        """Run ``call`` (plugin code run later: a deferred advice) under this policy.

        A failure propagates (``raise``) or goes to ``on_failure``, which counts and logs it
        ([`record_failure`][earnorm_aop.weaving.policy.record_failure], with where it ran); a
        success resets the consecutive failures under ``disable``.
        """
        try:
            call()
        except Exception as exc:
            if not self.goes_on:
                raise
            on_failure(exc)
        else:
            self.succeeded(aspect)

    def succeeded(self, aspect: Aspect) -> None:
        """``aspect``'s code ran well: under ``disable`` its failures are no longer consecutive."""
        if self.disables:
            aspect.switch.consecutive_failures = 0


RAISE = OnError("raise", goes_on=False, disables=False)
LOG = OnError("log", goes_on=True, disables=False)
DISABLE = OnError("disable", goes_on=True, disables=True)
_BY_NAME = {policy.name: policy for policy in (RAISE, LOG, DISABLE)}


def policy_of(aspect: Aspect) -> OnError:
    """The ``OnError`` of ``aspect`` (its ``on_error`` was checked when it was made)."""
    return _BY_NAME[aspect.on_error]


def record_failure(
    aspect: Aspect, error: BaseException, what: str, streak: int | None = None
) -> bool:
    """Count, log and, past ``max_failures`` under ``disable``, switch off a failing plugin.

    ``what`` says which advice or handler failed where; advice and event
    handlers share this so one plugin has one failure count.  ``streak`` is a
    deferred advice's own count of failures in a row, which the plugin's other
    advice do not reset: the plugin's count is then the larger of the two, not
    one more.  Returns whether this failure switched the plugin off.
    """
    switch = aspect.switch
    with switch.lock:
        switch.failures += 1
        if streak is None:
            switch.consecutive_failures += 1
        elif streak > switch.consecutive_failures:
            switch.consecutive_failures = streak
        switch.last_error = error
        trip = (
            policy_of(aspect).disables
            and switch.enabled
            and switch.consecutive_failures >= aspect.max_failures
        )
    log.error("plugin %r: %s failed; the operation goes on", aspect.name, what, exc_info=error)
    if trip:
        log.warning(
            "plugin %r disabled after %d consecutive failures (max_failures=%d)",
            aspect.name,
            switch.consecutive_failures,
            aspect.max_failures,
        )
        switch.auto_disabled = True
        with switch.lock:
            switch.auto_disables += 1
        for action in extensions.current.record.on_auto_disable:
            action(switch)
    return trip
