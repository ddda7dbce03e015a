"""Commit-aware advice: ``after_commit`` and ``after_rollback``.

Advice that must not run for rolled-back work (send the e-mail, publish the
event, forget a cache entry for good) is bound like ``after`` advice, at the
write: its parameters (``instance``, ``result``, ``args``, ...) are resolved
when the method returns, in the ``after`` phase, so it receives the
operation's data as it was then.  The call itself is handed to the
*transaction scheduler*: run when the outermost transaction commits
(``after_commit``) or rolls back (``after_rollback``).

Transactions belong to an ORM, a layer above the engine, so the engine asks the ``scheduler``
extension point ([`extensions`][earnorm_aop.weaving.extensions]), which the adapter layer's is when
the package is wired: once per commit-aware advice, at weave time, for the model's ``defer`` (its
adapter's), which every deferred call of that advice then uses as it is.  Without one, there is no
transaction: ``after_commit`` runs at once and ``after_rollback`` never.

A commit-aware advice that raises when it finally runs follows its plugin's
``on_error`` policy: ``"log"`` / ``"disable"`` count and log the failure;
``"raise"`` lets the exception propagate from wherever the scheduler runs it
(the ``atomic`` block's exit on Django, after the data is committed).

Under ``"disable"``, ``max_failures`` counts the failures of that advice in a
row (its ``_Streak``, one per plugin and advice name, shared by every model
and kept across re-weaving): only its own success resets it.  The plugin's
other advice, and the scheduling at the write, succeed between two commits
and reset the plugin's count; were that the deferred advice's count, an
``after_commit`` advice failing at every commit of write/commit cycles would
never reach ``max_failures``.  The plugin layer's deferred calls (conditions'
commit-aware advice, handlers of ``after_commit_change``) run through the same
``Streak``, so ``max_failures`` means one thing for all plugin code run at the commit.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import WeavingError
from . import extensions
from .advice import Param, PlannedAdvice, Source
from .aspect import Switch
from .pointcut import Kind
from .policy import OnError, policy_of

__all__ = ["COMMIT_KINDS", "Streak", "defer", "deferring", "streak_of"]

COMMIT_KINDS = frozenset({Kind.AFTER_COMMIT, Kind.AFTER_ROLLBACK})


def defer(
    model: type,
    subject: Any,
    on_commit: Callable[[], None] | None = None,
    on_rollback: Callable[[], None] | None = None,
) -> None:
    """Run ``on_commit`` when ``subject``'s transaction commits, ``on_rollback`` if it rolls back.

    Outside a transaction ``on_commit`` runs now and ``on_rollback`` never.  Asks the
    ``scheduler`` extension point for ``model``'s scheduler each time: for code run off the
    woven path (commit-aware advice has its scheduler decided at weave time).
    """
    extensions.current.record.scheduler(model)(model, subject, on_commit, on_rollback)


# The hidden keyword parameters a deferring advice receives besides the user's.
_SUBJECT = "_earnorm_subject"
_MODEL = "_earnorm_model"


class Streak:
    """A deferred call's failures in a row (see the module docstring), and how it runs.

    Shared with the plugin layer's deferred calls (conditions' commit-aware
    advice, handlers of a commit-time event): one mechanism, one meaning of
    ``max_failures`` for all plugin code run at the commit.
    """

    __slots__ = ("count", "lock")

    def __init__(self, switch: Switch) -> None:
        self.count = 0
        self.lock = switch.lock

    def run(
        self,
        policy: OnError,
        on_failure: Callable[[BaseException, Any, int | None], bool],
        subject: Any,
        func: Callable[..., Any],
        args: Sequence[Any],
        kwargs: dict[str, Any],
    ) -> None:
        """``func(*args, **kwargs)`` under ``policy``; a failure goes to ``on_failure``.

        ``on_failure(error, subject, streak)`` counts and logs it (``streak``
        under ``disable``, else None) and says whether the plugin was switched off.
        """
        try:
            func(*args, **kwargs)
        except Exception as exc:
            if not policy.goes_on:
                raise
            with self.lock:
                self.count += 1
                count = self.count
            if on_failure(exc, subject, count if policy.disables else None):
                self.count = 0  # switched off: enabled again, it starts afresh
        else:
            self.count = 0


# Per plugin (its switch), per deferred call's key: found at weave time, not per call.
_streaks: weakref.WeakKeyDictionary[Switch, dict[str, Streak]] = weakref.WeakKeyDictionary()


def streak_of(switch: Switch, key: str) -> Streak:
    """The plugin's streak for the deferred call ``key`` (``"after_commit:notify"``)."""
    by_name = _streaks.setdefault(switch, {})
    return by_name.setdefault(key, Streak(switch))


def deferring(
    advice: PlannedAdvice,
    on_failure: Callable[[BaseException, Any, int | None], bool],
    scheduler: extensions.Scheduler,
) -> PlannedAdvice:
    """``advice`` (commit-aware) as an ``after`` advice that schedules the real call.

    The dispatchers resolve its parameters at the write as for any ``after``
    advice, plus the subject and the model (hidden keywords); the returned
    function hands ``func(*args, **kwargs)`` to ``scheduler`` (the model's, decided at weave
    time: a deferred call looks nothing up).  ``on_failure``
    applies the ``log`` / ``disable`` policies when the deferred call raises,
    given the advice's streak; it says whether the plugin was switched off.
    """
    if advice.is_async:
        raise WeavingError(
            f"plugin {advice.aspect.name!r}: {advice.kind.value} advice {advice.spec.name!r} "
            "is 'async def', but it runs when the transaction ends, outside the call; "
            "make it a plain 'def' (start a task from it if it must await)"
        )
    func = advice.func
    rollback = advice.kind is Kind.AFTER_ROLLBACK
    aspect = advice.aspect
    policy = policy_of(aspect)

    run = streak_of(aspect.switch, f"{advice.kind.value}:{advice.spec.name}").run

    @functools.wraps(func)
    def schedule(*args: Any, **kwargs: Any) -> None:
        subject = kwargs.pop(_SUBJECT)
        model = kwargs.pop(_MODEL)
        call = functools.partial(run, policy, on_failure, subject, func, args, kwargs)
        if rollback:
            scheduler(model, subject, None, call)
        else:
            scheduler(model, subject, call, None)

    kw = inspect.Parameter.KEYWORD_ONLY
    hidden = (Param(_SUBJECT, kw, Source.INSTANCE), Param(_MODEL, kw, Source.MODEL))
    # Before a **kwargs parameter, if any, so the call stays well-formed.
    params = tuple(p for p in advice.params if p.source is not Source.VARKW)
    params += hidden + tuple(p for p in advice.params if p.source is Source.VARKW)
    return dataclasses.replace(advice, func=schedule, params=params, is_async=False)
