"""Whose work is this? The advice running the caller's code, for debugging tools.

A tool that attributes work to a plugin (the debug-toolbar panel counts the SQL queries each advice
runs) asks [`running_advice`][earnorm_aop.weaving.attribution.running_advice] from inside that work.
It reads the interpreted dispatcher's frames on the stack, so it sees only calls that take the
interpreted chain: inside ``trace()`` or while metrics are on.  It walks the stack: for debugging,
never for a hot path.
"""

from __future__ import annotations

import inspect
import sys

from . import interpreted
from .advice import PlannedAdvice

__all__ = ["running_advice"]

_GLOBALS = vars(interpreted)
_INVOKERS = frozenset({interpreted._invoke.__code__, interpreted._ainvoke.__code__})
# proceed() of a sync around advice (the function nested in ``around``), and the
# coroutine an async target's proceed() hands back.
_PROCEEDS = frozenset(
    {
        *(
            c
            for c in interpreted._Interpreter.around.__code__.co_consts
            if inspect.iscode(c) and c.co_name == "proceed"
        ),
        interpreted._proceeding.__code__,
    }
)


def running_advice() -> tuple[str, int] | None:
    """The advice whose work the caller's code is, as ``(plugin.advice, call number)``, or None.

    For a debugging tool that attributes work (a SQL query) to a plugin.  The
    caller's stack is walked outwards: an advice being invoked (``_invoke``,
    ``_ainvoke``) is the one doing the work, unless the walk came through a
    ``proceed()`` on the way, which means the work is the original method's
    (an ``around`` advice called it), and the walk goes on past that advice.
    So a woven call that an advice makes (a soft delete's save) is that
    advice's work, down to its queries.  Only calls that take the interpreted
    chain (inside ``trace()``, while metrics are on) are seen; the number is
    the call's ``TraceRecord.call``.  Walks the stack: for debugging only.
    """
    frame = sys._getframe(1)
    through_proceed = False
    while frame is not None:
        if frame.f_globals is _GLOBALS:
            code = frame.f_code
            if code in _PROCEEDS:
                through_proceed = True
            elif code in _INVOKERS:
                if not through_proceed:
                    advice: PlannedAdvice = frame.f_locals["advice"]
                    call: interpreted._Call = frame.f_locals["call"]
                    return advice.label, call.number
                through_proceed = False  # the around advice whose proceed() ran the original
        frame = frame.f_back  # type: ignore[assignment]
    return None
