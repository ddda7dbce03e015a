"""The session a woven call runs for (flush or statement), for adapter methods that need it.

Adapter methods receive a model and values, not a session; the audit
``table`` sink writes its row in the session of the write it records, and
commit-aware work is queued on that session's transaction.  The listeners set
this for the calls they make.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["SESSION"]

SESSION: ContextVar[Any] = ContextVar("earnorm_aop_sqlalchemy_session", default=None)
