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
the package is wired.  Without one, there is no transaction: ``after_commit`` runs at once and
``after_rollback`` never.

A commit-aware advice that raises when it finally runs follows its plugin's
``on_error`` policy: ``"log"`` / ``"disable"`` count and log the failure;
``"raise"`` lets the exception propagate from wherever the scheduler runs it
(the ``atomic`` block's exit on Django, after the data is committed).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import WeavingError
from . import extensions
from .advice import Param, PlannedAdvice, Source
from .pointcut import Kind
from .policy import policy_of

__all__ = ["COMMIT_KINDS", "defer", "deferring"]

COMMIT_KINDS = frozenset({Kind.AFTER_COMMIT, Kind.AFTER_ROLLBACK})


def defer(
    model: type,
    subject: Any,
    on_commit: Callable[[], None] | None = None,
    on_rollback: Callable[[], None] | None = None,
) -> None:
    """Run ``on_commit`` when ``subject``'s transaction commits, ``on_rollback`` if it rolls back.

    Outside a transaction ``on_commit`` runs now and ``on_rollback`` never.
    """
    extensions.current.record.scheduler(model, subject, on_commit, on_rollback)


# The hidden keyword parameters a deferring advice receives besides the user's.
_SUBJECT = "_earnorm_subject"
_MODEL = "_earnorm_model"


def deferring(
    advice: PlannedAdvice, on_failure: Callable[[BaseException, Any], None]
) -> PlannedAdvice:
    """``advice`` (commit-aware) as an ``after`` advice that schedules the real call.

    The dispatchers resolve its parameters at the write as for any ``after``
    advice, plus the subject and the model (hidden keywords); the returned
    function hands ``func(*args, **kwargs)`` to the scheduler.  ``on_failure``
    applies the ``log`` / ``disable`` policies when the deferred call raises.
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

    def run(subject: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        policy.run(aspect, lambda: func(*args, **kwargs), lambda exc: on_failure(exc, subject))

    @functools.wraps(func)
    def schedule(*args: Any, **kwargs: Any) -> None:
        subject = kwargs.pop(_SUBJECT)
        model = kwargs.pop(_MODEL)
        call = functools.partial(run, subject, args, kwargs)
        if rollback:
            defer(model, subject, None, call)
        else:
            defer(model, subject, call, None)

    kw = inspect.Parameter.KEYWORD_ONLY
    hidden = (Param(_SUBJECT, kw, Source.INSTANCE), Param(_MODEL, kw, Source.MODEL))
    # Before a **kwargs parameter, if any, so the call stays well-formed.
    params = tuple(p for p in advice.params if p.source is not Source.VARKW)
    params += hidden + tuple(p for p in advice.params if p.source is Source.VARKW)
    return dataclasses.replace(advice, func=schedule, params=params, is_async=False)
