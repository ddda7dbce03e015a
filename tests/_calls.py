"""Count the Python function calls one operation makes, as SQLAlchemy's profiling tests do.

A timing drifts with the machine's load; the number of Python-level calls an
operation makes does not, so a test pins a hot path by that number
(``sys.setprofile`` sees every ``call`` event of a Python frame; calls into C
are not counted).  A change that adds work per call fails the test and says
which functions it added.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any


def calls(operation: Callable[[], Any]) -> Counter[str]:
    """The Python functions ``operation()`` calls, as ``module:function`` -> how many times."""
    seen: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            where = frame.f_globals.get("__name__") or code.co_filename
            seen[f"{where}:{code.co_name}"] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        operation()
    finally:
        sys.setprofile(previous)
    # The profile function sees its own frame leave, and operation() itself.
    seen.pop(f"{__name__}:<lambda>", None)
    return seen


def ours(counted: Counter[str]) -> Counter[str]:
    """Only the calls into earnorm_aop (generated dispatchers included)."""
    return Counter(
        {
            name: n
            for name, n in counted.items()
            if name.startswith("earnorm_aop") or name.startswith("<earnorm_aop")
        }
    )
